"""optlab explore as a user runs it: the command, its errors, the surfaces' parsing, the page in Chromium."""

from __future__ import annotations

import html
import json
import math
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from explore_chromium import chromium, dump, needs_chromium

from optlab.errors import ConfigError
from optlab.explore import Run, expression_surface, named_surface, parse_run, url_query
from optlab.explore.contract import defaults
from optlab.explore.surfaces import LECTURE, names


def optlab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optlab", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_explore_writes_an_offline_page(tmp_path):
    done = optlab("explore", "--out", "page", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = tmp_path / "page" / "explore.html"
    assert str(page.resolve()) in done.stdout
    assets = tmp_path / "page" / "explore-assets"
    for name in ("config.js", "optim.js", "explore.js", "explore.css", "vendor/d3-contour.min.js"):
        assert (assets / name).is_file(), name
    assert (assets / "vendor" / "d3-contour.LICENSE").read_text().startswith("Copyright")
    html = page.read_text()
    # no CDN, no server: every script and style is a relative path beside the page
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert src.startswith(("explore-assets/", "data:", "#")), src
    config = (assets / "config.js").read_text()
    for name in names():
        assert f'"{name}":' in config


def test_explore_with_a_formula_opens_on_it(tmp_path):
    formula = "x**2 + 10*sin(y)**2"
    done = optlab("explore", "--out", "p", "--surface", formula, "--extent=-3,3,-2,2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    config = (tmp_path / "p" / "explore-assets" / "config.js").read_text()
    surfaces = config[config.index('"surfaces"') :]
    assert surfaces.index('"custom"') < surfaces.index('"quadratic"')  # the page opens with it
    assert "Math.sin(y)" in config


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--surface", "x**2 + foo(y)"], "unknown function 'foo'"),
        (["--surface", "x**2", "--extent", "1,2"], "four numbers"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_creates_nothing(tmp_path, args, message):
    done = optlab("explore", "--out", "page", *args, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr
    assert not (tmp_path / "page").exists()


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("x**", "cannot parse it"),
        ("x + z", "unknown name 'z'"),
        ("3", "does not depend on x or y"),
        ("__import__('os')", "use only x, y"),
        ("log(x)", "not finite at the start"),
    ],
)
def test_bad_formulas_name_the_problem(formula, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        expression_surface(formula, extent=(-1.0, 1.0, -1.0, 1.0), start=(0.0, 0.0))


def test_out_that_is_a_file_is_one_line_exit_1(tmp_path):
    (tmp_path / "taken").write_text("a file")
    done = optlab("explore", "--out", "taken", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot write the page to taken")
    assert len(done.stderr.splitlines()) == 1
    assert (tmp_path / "taken").read_text() == "a file"


def test_formula_gradient_is_sympys_derivative():
    surface = expression_surface("x**3*y + exp(-y**2)*cos(x)")
    point = torch.tensor([0.7, -0.4], dtype=torch.float64)
    value, grad = surface.value_and_grad(point)
    assert float(value) == pytest.approx(0.7**3 * -0.4 + math.exp(-0.16) * math.cos(0.7), rel=1e-14)
    x, y = 0.7, -0.4
    expected = [
        3 * x**2 * y - math.exp(-(y**2)) * math.sin(x),  # ∂f/∂x, by hand
        x**3 - 2 * y * math.exp(-(y**2)) * math.cos(x),  # ∂f/∂y
    ]
    assert torch.allclose(grad, torch.tensor(expected, dtype=torch.float64), rtol=1e-14)
    assert "Math.exp(-Math.pow(y, 2))" in surface.js


def test_lecture_surfaces_are_the_s_experiments():
    from optlab.experiments import adagrad_eruptions, momentum
    from optlab.experiments.surfaces import LECTURE_VALLEY

    assert named_surface("quadratic").start == adagrad_eruptions.START
    assert named_surface("valley").start == LECTURE_VALLEY["start"]
    assert named_surface("saddle_and_local_min").start == momentum.START
    assert LECTURE == ("quadratic", "valley", "saddle_and_local_min")


def test_contract_rejects_unknown_names_and_keywords():
    with pytest.raises(ConfigError, match="unknown optimizer 'adamm'"):
        parse_run('{"name": "adamm"}')
    with pytest.raises(ConfigError, match="unknown keyword 'beta1'"):
        parse_run({"name": "adam", "beta1": 0.9})
    with pytest.raises(ConfigError, match="not JSON"):
        parse_run("{name: adam}")
    assert "fused" not in defaults("adam") and defaults("adam")["betas"] == [0.9, 0.999]
    run = parse_run({"name": "adam", "lr": 0.1}, default_schedule={"name": "cosine", "warmup_steps": 5})
    assert run.schedule == {"name": "cosine", "warmup_steps": 5}


@needs_chromium
def test_page_loads_with_no_console_errors(explore_page: Path, tmp_path: Path):
    """The interactive page on each lecture surface at desktop width, one at phone width, and a URL with
    five more optimizers: no console errors, every run labelled."""
    cases = [(1280, f"surface={name}") for name in LECTURE]
    cases.append((390, "surface=valley"))
    more = [Run(name, {}) for name in ("sgd", "adam", "lars", "lamb", "radam")]
    cases.append((1280, url_query("rosenbrock", more)))

    def load(k: int) -> tuple[str, str]:
        width, query = cases[k]
        done = chromium(
            f"--window-size={width},900",
            "--virtual-time-budget=3000",
            "--dump-dom",
            f"{explore_page.as_uri()}?{query}",
            profile=tmp_path / f"p{k}",
        )
        return done.stdout, done.stderr

    with ThreadPoolExecutor(max_workers=3) as pool:
        loaded = list(pool.map(load, range(len(cases))))
    for (_, query), (dom, log) in zip(cases, loaded, strict=True):
        console = [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]
        assert console == [], (query, console)
        labels = re.findall(r'class="label (converges|oscillates|diverges|stalls|error)"', dom)
        assert labels and "error" not in labels, (query, labels)


# Appended to a copy of the page: drive the controls as a person would (events on the real elements), then
# write what changed into the DOM for --dump-dom.
DRIVE = """<script>
window.__errors = [];
window.addEventListener("error", (e) => window.__errors.push(String(e.message)));
window.addEventListener("load", () => {
  const E = window.OptlabExplore, S = () => E.state(), out = {};
  const fire = (el, type) => el.dispatchEvent(new Event(type, {bubbles: true}));
  const pointer = (el, type, x, y) => el.dispatchEvent(new PointerEvent(type, {bubbles: true, clientX: x,
    clientY: y, pointerId: 1}));
  const lr0 = S().runs[0].hp.lr;
  const range = document.querySelector("#runs input[type=range]");
  range.value = Number(range.value) - 1;  // η slider one decade down
  fire(range, "input");
  out.slider = [lr0, S().runs[0].hp.lr];
  const canvas = document.getElementById("plot"), plot = canvas.getBoundingClientRect();
  const x0 = S().x0, px = plot.left + plot.width * 0.6, py = plot.top + plot.height * 0.3;
  pointer(canvas, "pointerdown", px, py);
  pointer(canvas, "pointerup", px, py);
  out.drag = [x0, S().x0];
  document.getElementById("reset").click();
  out.reset = S().t;
  document.getElementById("stepbtn").click();
  document.getElementById("stepbtn").click();
  out.step = S().t;
  const phase = document.getElementById("phase");
  const box = phase.getBoundingClientRect();
  const before = JSON.stringify(S().runs[S().sel].hp);
  phase.dispatchEvent(new MouseEvent("click", {bubbles: true, clientX: box.left + box.width * 0.8,
    clientY: box.top + box.height * 0.3}));
  out.phase = [before, JSON.stringify(S().runs[S().sel].hp)];
  const runs = S().runs.length;
  document.getElementById("addrun").click();
  out.add = [runs, S().runs.length];
  const select = document.getElementById("surface");
  select.value = "rosenbrock";
  fire(select, "change");
  out.surface = S().surface;
  document.getElementById("reset").click();
  document.getElementById("play").click();  // plays on animation frames
  setTimeout(() => {
    out.played = [S().t, S().steps];
    out.url = location.search;
    out.errors = window.__errors;
    const pre = document.createElement("pre");
    pre.id = "probe";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }, 600);
});
</script>"""


@needs_chromium
def test_controls_change_the_state_and_the_url(explore_page: Path, tmp_path: Path):
    probe = explore_page.with_name("drive.html")
    probe.write_text(explore_page.read_text().replace("</body>", DRIVE + "</body>"))
    done = chromium(
        "--window-size=1280,900",
        "--virtual-time-budget=5000",
        "--dump-dom",
        f"{probe.as_uri()}?surface=quadratic",
        profile=tmp_path / "p",
    )
    match = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert match, done.stderr[-2000:]
    out = json.loads(html.unescape(match.group(1)))
    assert out["errors"] == []
    lr_before, lr_after = out["slider"]
    assert lr_after == pytest.approx(lr_before / 10, rel=0.02)  # the η slider is logarithmic
    assert out["drag"][1] != out["drag"][0]  # the start moved where the pointer went
    assert out["reset"] == 0 and out["step"] == 2
    assert out["phase"][0] != out["phase"][1]  # a click on the phase diagram set the sliders
    assert out["add"][1] == out["add"][0] + 1
    assert out["surface"] == "rosenbrock"
    assert 0 < out["played"][0] <= out["played"][1]  # play advanced the frame
    assert "surface=rosenbrock" in out["url"] and "opt=" in out["url"]  # the state is in the URL


@needs_chromium
def test_a_bad_url_dumps_one_error(explore_page: Path, tmp_path: Path):
    valid = "custom, quadratic, valley, saddle_and_local_min, rosenbrock, saddle"
    assert dump(explore_page, "surface=moon&dump=1", tmp_path / "p") == {
        "error": f"unknown surface 'moon'; valid: {valid}"
    }
    assert "not a number" in dump(explore_page, "x0=abc&dump=1", tmp_path / "q")["error"]
