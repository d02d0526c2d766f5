"""The page's update rules and schedules equal optlab.optim / optlab.schedules, in a real headless Chromium.

For every registry optimizer with the lecture's forms (SGD ``form="lecture"``, Adagrad ``average=True``,
RMSProp ``init="first_grad"``) × {constant lr, linear warm-up + cosine} × every surface the page ships (the
three lecture surfaces, Rosenbrock, the saddle and a user formula through SymPy), and the optimizers' other
branches (weight decay, dampening, centered RMSProp, AMSGrad, …) on the quadratic: 1000 float64 updates in the
page and in Python; along the whole trajectory max |θ_page − θ_python| ≤ 1e-9 · max(|θ_python|, 1).

Settings converge or oscillate stably. Not chaotic ones, where round-off alone separates two runs of the same
code: e.g. LARS and LAMB take steps of a fixed fraction of ‖θ‖, so with a constant lr they bounce chaotically
around a minimum away from the origin; there the lr is small enough that 1000 updates do not get there.

The mutation test changes one constant in the page's Adam and requires the comparison to fail.
"""

from __future__ import annotations

import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from explore_chromium import CUSTOM, dump, dump_many, needs_chromium

from optlab import optim
from optlab.explore import Run, named_surface, python_runs, url_query
from optlab.explore.surfaces import expression_surface

STEPS = 1000
TOLERANCE = 1e-9
WARMUP = {"name": "cosine", "warmup_steps": 100}
BRANCHES = "quadratic"  # the surface that also runs the optimizers' other branches

#: per surface: lr for the SGD family, for the adaptive methods, for LARS and for LAMB (stable settings)
SETTINGS: dict[str, dict[str, float]] = {
    "quadratic": {"sgd": 0.015, "adaptive": 0.05, "lars": 10.0, "lamb": 0.01},
    "valley": {"sgd": 1e-4, "adaptive": 0.5, "lars": 10.0, "lamb": 0.05},
    "saddle_and_local_min": {"sgd": 0.01, "adaptive": 0.01, "lars": 1.0, "lamb": 0.01},
    "rosenbrock": {"sgd": 2e-4, "adaptive": 0.01, "rmsprop": 1e-3, "radam": 2e-4, "lars": 1.0, "lamb": 0.01},
    "saddle": {"sgd": 0.05, "adaptive": 0.02, "lars": 0.5, "lamb": 1e-3},
    "custom": {"sgd": 0.05, "adaptive": 0.02, "lars": 0.2, "lamb": 1e-3},
}


def runs_for(lr: dict[str, float], branches: bool = False) -> list[Run]:
    """Every registry optimizer with the lecture's forms; ``branches`` adds weight decay, dampening,
    centered RMSProp with momentum, AMSGrad and RAdam's decoupled decay (run on one surface: the test's
    cost is the Python side's ~0.3 ms per update)."""
    s, a = lr["sgd"], lr["adaptive"]
    specs: list[tuple[str, dict[str, Any]]] = [
        ("sgd", {"lr": s}),
        ("momentum", {"lr": s}),
        ("momentum", {"lr": s, "form": "lecture"}),
        ("nesterov", {"lr": s / 2}),
        ("adagrad", {"lr": a}),
        ("adagrad", {"lr": a, "average": True}),
        ("rmsprop", {"lr": lr.get("rmsprop", a)}),
        ("rmsprop", {"lr": lr.get("rmsprop", a), "init": "first_grad"}),
        ("adam", {"lr": a}),
        ("adamw", {"lr": a}),
        ("radam", {"lr": lr.get("radam", a)}),
        ("lars", {"lr": lr["lars"]}),
        ("lamb", {"lr": lr["lamb"]}),
    ]
    if branches:
        specs += [
            ("momentum", {"lr": s, "dampening": 0.1, "weight_decay": 1e-3}),
            ("adagrad", {"lr": a, "lr_decay": 1e-3, "initial_accumulator_value": 0.1}),
            ("rmsprop", {"lr": a, "centered": True, "momentum": 0.5, "weight_decay": 1e-3}),
            ("adam", {"lr": a, "amsgrad": True, "weight_decay": 1e-3}),
            ("radam", {"lr": a, "weight_decay": 1e-3, "decoupled_weight_decay": True}),
            ("lars", {"lr": lr["lars"], "weight_decay": 1e-4}),
            ("lamb", {"lr": lr["lamb"], "weight_decay": 1e-3}),
        ]
    return [Run(name, hp) for name, hp in specs]


