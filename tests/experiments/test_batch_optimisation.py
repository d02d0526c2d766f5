"""B3 (smaller batches optimise better): verdicts on made-up accuracies, aggregation, divergence, smoke."""

from __future__ import annotations

import json

import pytest

from optlab import data
from optlab.errors import ConfigError
from optlab.experiments import batch_optimisation as b3
from optlab.experiments.framework import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, ProfileRow, SweepPlan
from optlab.experiments.runner import plan_lecture, run_job, run_lecture

SIZES = (8, 32, 128, 512, 2048)


def _run(train_accs, val_accs=None, seed=0, lr=0.3):
    """One seed's measurements with the given final accuracies per batch size."""
    val_accs = val_accs or train_accs
    runs = [
        {"seed": seed, "batch_size": b, "lr": lr, "diverged": False, "train_loss": 1 - a, "train_acc": a,
         "val_loss": 1 - v, "val_acc": v}
        for b, a, v in zip(SIZES, train_accs, val_accs, strict=True)
    ]  # fmt: skip
    entry = {"dataset": "mnist1d", "epochs": 5, "batch_sizes": list(SIZES),
             "lr_grid": [0.03, 0.1, 0.3, 1.0, 3.0], "chosen_lr": {str(b): lr for b in SIZES}, "grid": runs,
             "runs": runs}  # fmt: skip
    return {"seed": seed, "datasets": {"mnist1d": entry}, "missing_datasets": {}}


def _verdict(runs):
    return b3.verdict(json.loads(json.dumps(runs)))[0]


def test_reproduced_when_accuracy_falls_with_batch_size_beyond_the_noise():
    runs = [
        _run([0.70 + d, 0.60 + d, 0.50 + d, 0.35 + d, 0.25 + d], seed=s)
        for s, d in enumerate((0, 0.01, -0.01))
    ]
    result = _verdict(runs)
    assert result.outcome == REPRODUCED
    assert result.n == 3
    assert result.numbers["mnist1d: train acc gap B=8 − B=2048"] == pytest.approx(0.45)


def test_not_reproduced_when_accuracy_does_not_depend_on_batch_size():
    runs = [_run([0.6, 0.61, 0.6, 0.59, 0.6], seed=s) for s in range(3)]
    assert _verdict(runs).outcome == NOT_REPRODUCED


def test_not_reproduced_when_the_gap_is_within_the_seed_spread():
    # Monotone means, but the seeds scatter by ±0.1: a 3-point gap says nothing.
    runs = [_run([0.63 + d, 0.62 + d, 0.61 + d, 0.605 + d, 0.60 + d], seed=s)
            for s, d in enumerate((0.1, 0.0, -0.1))]  # fmt: skip
    result = _verdict(runs)
    assert result.checks["mnist1d: Spearman(B, train acc) ≤ −0.8"] is True
    assert result.checks["mnist1d: gap > 2 points and > 2·std"] is False
    assert result.outcome == NOT_REPRODUCED


def test_not_reproduced_when_larger_batches_do_better():
    runs = [_run([0.3, 0.4, 0.5, 0.6, 0.7], seed=s) for s in range(3)]
    assert _verdict(runs).outcome == NOT_REPRODUCED


def test_a_peak_below_the_largest_batch_is_named_and_fails_the_trend():
    # Noise-limited small batches: the best accuracy is at B = 32, smaller is worse.
    runs = [_run([0.55, 0.72, 0.6, 0.4, 0.3], seed=s) for s in range(3)]
    result = _verdict(runs)
    assert "best training accuracy is at B = 32" in result.note
    assert result.checks["mnist1d: Spearman(B, train acc) ≤ −0.8"] is False
    assert result.outcome == NOT_REPRODUCED


def test_fewer_than_three_seeds_is_inconclusive():
    runs = [_run([0.7, 0.6, 0.5, 0.35, 0.25], seed=s) for s in range(2)]
    assert _verdict(runs).outcome == INCONCLUSIVE


def test_aggregate_collects_each_seeds_chosen_lr():
    runs = [
        _run([0.7, 0.6, 0.5, 0.35, 0.25], seed=0, lr=0.1),
        _run([0.7, 0.6, 0.5, 0.35, 0.25], seed=1, lr=0.3),
    ]
    slot = b3.aggregate(runs)["mnist1d"]
    assert slot["chosen_lr"][8] == [0.1, 0.3]
    assert b3.lr_text(slot["chosen_lr"][8]) == "0.1/0.3"
    assert slot["per_batch"][8]["train"]["n"] == 2


