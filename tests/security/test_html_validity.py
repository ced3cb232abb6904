"""Every page, dialog and fragment passes the Nu HTML checker (vnu.jar from npm, pinned in
tools/vnu/package-lock.json, run with the machine's Java) without errors.

The pages are collected in-process (tests/security/html_pages.py: every GET route as every
role, both languages, plain and htmx, the forms' error states and the dialogs), written to
a folder and checked by one run of vnu (one JVM start)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from .html_pages import collect

ROOT = Path(__file__).resolve().parents[2]
VNU_DIR = ROOT / "tools" / "vnu"
VNU_JAR = VNU_DIR / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def vnu_jar() -> Path:
    """The checker, installed from the lock file if it is not there yet (CI runs the same
    `npm ci` in .ci/run)."""
    if not VNU_JAR.exists():
        subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=VNU_DIR,
            check=True,
            capture_output=True,
        )
    assert shutil.which("java"), "the Nu HTML checker needs Java (apt-get install default-jre)"
    return VNU_JAR


def test_every_page_is_valid_html(app, tmp_path):
    pages = collect(app)
    assert len(pages) > 100, f"only {len(pages)} pages collected"
    folder = tmp_path / "pages"
    folder.mkdir()
    for name, body in pages.items():
        (folder / f"{name}.html").write_text(body)
    result = subprocess.run(
        [
            "java",
            "-Xss4m",
            "-jar",
            str(vnu_jar()),
            "--errors-only",
            "--format",
            "json",
            "--exit-zero-always",
            str(folder),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(result.stderr or result.stdout)["messages"]
    errors = [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine', '?')}: {m['message']}"
        f"\n    {m.get('extract', '').strip()}"
        for m in messages
        if m.get("type") in ("error", "non-document-error") or m.get("subType") == "fatal"
    ]
    assert not errors, f"{len(errors)} HTML error(s) in {len(pages)} pages:\n" + "\n".join(errors)


BARE_HX = re.compile(r"""(?<=[\s"'{,])hx-(?=[a-z])""")


def test_templates_write_htmx_attributes_as_data_hx():
    """``hx-get`` is not valid HTML; htmx reads ``data-hx-get`` too ("prefix" in base.html's
    htmx-config). Fix a template with:
    perl -pi -e 's/(?<=[\\s"\\x27{,])hx-(?=[a-z])/data-hx-/g' FILE"""
    portal = ROOT / "portal"
    bare = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in portal.rglob("templates/**/*.html")
        if "email" not in path.parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if BARE_HX.search(line.replace("data-hx-", ""))
    ]
    assert not bare, "bare hx-* attributes:\n" + "\n".join(bare)
