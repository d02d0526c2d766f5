"""B1/B2 (time per update / per epoch vs batch size): verdicts on made-up timings, helpers, a smoke run."""

from __future__ import annotations

import json
import math

import pytest
from scipy import stats

from optlab.experiments import batch_timing as b1
from optlab.experiments.framework import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from optlab.experiments.runner import run_job

N = 4000


def _measurements(update_time, sizes=None, device="cpu") -> dict:
    """A measurements dict as run() writes it, with t_update(B) = update_time(B)."""
    sizes = sizes or b1.batch_sizes(N)
    rows = []
    for b in sizes:
        t = update_time(b)
        per_epoch = math.ceil(N / b)
        rows.append({"batch_size": b, "update_s": t, "update_s_q25": 0.9 * t, "update_s_q75": 1.1 * t,
                     "updates_per_epoch": per_epoch, "epoch_s": t * per_epoch, "examples_per_s": b / t,
                     "repeats": 10})  # fmt: skip
    entry = {"dataset": "mnist1d", "examples": N, "rows": rows}
    return {"device": device, "device_description": "test CPU", "datasets": [entry], "missing_datasets": {}}


def _outcomes(m: dict) -> dict[str, str]:
    return {r.claim_id: r.outcome for r in b1.verdict([json.loads(json.dumps(m))])}


def test_verdict_reproduced_when_flat_then_linear():
    # 1 ms fixed cost, then 10 µs per example: flat up to B ≈ 100, t(1000)/t(1) ≈ 10.
    m = _measurements(lambda b: max(1e-3, 1e-5 * b))
    assert _outcomes(m) == {"B1": REPRODUCED, "B2": REPRODUCED}
    result = b1.verdict([m])[0]
    assert result.numbers["t(1000)/t(1)"] == pytest.approx(10.0)
    assert result.numbers["knee (first B with t > 2·t(1))"] == 256  # first power of two with t > 2 ms


def test_b1_fails_when_time_grows_with_the_batch_from_the_start():
    # No parallelism at all: every example costs the same, t ∝ B from B = 1.
    m = _measurements(lambda b: 1e-4 * b)
    outcomes = _outcomes(m)
    assert outcomes["B1"] == NOT_REPRODUCED
    # t_epoch is then constant in B: B2 fails too.
    assert outcomes["B2"] == NOT_REPRODUCED


def test_b1_fails_when_the_bend_comes_early_even_if_the_ratio_is_small():
    # Knee at B = 4 (t doubles by B = 4) but sub-linear after: the flat region is too short.
    m = _measurements(lambda b: 1e-3 * b**0.6)
    result = b1.verdict([m])[0]
    assert result.checks["flat to ≥ 16 (knee > 16)"] is False
    assert result.outcome == NOT_REPRODUCED


def test_b2_fails_when_the_epoch_time_rises_again():
    # Flat per-update time up to 16, then super-linear (e.g. cache spills): epoch time rises with B.
    m = _measurements(lambda b: 1e-3 if b <= 16 else 1e-3 * (b / 16) ** 1.6)
    assert _outcomes(m)["B2"] == NOT_REPRODUCED


def test_too_small_a_sweep_is_inconclusive():
    m = _measurements(lambda b: max(1e-3, 1e-5 * b), sizes=[1, 2, 4, 8, 16, 32, 64, 128])
    assert set(_outcomes(m).values()) == {INCONCLUSIVE}


def test_batch_sizes_are_powers_of_two_plus_reference_and_max():
    assert b1.batch_sizes(4000) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 1024, 2048, 4000]
    assert b1.batch_sizes(256) == [1, 2, 4, 8, 16, 32, 64, 128, 256]


def test_spearman_matches_scipy_with_ties():
    a = [1, 2, 3, 4, 5, 6]
    b = [3.0, 1.0, 1.0, 0.5, 0.7, 0.1]
    assert b1.spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic)


def test_log_slope_recovers_the_exponent():
    sizes = [64, 128, 256, 512]
    assert b1.log_slope(sizes, [3e-6 * s**0.8 for s in sizes]) == pytest.approx(0.8)


def test_smoke_run_writes_files_and_gives_a_verdict(tmp_path):
    assert run_job("B1", "smoke", 0, str(tmp_path)).error is None
    out = tmp_path / "B1" / "seed-0"  # the runner's folder of this seed
    m = json.loads((out / "measurements.json").read_text())["measurements"]
    assert (out / "b1_timing.csv").is_file()
    assert (out / "b1_timing_mnist1d.png").stat().st_size > 1000
    rows = m["datasets"][0]["rows"]
    assert rows[0]["batch_size"] == 1  # the sweep starts at 1: the model has no BatchNorm
    assert all(r["update_s"] > 0 and r["epoch_s"] == pytest.approx(r["update_s"] * r["updates_per_epoch"])
               for r in rows)  # fmt: skip
    results = b1.verdict([m])
    assert [r.claim_id for r in results] == ["B1", "B2"]
    assert all(r.outcome == INCONCLUSIVE for r in results)  # the smoke sweep stops below B = 1000
    assert m["device_description"].startswith(("CPU", "NVIDIA")) or "cuda" in m["device_description"]