def test_a_diverging_learning_rate_is_recorded_not_raised(tmp_path):
    dataset = data.load("mnist1d", validation=500, seed=0)
    record = b3._train_one(dataset, "mnist1d", 512, 1e4, 1, seed=0)
    assert record["diverged"] is True
    assert "nan" in record["error"].lower() or "non-finite" in record["error"]


def test_smoke_run_writes_files_and_a_verdict(tmp_path):
    assert run_job("B3", "smoke", 0, str(tmp_path)).error is None
    out = tmp_path / "B3" / "seed-0"  # the runner's folder of this seed
    m = json.loads((out / "measurements.json").read_text())["measurements"]
    for name in ("b3_accuracy.png", "b3_batch_optimisation.csv", "measurements.json"):
        assert (out / name).is_file(), name
    entry = m["datasets"]["mnist1d"]
    sizes = b3.PROFILES["smoke"].setting["mnist1d"]["batch_sizes"]
    assert [r["batch_size"] for r in entry["runs"]] == list(sizes)
    assert all(0 <= r["train_acc"] <= 1 and 0 <= r["val_acc"] <= 1 for r in entry["runs"])
    assert entry["train_examples"] == 3500 and entry["val_examples"] == 500
    result = b3.verdict([m])[0]
    assert result.outcome == INCONCLUSIVE  # one seed, two batch sizes


def _grid(out, seed=0):
    path = out / "B3" / f"seed-{seed}" / "measurements.json"
    grid = json.loads(path.read_text())["measurements"]["datasets"]["mnist1d"]["grid"]
    return [{k: v for k, v in r.items() if k != "trial"} for r in grid]


@pytest.mark.slow
def test_the_grid_through_a_sweep_gives_the_runs_training_here_gives(tmp_path, monkeypatch):
    """`optlab lecture --sweep`: the grid trained by 2 Optuna worker processes equals the in-process grid,
    a diverging lr included (an error trial there, a diverged run here)."""
    monkeypatch.setenv("OPTLAB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setitem(
        b3.PROFILES,
        "smoke",
        ProfileRow({"mnist1d": {"batch_sizes": (32, 512), "epochs": 1, "lrs": (0.3, 1e6)}}, seconds=5),
    )
    swept = run_lecture(plan_lecture("smoke", tmp_path / "swept", only="B3", workers=2, sweep=True))
    local = run_lecture(plan_lecture("smoke", tmp_path / "local", only="B3", workers=1))
    assert swept["experiments"][0]["errors"] == [] and local["experiments"][0]["errors"] == []
    via_sweep, here = _grid(tmp_path / "swept"), _grid(tmp_path / "local")
    assert [r["diverged"] for r in here] == [False, True, False, True]
    assert len(via_sweep) == len(here) == 4
    for a, b in zip(via_sweep, here, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], float):
                assert a[key] == pytest.approx(b[key], rel=1e-6), key
            elif key != "error":
                assert a[key] == b[key], key
    measurements = json.loads((tmp_path / "swept" / "B3" / "seed-0" / "measurements.json").read_text())
    study = measurements["measurements"]["sweep"]["studies"]["mnist1d"]
    assert study.startswith("lecture-B3-smoke-mnist1d-")
    assert "Optuna sweeps" in swept["claims"][0]["note"]
    # Run again: the study is settled, so nothing is trained twice and the records are the same.
    again = run_lecture(plan_lecture("smoke", tmp_path / "swept", only="B3", workers=2, sweep=True))
    assert again["claims"][0]["numbers"] == swept["claims"][0]["numbers"]
    # the trials live under --out, beside the study's SQLite storage, in one folder per study and storage
    (folder,) = (tmp_path / "swept" / "sweeps").glob(f"{study}-*")
    assert len(list(folder.glob("trial-*"))) == 4


def test_reading_a_grid_from_a_missing_study_names_it(tmp_path):
    plan = SweepPlan(storage_url=f"sqlite:///{tmp_path / 's.sqlite'}", workers=1, seeds=1)
    with pytest.raises(ConfigError, match="no sweep study 'lecture-B3-smoke-mnist1d-"):
        b3.run("smoke", tmp_path / "out", 0, sweep=plan)
