"""A4 (batch-size warm-up): verdicts on made-up numbers that must pass and must fail, and a smoke run."""

from __future__ import annotations

import json

import pytest

from optlab.experiments import batch_warmup as a4
from optlab.experiments.framework import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED

BASE_UPDATES = 20_000  # E = 160 000 examples at B₀ = 8


def _seed(base=0.33, warm=0.328, large=0.38, warm_updates=3_600, curve=None):
    """One seed's measurements: the warm-up's curve falls to ``warm`` at ``warm_updates`` (or is ``curve``,
    a list of (updates, loss))."""
    if curve is None:
        curve = [(600, 1.0), (1_500, 0.6), (2_800, 0.42), (3_400, 0.36), (warm_updates, warm)]
    rows = [{"updates": u, "examples": 0, "batch": 64, "loss": loss} for u, loss in curve]
    return {
        "setting": {"key": "mnist1d-50k/mlp1d", "base_batch": 8},
        "branches": [
            {"examples": 2048, "cbs": 16, "capped": False},
            {"examples": 64000, "cbs": 128, "capped": True},
        ],
        "sizes": [{"examples": 0, "batch": 8}, {"examples": 2048, "batch": 16}],
        "large_batch": 128,
        "runs": {"warmup": rows},
        "summary": {
            "baseline": {"loss": base, "updates": BASE_UPDATES},
            "warmup": {"loss": curve[-1][1], "updates": curve[-1][0]},
            "large": {"loss": large, "updates": 1_250},
        },
    }


def _outcome(runs):
    (result,) = a4.verdict(json.loads(json.dumps(runs)))
    return result


def test_reproduced_when_the_warm_up_reaches_the_baseline_with_far_fewer_updates():
    result = _outcome([_seed(), _seed(base=0.34, warm=0.335), _seed(base=0.32, warm=0.325)])
    assert result.outcome == REPRODUCED, result.checks
    assert "82.0%" in result.numbers["saving (per seed)"]


def test_not_reproduced_when_the_saving_is_below_a_quarter():
    few = 16_000  # 20 % fewer updates than the baseline
    curve = [(4_000, 1.0), (10_000, 0.6), (15_000, 0.4), (few, 0.328)]
    result = _outcome([_seed(curve=curve)] * 3)
    assert result.outcome == NOT_REPRODUCED
    assert not result.checks["saving mean − std ≥ 25%"]
    # 40 % in two seeds and 10 % in the third: the mean (30 %) passes, mean − std (13 %) does not
    spread = [_seed(curve=[(2_000, 0.6), (12_000, 0.328)])] * 2 + [
        _seed(curve=[(2_000, 0.6), (18_000, 0.328)])
    ]
    result = _outcome(spread)
    assert "30.0% ± 17.3%" in result.numbers["saving mean ± std"]
    assert result.outcome == NOT_REPRODUCED


def test_not_reproduced_when_the_warm_up_never_reaches_the_baseline():
    runs = [_seed(base=0.33, warm=0.36), _seed(base=0.331, warm=0.37), _seed(base=0.329, warm=0.35)]
    result = _outcome(runs)
    assert result.outcome == NOT_REPRODUCED
    assert not result.checks["the warm-up reaches L_base + τ (every seed)"]
    # one seed that never gets there is enough
    assert _outcome([_seed(), _seed(), _seed(warm=0.40)]).outcome == NOT_REPRODUCED


def test_not_reproduced_when_the_warm_up_ends_worse_after_touching_the_baseline():
    # dips to L_base once (a lucky evaluation) and ends 0.02 above it, beyond τ
    curve = [(600, 1.0), (2_000, 0.33), (3_600, 0.35)]
    result = _outcome([_seed(curve=curve), _seed(base=0.331, curve=curve), _seed(base=0.329, curve=curve)])
    assert result.checks["the warm-up reaches L_base + τ (every seed)"]
    assert not result.checks["warm-up loss at E − L_base: mean ≤ τ"]
    assert result.outcome == NOT_REPRODUCED


def test_not_reproduced_when_the_fixed_large_batch_does_as_well():
    runs = [_seed(large=0.327), _seed(large=0.33), _seed(large=0.331)]
    result = _outcome(runs)
    assert not result.checks["fixed large batch − warm-up at E: mean − std > 0"]
    assert result.outcome == NOT_REPRODUCED


def test_too_few_seeds_is_inconclusive():
    assert _outcome([_seed(), _seed()]).outcome == INCONCLUSIVE


@pytest.mark.usefixtures("one_torch_thread")
def test_smoke_run_measures_cbs_and_trains_the_three_runs(tmp_path):
    result = a4.run("smoke", tmp_path, seed=0)
    setting = a4.PROFILES["smoke"].setting
    assert [b["examples"] for b in result["branches"]] == list(setting.branch_at)
    assert result["points"][0] == [0, setting.base_batch]
    assert result["sizes"][0]["batch"] == setting.base_batch  # the warm-up starts at B₀ …
    assert result["large_batch"] == result["sizes"][-1]["batch"] >= setting.base_batch  # … and ends there
    for name in ("baseline", "warmup", "large"):  # every run sees the same examples
        assert result["runs"][name][-1]["examples"] >= result["examples"]
    assert result["summary"]["baseline"]["updates"] == result["examples"] // setting.base_batch
    assert (tmp_path / result["figures"][0]["file"]).is_file()
    assert (tmp_path / "a4_curves_seed0.csv").is_file() and (tmp_path / "a4_cbs_seed0.csv").is_file()
    assert [v.claim_id for v in a4.verdict(json.loads(json.dumps([result] * 3)))] == ["A4"]