def test_every_registry_optimizer_is_covered():
    covered = {run.name for run in runs_for(SETTINGS["valley"])}
    assert covered == set(optim.names())


def _surface(name: str):
    if name == "custom":
        return expression_surface(CUSTOM, extent=(-2.0, 2.0, -1.5, 1.5), start=(-1.6, 1.2))
    return named_surface(name)


def max_relative_difference(page_run: dict[str, Any], python_run: dict[str, Any]) -> float:
    """max over the trajectory of |θ_page − θ_python| / max(|θ_python|, 1), per coordinate."""
    assert "error" not in page_run, page_run.get("error")
    ours = np.asarray(page_run["trajectory"], dtype=np.float64)
    theirs = np.asarray(python_run["trajectory"], dtype=np.float64)
    assert ours.shape == theirs.shape == (STEPS + 1, 2)
    return float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1.0)))


def _cases() -> list[tuple[str, dict[str, Any] | None]]:
    return [(surface, schedule) for surface in SETTINGS for schedule in (None, WARMUP)]


def _runs(surface: str) -> list[Run]:
    return runs_for(SETTINGS[surface], branches=surface == BRANCHES)


@pytest.fixture(scope="module")
def compared(explore_page: Path) -> list[dict[str, Any]]:
    """Each case: the page's dump (Chromium, in threads) and Python's runs (computed meanwhile)."""
    cases = _cases()
    queries = []
    for surface, schedule in cases:
        runs = _runs(surface)
        queries.append(url_query(surface, runs, steps=STEPS, schedule=schedule, dump=True))
    with ThreadPoolExecutor(max_workers=1) as pool:
        pages = pool.submit(dump_many, explore_page, queries)
        python = []
        for surface, schedule in cases:
            s = _surface(surface)
            runs = [Run(r.name, r.hparams, schedule) for r in _runs(surface)]
            python.append(python_runs(s, s.start, STEPS, runs))
        page_dumps = pages.result()
    return [
        {"surface": surface, "schedule": schedule, "page": page, "python": py}
        for (surface, schedule), page, py in zip(cases, page_dumps, python, strict=True)
    ]


@needs_chromium
@pytest.mark.slow
def test_settings_are_stable_not_divergent(compared):
    for case in compared:
        surface = _surface(case["surface"])
        x0, x1, y0, y1 = surface.extent
        width = max(x1 - x0, y1 - y0)
        for run in case["python"]["runs"]:
            points = np.asarray(run["trajectory"])
            assert np.isfinite(points).all(), (case["surface"], run["name"], run["hparams"])
            assert np.abs(points).max() <= 10 * width + max(abs(v) for v in surface.extent), (
                case["surface"],
                run["name"],
            )


@needs_chromium
@pytest.mark.slow
def test_page_equals_python_for_every_optimizer_schedule_and_surface(compared, capsys):
    worst = 0.0
    failures = []
    for case in compared:
        assert case["page"]["surface"] == case["surface"]
        for page_run, python_run in zip(case["page"]["runs"], case["python"]["runs"], strict=True):
            assert page_run["name"] == python_run["name"]
            assert page_run["hparams"] == python_run["hparams"]
            difference = max_relative_difference(page_run, python_run)
            worst = max(worst, difference)
            if not difference <= TOLERANCE:
                schedule = "warm-up" if case["schedule"] else "constant"
                failures.append(f"{case['surface']}/{schedule}/{python_run['name']} {python_run['hparams']}: "
                                f"{difference:.3g}")  # fmt: skip
    count = sum(len(c["python"]["runs"]) for c in compared)
    with capsys.disabled():
        print(f"\nexplore equality: {count} runs × {STEPS} updates, max relative difference {worst:.3g}")
    assert failures == []


