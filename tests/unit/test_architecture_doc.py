"""docs/architecture.md is the map of the tree: every top-level module and package of
``portal`` is named on it (a new one without a line fails here)."""

from __future__ import annotations

from pathlib import Path

from portal.admin import FEATURES

ROOT = Path(__file__).resolve().parents[2]
NOT_CODE = {"__pycache__", "data", "static", "templates", "translations", "migrations"}


def test_the_architecture_page_names_every_module():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    names = sorted(
        p.stem
        for p in (ROOT / "portal").iterdir()
        if p.name not in NOT_CODE and (p.suffix == ".py" or p.is_dir())
    )
    missing = [n for n in names if n != "__init__" and f"{n}" not in page]
    assert missing == []


def test_the_admin_features_are_on_the_page_and_in_the_blueprint_loader():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert all(f"`portal/{name}/`" in page for name in FEATURES)
    assert all((ROOT / "portal" / name / "templates" / "admin").is_dir() for name in FEATURES)
