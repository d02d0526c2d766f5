"""A3 (critical batch size three ways): verdicts on made-up numbers that must pass and must fail, and a smoke
run."""

from __future__ import annotations

import json

import pytest

from optlab.experiments import critical_batch as a3
from optlab.experiments.framework import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED

SIZES = (16, 32, 64, 128, 256, 512)
POINTS = (20, 100, 300, 1000, 2000, 3000)
RISES_AND_LEVELS = (16, 16, 64, 256, 512, 512)


def _seed(
    b_simple=250.0, b_crit=300.0, cbs=RISES_AND_LEVELS, capped=False, misfit=0.05, missing=False, floors=1
):
    """One seed's result; ``capped``: its last ``floors`` CBS points are the largest batch tried."""
    steps = [100 + 30_000 / b for b in SIZES]
    tradeoff = [{"batch_size": b, "lr": 0.1, "steps": None if missing and b == 512 else s}
                for b, s in zip(SIZES, steps, strict=True)]  # fmt: skip
    branches = [{"step": t, "examples": 8 * t, "cbs": c, "capped": capped and i >= len(cbs) - floors}
                for i, (t, c) in enumerate(zip(POINTS, cbs, strict=True))]  # fmt: skip
    return {
        "setting": {"key": "mnist1d/mlp1d, target train loss 0.6", "eps": 0.02},
        "tradeoff": tradeoff,
        "fit": {"s_min": 100.0, "e_min": 100.0 * b_crit, "relative_rms_error": misfit},
        "b_crit": b_crit,
        "zhang_fit": 1.2 * 16 + 0.2 * b_crit,
        "zhang_points": 80.0,
        "b_simple": b_simple,
        "branches": branches,
        "branch_setting": "mnist1d-50k/mlp1d, adam, batch 8",
        "base": {"batch_size": 16},
    }


def _outcomes(runs):
    return {r.claim_id: r.outcome for r in a3.verdict(json.loads(json.dumps(runs)))}


def test_reproduced_when_the_noise_scale_matches_and_cbs_rises_then_levels():
    assert _outcomes([_seed(), _seed(b_simple=400.0), _seed(b_simple=200.0)]) == {
        "A3": REPRODUCED,
        "A3-cbs": REPRODUCED,
    }


def test_a3_fails_when_b_simple_is_off_by_more_than_a_factor_of_two():
    runs = [_seed(b_simple=100.0), _seed(b_simple=120.0), _seed(b_simple=140.0)]  # ≈ 0.4 × B_crit
    assert _outcomes(runs)["A3"] == NOT_REPRODUCED
    runs = [_seed(b_simple=900.0) for _ in range(3)]  # 3 × B_crit
    assert _outcomes(runs)["A3"] == NOT_REPRODUCED
    # a bad fit or a batch that never reached the target fails too, whatever the ratio
    assert _outcomes([_seed(misfit=0.3), _seed(), _seed()])["A3"] == NOT_REPRODUCED
    assert _outcomes([_seed(missing=True), _seed(), _seed()])["A3"] == NOT_REPRODUCED


def test_a3_cbs_fails_when_cbs_is_flat_falls_or_keeps_rising():
    flat = (64, 64, 64, 64, 64, 64)
    assert _outcomes([_seed(cbs=flat)] * 3)["A3-cbs"] == NOT_REPRODUCED
    climbing = (16, 16, 32, 64, 256, 1024)  # ×4 at the last point: not levelled off
    assert _outcomes([_seed(cbs=climbing)] * 3)["A3-cbs"] == NOT_REPRODUCED
    falling = (512, 256, 128, 64, 32, 16)
    assert _outcomes([_seed(cbs=falling)] * 3)["A3-cbs"] == NOT_REPRODUCED
    # one seed's last CBS is the largest batch tried: a floor, which decides nothing about a level …
    assert _outcomes([_seed(), _seed(), _seed(capped=True)])["A3-cbs"] == INCONCLUSIVE
    # … unless CBS did not rise either
    assert _outcomes([_seed(cbs=flat, capped=True)] * 3)["A3-cbs"] == NOT_REPRODUCED
    # … or the floor alone steps up more than 2× from an exact point: the true CBS steps up more still
    floor = (16, 16, 32, 32, 512, 2048)
    assert _outcomes([_seed(cbs=floor, capped=True)] * 3)["A3-cbs"] == NOT_REPRODUCED
    assert _outcomes([_seed(cbs=floor, capped=True), _seed(cbs=floor), _seed()])["A3-cbs"] == NOT_REPRODUCED
    # a floor of exactly 2× decides nothing, nor does a step between two floors
    assert _outcomes([_seed(cbs=(16, 16, 32, 32, 1024, 2048), capped=True)] * 3)["A3-cbs"] == INCONCLUSIVE
    assert _outcomes([_seed(cbs=floor, capped=True, floors=2)] * 3)["A3-cbs"] == INCONCLUSIVE
    assert _outcomes([_seed()] * 3)["A3"] == REPRODUCED


def test_too_few_seeds_is_inconclusive():
    assert set(_outcomes([_seed(), _seed()]).values()) == {INCONCLUSIVE}


@pytest.mark.usefixtures("one_torch_thread")
def test_smoke_run_produces_the_three_measurements(tmp_path):
    result = a3.run("smoke", tmp_path, seed=0)
    setting = a3.PROFILES["smoke"].setting
    assert [row["batch_size"] for row in result["tradeoff"]] == list(setting.batch_sizes)
    assert result["b_crit"] > 0 and result["b_simple"] > 0
    assert [b["examples"] for b in result["branches"]] == list(setting.branch_at)
    assert all(b["batch_sizes"][0] == setting.branch_batch for b in result["branches"])
    assert all(b["cooldown"] == setting.branch_cooldown for b in result["branches"])
    assert (tmp_path / result["figures"][0]["file"]).is_file()
    verdicts = a3.verdict(json.loads(json.dumps([result] * 3)))
    assert [v.claim_id for v in verdicts] == ["A3", "A3-cbs"]


def test_tradeoff_steps_down_when_the_previous_best_lr_fails_at_a_larger_batch(monkeypatch):
    # a made-up trainer: steps ∝ 1/(lr·B), and no lr above the stability cap reaches the target; the cap is
    # 1.0 up to batch 64 and 0.6 at 512, so 512's grid {2, √2, 1}× 0.8 all fail and it must step down
    def steps_to_target(setting, dataset, seed, batch, lr, limit, *rest, **kw):
        if lr > (1.0 if batch <= 64 else 0.6):
            return None
        steps = round(10_000 / (lr * batch))
        return steps if steps <= limit else None

    monkeypatch.setattr(a3, "_train", steps_to_target)
    setting = a3.replace(a3.QUICK, batch_sizes=(16, 64, 512), lr_grid=(0.4, 0.2, 0.1))
    rows = a3.tradeoff(setting, None, 0)
    assert [row["lr"] for row in rows] == [0.4, 0.8, pytest.approx(0.8 / 2**0.5)]
    assert [t["steps"] is None for t in rows[2]["tried"]] == [True, True, True, False]  # 1/2× not needed