@needs_chromium
def test_mutated_adam_fails_the_comparison(explore_page: Path, tmp_path: Path):
    """One changed constant in the page's Adam (√ of the bias correction → power 0.51) must be caught."""
    copy = tmp_path / "mutant"
    shutil.copytree(explore_page.parent, copy)
    script = copy / "explore-assets" / "optim.js"
    source = script.read_text()
    start, end = source.index("function Adam("), source.index("function RAdam(")
    adam = source[start:end]
    mutated = adam.replace("Math.pow(biasCorrection2, 0.5)", "Math.pow(biasCorrection2, 0.51)")
    assert mutated.count("0.51") == 1
    script.write_text(source[:start] + mutated + source[end:])

    surface = named_surface("quadratic")
    runs = [Run("adam", {"lr": 0.05}), Run("sgd", {"lr": 0.015})]
    page = dump(copy / "explore.html", url_query("quadratic", runs, steps=STEPS, dump=True), tmp_path / "p")
    python = python_runs(surface, surface.start, STEPS, runs)
    adam_difference = max_relative_difference(page["runs"][0], python["runs"][0])
    sgd_difference = max_relative_difference(page["runs"][1], python["runs"][1])
    assert adam_difference > TOLERANCE  # the mutant is caught …
    assert sgd_difference <= TOLERANCE  # … and only where it is


@needs_chromium
def test_bad_url_input_shows_one_error_and_no_run(explore_page: Path, tmp_path: Path):
    query = url_query("quadratic", [Run("adam", {"lr": 0.1, "bogus": 1})], steps=10, dump=True)
    page = dump(explore_page, query, tmp_path / "p")
    (run,) = page["runs"]
    assert "trajectory" not in run
    assert re.search(r"unknown keyword 'bogus'", run["error"])
    assert json.dumps(run["hparams"]) == '{"lr": 0.1, "bogus": 1}'


#: every registry schedule (with a warm-up where it takes one) on SGD: the lr sequence decides the path
SCHEDULES: list[dict[str, Any]] = [
    {"name": "constant", "warmup_steps": 50},
    {"name": "step", "warmup_steps": 20},
    {"name": "multistep", "milestones": [300, 700], "gamma": 0.5},
    {"name": "exponential"},
    {"name": "inverse_time", "power": 0.7, "warmup_steps": 10},
    {"name": "cosine", "final_lr": 0.001},
    {"name": "transformer", "warmup_steps": 100, "d_model": 64},
    {"name": "wsd", "warmup_steps": 50, "decay_fraction": 0.25},
    {"name": "wsd", "decay_fraction": 0.3, "shape": "1-sqrt", "final_lr": 0.001},
    {"name": "one_cycle"},
    {"name": "one_cycle", "pct_start": 0.25, "anneal": "linear", "div_factor": 1e4, "final_div_factor": 1e4},
]


def test_every_registry_schedule_is_covered():
    from optlab import schedules

    assert {s["name"] for s in SCHEDULES} == set(schedules.names())


@needs_chromium
def test_page_equals_python_for_every_schedule(explore_page: Path, tmp_path: Path):
    surface = named_surface("quadratic")
    runs = [Run("sgd", {"lr": 0.015}, schedule) for schedule in SCHEDULES]
    runs.append(Run("momentum", {"lr": 0.005, "form": "lecture"}, {"name": "step", "step_size": 100}))
    page = dump(explore_page, url_query("quadratic", runs, steps=STEPS, dump=True), tmp_path / "p")
    python = python_runs(surface, surface.start, STEPS, runs)
    for page_run, python_run in zip(page["runs"], python["runs"], strict=True):
        assert max_relative_difference(page_run, python_run) <= TOLERANCE, python_run["schedule"]
