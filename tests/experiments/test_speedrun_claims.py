"""R1–R2, the speed run in the lecture: verdicts from numbers (each check must be able to fail), the
experiment end to end in the smoke profile, and the runner running a TIMED experiment alone, last."""

from __future__ import annotations

import json

import pytest

from optlab.experiments import runner
from optlab.experiments import speedrun as r1
from optlab.experiments.framework import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED


def _run(dataset, accuracy, seconds, target):
    return {
        "dataset": dataset, "recipe": dataset, "target": target, "seeds": list(range(len(accuracy))),
        "accuracy": accuracy, "train_seconds": seconds, "steps": [160] * len(accuracy), "threads": 2,
        "device": "CPU", "load_seconds": 1.0, "warmup_seconds": 0.1, "load_average": [[0.1] * 3, [0.9] * 3],
    }  # fmt: skip


def _verdicts(*runs):
    return {r.claim_id: r for r in r1.verdict([{"runs": list(runs)}])}


GOOD_1D = _run("mnist1d", [0.95, 0.948, 0.952, 0.945, 0.951], [0.66, 0.7, 0.62, 0.65, 0.69], 0.94)
GOOD_FASHION = _run(
    "fashion-mnist", [0.913, 0.917, 0.915, 0.912, 0.918], [18.5, 19.0, 18.2, 19.4, 18.8], 0.91
)


def test_both_reproduced_when_targets_and_budgets_hold():
    verdicts = _verdicts(GOOD_1D, GOOD_FASHION)
    assert verdicts["R1"].outcome == verdicts["R2"].outcome == REPRODUCED
    assert verdicts["R2"].numbers["accuracy"]["mean"] == pytest.approx(0.915)
    assert verdicts["R2"].numbers["budget_seconds"] == 30.0
    assert verdicts["R1"].numbers["load_average_before_after"] == [[0.1] * 3, [0.9] * 3]


def test_fails_below_the_target_even_by_a_little():
    low = _run("fashion-mnist", [0.909, 0.911, 0.908, 0.910, 0.909], [18.0] * 5, 0.91)
    verdict = _verdicts(GOOD_1D, low)["R2"]
    assert verdict.outcome == NOT_REPRODUCED
    assert verdict.checks == {"mean accuracy ≥ target": False, "mean training time ≤ 30 s": True}


def test_fails_over_the_time_budget():
    slow_1d = _run("mnist1d", GOOD_1D["accuracy"], [2.1, 2.3, 1.9, 2.2, 2.0], 0.94)
    slow_fashion = _run("fashion-mnist", GOOD_FASHION["accuracy"], [29.0, 31.0, 30.5, 30.8, 29.9], 0.91)
    verdicts = _verdicts(slow_1d, slow_fashion)
    assert verdicts["R1"].outcome == verdicts["R2"].outcome == NOT_REPRODUCED
    assert verdicts["R2"].checks["mean training time ≤ 30 s"] is False
    assert verdicts["R1"].checks["mean accuracy ≥ target"] is True


def test_too_few_seeds_or_no_run_decide_nothing():
    one_seed = _run("mnist1d", [0.99], [0.5], 0.94)
    verdicts = _verdicts(one_seed)
    assert verdicts["R1"].outcome == INCONCLUSIVE and "seed" in verdicts["R1"].note
    assert verdicts["R2"].outcome == INCONCLUSIVE and "full only" in verdicts["R2"].note


@pytest.mark.slow
def test_smoke_run_writes_the_measurements_and_the_learning_curve(tmp_path):
    measurements = r1.run("smoke", tmp_path, seed=3)
    (run_,) = measurements["runs"]
    assert run_["dataset"] == "mnist1d" and run_["seeds"] == [3] and len(run_["accuracy"]) == 1
    assert run_["train_seconds"][0] > 0 and 0.5 < run_["accuracy"][0] <= 1
    assert (tmp_path / run_["figure"]).stat().st_size > 10_000
    assert json.loads((tmp_path / "mnist1d" / "speedrun.json").read_text())["accuracy"] == run_["accuracy"]
    (figure,) = measurements["figures"]
    assert figure["claims"] == ["R1"] and figure["file"] == "mnist1d/speedrun.png"


def test_a_timed_experiment_runs_alone_after_every_other_job(tmp_path, monkeypatch):
    calls = []

    def fake_job(experiment_id, profile, seed, out_dir, sweep=None):
        calls.append(experiment_id)
        return runner.JobResult(experiment_id, seed, 0.0, "not run (test)")

    monkeypatch.setattr(runner, "run_job", fake_job)
    plan = runner.plan_lecture("full", tmp_path, only="R1,S1,S4", workers=1)
    assert plan.pending[0][0] == "R1"  # the dearest job comes first in the plan …
    runner.run_lecture(plan)
    assert calls[-1] == "R1" and sorted(calls[:-1]) == ["S1", "S4"]  # … but runs alone, last
    # the estimate adds a timed job's cost after the workers' share instead of into it
    two = runner.estimate(runner.plan_lecture("full", tmp_path / "2", only="R1,S1,S4", workers=2))
    costs = {e: runner.registry.load(e).PROFILES["full"].seconds for e in ("R1", "S1", "S4")}
    assert two.wall_seconds == pytest.approx(max(costs["S1"], costs["S4"]) + costs["R1"])
