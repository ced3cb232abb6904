"""axe-core (npm ``axe-core@4.14.1``, vendored as ``vendor/axe-core-4.14.1.min.js``, MPL-2.0)
run inside the page under test.

The source is evaluated through the DevTools protocol (``page.evaluate``), which the page's
Content-Security-Policy does not govern, so the app's strict CSP stays as it is in
production (a ``<script>`` tag would be refused by ``script-src 'self'``).
"""

from __future__ import annotations

from pathlib import Path

AXE_VERSION = "4.14.1"
AXE_FILE = Path(__file__).parent / "vendor" / f"axe-core-{AXE_VERSION}.min.js"
FAILING = ("serious", "critical")

_RUN = """async (impacts) => {
  const result = await window.axe.run(document, {resultTypes: ["violations"]});
  return result.violations.filter((v) => impacts.includes(v.impact)).map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map((n) => n.target.join(" ") + " :: " + (n.failureSummary || "").split("\\n").slice(1, 2).join(""))
  }));
}"""


def axe_violations(page, impacts=FAILING) -> list[dict]:
    """Serious and critical axe-core violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # A plain expression string runs as a script in the page's main world.
        page.evaluate(AXE_FILE.read_text(encoding="utf-8") + "\n;0")
    return page.evaluate(_RUN, list(impacts))
