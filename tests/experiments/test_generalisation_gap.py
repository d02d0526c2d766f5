"""B4 (generalisation gap): verdicts on made-up numbers that must pass and must fail, and a smoke run."""

from __future__ import annotations

import json

from optlab.experiments import generalisation_gap as b4
from optlab.experiments.framework import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from optlab.experiments.runner import run_job


def _side(train_acc, test_acc, phi):
    sharp = {
        "full 0.001": phi,
        "full 0.0005": phi / 3,
        "subspace 0.001": phi / 10,
        "subspace 0.0005": phi / 30,
    }
    return {"train_acc": train_acc, "test_acc": test_acc, "train_loss": 0.01, "test_loss": 1.0, "epochs": 50,
            "updates": 1000, "stopped": "plateau", "train_time": 1.0, "sharpness": sharp}  # fmt: skip


def _runs(small_test, large_test, small_phi, large_phi, train_acc=(0.999, 0.999)):
    """One run per entry of the lists (a seed each)."""
    runs = []
    for sb_test, lb_test, sb_phi, lb_phi in zip(small_test, large_test, small_phi, large_phi, strict=True):
        small, large = _side(train_acc[0], sb_test, sb_phi), _side(train_acc[1], lb_test, lb_phi)
        entry = {"key": "mnist1d/mlp1d", "model": "mlp1d", "small_batch": 32, "large_batch": 400,
                 "small": small, "large": large}  # fmt: skip
        runs.append({"settings": [entry], "skipped": []})
    return json.loads(json.dumps(runs))


def _outcomes(runs):
    return {r.claim_id: r.outcome for r in b4.verdict(runs)}


def test_reproduced_when_the_large_batch_is_worse_and_sharper_beyond_the_spread():
    runs = _runs([0.63, 0.64, 0.62], [0.58, 0.59, 0.57], [1.0, 1.2, 0.9], [20.0, 25.0, 30.0])
    assert _outcomes(runs) == {"B4": REPRODUCED, "B4-sharp": REPRODUCED}


def test_right_direction_within_the_spread_is_not_reproduced():
    # SB better on average by 1 point, but the seeds scatter by more than that.
    runs = _runs([0.60, 0.66, 0.61], [0.58, 0.64, 0.62], [1.0, 1.2, 0.9], [20.0, 25.0, 30.0])
    result = b4.verdict(runs)[0]
    assert result.checks["mnist1d/mlp1d: test SB > LB"] is True
    assert result.checks["mnist1d/mlp1d: gap > spread"] is False
    assert result.outcome == NOT_REPRODUCED


def test_wrong_direction_fails_both_claims():
    runs = _runs([0.58, 0.59, 0.57], [0.63, 0.64, 0.62], [20.0, 25.0, 30.0], [1.0, 1.2, 0.9])
    assert _outcomes(runs) == {"B4": NOT_REPRODUCED, "B4-sharp": NOT_REPRODUCED}


def test_undertrained_runs_do_not_count_as_a_generalisation_gap():
    runs = _runs([0.63, 0.64, 0.62], [0.58, 0.59, 0.57], [1.0, 1.2, 0.9], [20.0, 25.0, 30.0], (0.90, 0.999))
    result = b4.verdict(runs)[0]
    assert result.checks["mnist1d/mlp1d: train acc ≥ 95 %"] is False
    assert result.outcome == NOT_REPRODUCED


def test_one_seed_is_inconclusive_and_says_why():
    results = b4.verdict(_runs([0.63], [0.58], [1.0], [20.0]))
    assert {r.outcome for r in results} == {INCONCLUSIVE}
    assert "seed" in results[0].note


def test_smoke_run_writes_measurements_figure_and_a_verdict(tmp_path):
    assert run_job("B4", "smoke", 0, str(tmp_path)).error is None
    out = tmp_path / "B4" / "seed-0"  # the runner's folder of this seed
    measurements = json.loads((out / "measurements.json").read_text())["measurements"]
    entry = measurements["settings"][0]
    assert set(entry["small"]["sharpness"]) == {
        "full 0.001",
        "full 0.0005",
        "subspace 0.001",
        "subspace 0.0005",
    }
    assert all(value >= 0 for value in entry["large"]["sharpness"].values())
    line = entry["interpolation"]
    assert len(line["alpha"]) == len(line["train_loss"]) == 25
    for figure in measurements["figures"]:
        assert (out / figure["file"]).stat().st_size > 1000
    assert [r.outcome for r in b4.verdict([measurements])] == [INCONCLUSIVE, INCONCLUSIVE]
