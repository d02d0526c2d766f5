"""Open a real report in headless Chromium: no console errors, every image loaded; keep a screenshot."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from optlab.experiments.runner import plan_lecture, run_lecture
from optlab.report import render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Appended to a copy of the page only (the report itself has no scripts): after load, write what we check into
# the DOM, which --dump-dom prints.
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(String(e.message || e.target.src || e)), true);
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src"));
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = "PROBE images=" + imgs.length + " broken=" + JSON.stringify(bad) +
                    " errors=" + JSON.stringify(window.__errors) + " END";
  document.body.appendChild(out);
});
</script>"""


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--hide-scrollbars",
    ]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_report_loads_in_chromium(tmp_path):
    out = tmp_path / "report"
    run_lecture(plan_lecture("smoke", out, only="S1,S6", workers=1))
    page = render(out)
    probe_page = out / "probe.html"
    probe_page.write_text(page.read_text().replace("</body>", PROBE + "</body>"))

    dumped = chromium(
        "--virtual-time-budget=10000", "--dump-dom", probe_page.as_uri(), profile=tmp_path / "p1"
    )
    match = re.search(r"PROBE images=(\d+) broken=(\[.*?\]) errors=(\[.*?\]) END", dumped.stdout)
    assert match, dumped.stderr[-2000:]
    images, broken, errors = int(match.group(1)), match.group(2), match.group(3)
    assert images == 3 and broken == "[]" and errors == "[]"
    console = [line for line in dumped.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []

    shot = tmp_path / "screenshot.png"
    chromium(f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri(), profile=tmp_path / "p2")
    assert shot.exists() and shot.stat().st_size > 50_000
