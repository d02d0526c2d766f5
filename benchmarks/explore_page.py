"""How live the explorer feels, measured in headless Chromium with performance.now (median of 20).

* redraw: 5 runs × 1000 updates after a slider move (the lr of every run changes a little), recomputed and
  drawn: contours (cached), paths, inner state, the loss and ‖∇f‖ charts. Target ≤ 16 ms (one frame).
* phase diagram: 40 × 40 cells × 500 updates of the selected run (Adam), each labelled. Target ≤ 1 s.

Canvas calls are timed as the page makes them; the browser rasterises afterwards, off this clock.

    .venv/bin/python benchmarks/explore_page.py
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from optlab.explore import Run, url_query, write_page

REPEATS = 20

PROBE = """<script>
(function () {
  const median = (xs) => { const s = xs.slice().sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  const E = window.OptlabExplore, state = E.state();
  const redraw = [], phase = [];
  E.recomputeAndDraw();  // warm: contours, JIT
  for (let k = 0; k < %(repeats)d; k++) {
    for (const run of state.runs) run.hp.lr = run.hp.lr * (k %% 2 ? 1.01 : 1 / 1.01);  // a slider move
    const t0 = performance.now();
    E.recomputeAndDraw();
    redraw.push(performance.now() - t0);
  }
  E.phaseDiagram(40, 500);  // warm
  for (let k = 0; k < %(repeats)d; k++) {
    const t0 = performance.now();
    E.phaseDiagram(40, 500);
    phase.push(performance.now() - t0);
  }
  const out = document.createElement("pre");
  out.id = "bench";
  out.textContent = JSON.stringify({redraw_ms: median(redraw), phase_ms: median(phase),
                                    redraw_all: redraw, phase_all: phase, ua: navigator.userAgent});
  document.body.appendChild(out);
})();
</script>"""


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed (Debian: apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="explore-bench-") as folder:
        root = Path(folder)
        page = write_page(root / "page")
        bench = page.with_name("bench.html")
        bench.write_text(page.read_text().replace("</body>", PROBE % {"repeats": REPEATS} + "</body>"))
        settings = (("adam", 0.05), ("sgd", 0.015), ("momentum", 0.005), ("rmsprop", 0.05), ("adagrad", 0.5))
        runs = [Run(name, {"lr": lr}) for name, lr in settings]
        query = url_query("quadratic", runs, steps=1000) + "&sel=0"
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
        flags += ["--disable-background-networking", f"--user-data-dir={root / 'profile'}"]
        flags += ["--window-size=1280,800", "--virtual-time-budget=120000"]
        command = [chromium, *flags, "--dump-dom", f"{bench.as_uri()}?{query}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    match = re.search(r'<pre id="bench">(.*?)</pre>', done.stdout, re.S)
    if not match:
        print(f"no result from the page: {done.stderr[-1500:]}", file=sys.stderr)
        return 1
    result = json.loads(html.unescape(match.group(1)))
    print(f"explore page in {result['ua'].split(')')[-1].strip() or 'Chromium'} (median of {REPEATS}):")
    redraw, phase = result["redraw_ms"], result["phase_ms"]
    print(f"  redraw, 5 runs × 1000 updates after a slider move: {redraw:8.2f} ms  (target ≤ 16)")
    print(f"  phase diagram, 40 × 40 × 500 updates (Adam):      {phase:8.1f} ms  (target ≤ 1000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
