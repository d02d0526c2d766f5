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


def _seed(b_simple=250.0, b_crit=300.0, cbs=RISES_AND_LEVELS, capped=False, misfit=0.05, missing=False):
    steps = [100 + 30_000 / b for b in SIZES]
    tradeoff = [{"batch_size": b, "lr": 0.1, "steps": None if missing and b == 512 else s}
                for b, s in zip(SIZES, steps, strict=True)]  # fmt: skip
    branches = [{"step": t, "cbs": c, "capped": capped and i == len(cbs) - 1}
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
    assert _outcomes([_seed()] * 3)["A3"] == REPRODUCED


def test_too_few_seeds_is_inconclusive():
    assert set(_outcomes([_seed(), _seed()]).values()) == {INCONCLUSIVE}


@pytest.mark.usefixtures("one_torch_thread")
def test_smoke_run_produces_the_three_measurements(tmp_path):
    result = a3.run("smoke", tmp_path, seed=0)
    setting = a3.PROFILES["smoke"].setting
    assert [row["batch_size"] for row in result["tradeoff"]] == list(setting.batch_sizes)
    assert result["b_crit"] > 0 and result["b_simple"] > 0
    assert [b["step"] for b in result["branches"]] == list(setting.branch_at)
    assert all(b["batch_sizes"][0] == setting.batch_sizes[0] for b in result["branches"])
    assert (tmp_path / result["figures"][0]["file"]).is_file()
    verdicts = a3.verdict(json.loads(json.dumps([result] * 3)))
    assert [v.claim_id for v in verdicts] == ["A3", "A3-cbs"]
