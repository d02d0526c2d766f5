"""A5 (learning-rate transfer across batch sizes): the grid search on made-up loss curves, verdicts on
made-up numbers that must pass and must fail, and a smoke run."""

from __future__ import annotations

import json
import math

import pytest

from optlab._io import json_ready
from optlab.experiments import lr_transfer as a5
from optlab.experiments.framework import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED

SIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096)


# ---------------------------------------------------------------------------------------------- the search
def _curve(best: float, diverge_above: float = math.inf, bump: tuple[float, float] | None = None, a=1.0):
    """A made-up run: loss 1 + a·(log₂ lr − log₂ best)², diverged above ``diverge_above``; ``bump = (lr,
    loss)`` replaces one learning rate's loss (a false minimum)."""

    def train(lr: float) -> a5.Trained:
        if lr > diverge_above:
            return a5.Trained(lr, math.inf, True, None)
        if bump is not None and math.isclose(lr, bump[0]):
            return a5.Trained(lr, bump[1], False, None)
        return a5.Trained(lr, 1 + a * (math.log2(lr) - math.log2(best)) ** 2, False, None)

    return train


@pytest.mark.parametrize("best", [0.025, 0.1 * math.sqrt(2), 0.4, 1.6])  # on the grid 0.1·√2^k
def test_search_finds_the_grid_minimum_and_brackets_it_by_two_on_each_side(best):
    k, tried = a5.search(_curve(best), guess=0.1, max_tries=20)
    assert math.isclose(tried[k].lr, best)
    assert a5.bracketed(k, tried)
    assert {k - 2, k - 1, k + 1, k + 2} <= set(tried)
    assert abs(a5.vertex(k, tried) - math.log2(best)) < 1e-9  # a parabola in log lr: the vertex is exact


def test_vertex_refines_within_half_a_grid_step():
    best = 0.1 * 2**0.2  # between two grid points
    k, tried = a5.search(_curve(best), guess=0.1, max_tries=20)
    assert math.isclose(a5.vertex(k, tried), math.log2(best), abs_tol=1e-9)
    assert abs(a5.vertex(k, tried) - math.log2(tried[k].lr)) <= 0.25 + 1e-12  # ½ step = ¼ in log₂


def test_search_walks_down_from_a_diverged_guess_and_past_a_false_minimum():
    # every guess diverges: the search goes down until it finds finite runs and their minimum
    k, tried = a5.search(_curve(0.1, diverge_above=0.15), guess=1.6, max_tries=20)
    assert math.isclose(tried[k].lr, 0.1) and a5.bracketed(k, tried)
    # a catapult just below the stability limit ends below its smaller neighbour (a false minimum at 0.8,
    # 1.2 against 1.225 at 0.57, and 1.13 diverges): a one-point bracket would stop there, two points on
    # each side see 0.4 (1.1) and walk on to the true minimum at 0.2
    false = _curve(0.2, diverge_above=1.0, bump=(0.8, 1.2), a=0.1)
    k, tried = a5.search(false, guess=0.8 / math.sqrt(2), max_tries=20)
    assert math.isclose(tried[k].lr, 0.2) and a5.bracketed(k, tried)
    assert not a5.bracketed(1, {k: tried[k] for k in (0, 1, 2)})  # the false minimum's one-point bracket


def test_search_stops_after_max_tries_unbracketed():
    k, tried = a5.search(_curve(100.0), guess=0.01, max_tries=4)
    assert len(tried) == 4 and not a5.bracketed(k, tried)


# ---------------------------------------------------------------------------------------------- verdicts
def _rule(slope_below: float, slope_above: float, start: float, knee: int = 512, jitter: float = 0.0):
    """Best learning rates: ∝ B^slope_below up to ``knee``, ∝ B^slope_above past it."""
    out = []
    for b in SIZES:
        below = math.log2(min(b, knee) / SIZES[0]) * slope_below
        above = math.log2(max(b, knee) / knee) * slope_above
        out.append(start * 2 ** (below + above + jitter))
    return out


def _optimizer(lrs, b_noise=600.0, bracketed=True):
    rows = [{"batch_size": b, "lr": lr, "log2_lr": math.log2(lr), "train_loss": 0.7, "test_loss": 0.75,
             "bracketed": bracketed, "tried": [{"lr": lr, "train_loss": 0.7, "diverged": False}]}
            for b, lr in zip(SIZES, lrs, strict=True)]  # fmt: skip
    return {
        "rows": rows,
        "initial_loss": 2.3,
        "b_noise": b_noise,
        "b_noise_readings": [b_noise / 2, b_noise * 2],
        "b_noise_loss": 0.6,
    }


def _seed(sgd=(1.0, 0.0), adam=(0.5, -0.2), jitter=0.0, b_noise=600.0, bracketed=True):
    return {
        "setting": {"key": "mnist1d-50k/mlp1d, 98304 training examples per run"},
        "optimizers": {
            "sgd": _optimizer(_rule(*sgd, 0.03, jitter=jitter), b_noise, bracketed),
            "adam": _optimizer(_rule(*adam, 0.005, jitter=-jitter), b_noise, bracketed),
        },
    }


def _outcomes(runs):
    return {r.claim_id: r.outcome for r in a5.verdict(json.loads(json.dumps(runs)))}


def _three(**kwargs):
    # the seeds differ a little (the first point moves): slopes scatter, as over real seeds
    runs = [_seed(**kwargs) for _ in range(3)]
    for i, run in enumerate(runs):
        for name in ("sgd", "adam"):
            row = run["optimizers"][name]["rows"][0]
            row["log2_lr"] += 0.2 * (i - 1)
    return runs


def test_reproduced_when_sgd_is_linear_and_adam_square_root_up_to_b_noise_then_flat_or_falling():
    assert _outcomes(_three()) == {"A5-sgd": REPRODUCED, "A5-adam": REPRODUCED}
    # a flat Adam past B_noise is as good as a falling one
    assert _outcomes(_three(adam=(0.5, 0.0)))["A5-adam"] == REPRODUCED


# Quick, seeds 0–2 (measured): log₂ of the refined best lr at batch 32 … 4 096, and B_noise.
MEASURED = {
    "sgd": [
        (643, [-5.06, -3.76, -2.81, -1.67, -0.45, 0.36, 0.36, 0.36]),
        (534, [-4.92, -3.74, -2.73, -1.43, -0.46, 0.49, 0.13, -0.47]),
        (803, [-4.16, -3.8, -2.9, -1.27, -0.96, -0.36, -0.34, 0.86]),
    ],
    "adam": [
        (528, [-7.54, -7.48, -7.03, -6.39, -5.92, -4.6, -5.09, -5.54]),
        (510, [-7.67, -7.3, -6.84, -6.03, -5.54, -5.43, -5.01, -5.42]),
        (535, [-7.65, -7.38, -6.46, -5.97, -5.86, -5.7, -5.74, -5.7]),
    ],
}


def _measured():
    runs = []
    for i in range(3):
        run = _seed()
        for name, seeds in MEASURED.items():
            b_noise, logs = seeds[i]
            run["optimizers"][name] = _optimizer([2**v for v in logs], float(b_noise))
        runs.append(run)
    return runs


def test_the_measured_numbers_reproduce_and_a_rising_tail_would_not():
    assert _outcomes(_measured()) == {"A5-sgd": REPRODUCED, "A5-adam": REPRODUCED}
    # the same runs with Adam's best lr past B* still rising at its √B rate: no surge, not reproduced
    runs = _measured()
    for run in runs:
        rows = run["optimizers"]["adam"]["rows"]
        split = a5.slopes(run["optimizers"]["adam"])["split"]
        knee = next(r for r in rows if r["batch_size"] == split)
        for r in rows:
            if r["batch_size"] > split:
                r["log2_lr"] = knee["log2_lr"] + 0.5 * math.log2(r["batch_size"] / split)
    assert _outcomes(runs)["A5-adam"] == NOT_REPRODUCED


def test_sgd_fails_when_its_best_lr_grows_as_the_square_root_or_keeps_growing_linearly():
    assert _outcomes(_three(sgd=(0.5, 0.0)))["A5-sgd"] == NOT_REPRODUCED  # √B below B_noise: not linear
    assert _outcomes(_three(sgd=(1.5, 0.0)))["A5-sgd"] == NOT_REPRODUCED  # faster than linear
    assert _outcomes(_three(sgd=(1.0, 1.0)))["A5-sgd"] == NOT_REPRODUCED  # linear past B_noise: no break
    assert _outcomes(_three(sgd=(1.0, 0.7)))["A5-sgd"] == NOT_REPRODUCED  # past B_noise still > 0.5


def test_adam_fails_when_linear_or_when_it_keeps_rising_past_b_noise():
    assert _outcomes(_three(adam=(1.0, 0.0)))["A5-adam"] == NOT_REPRODUCED  # linear, not √B
    assert _outcomes(_three(adam=(0.1, 0.0)))["A5-adam"] == NOT_REPRODUCED  # flat everywhere
    assert _outcomes(_three(adam=(0.5, 0.5)))["A5-adam"] == NOT_REPRODUCED  # √B on past B_noise: no surge
    assert _outcomes(_three(adam=(0.5, 0.3)))["A5-adam"] == NOT_REPRODUCED  # still rising past B_noise


def test_slopes_that_scatter_over_seeds_more_than_they_differ_fail():
    runs = _three(sgd=(1.0, 0.5))
    runs[0]["optimizers"]["sgd"] = _optimizer(_rule(0.7, 1.4, 0.03))  # one seed: below 0.7, past 1.4
    results = {r.claim_id: r for r in a5.verdict(json.loads(json.dumps(runs)))}
    assert results["A5-sgd"].outcome == NOT_REPRODUCED
    assert not results["A5-sgd"].checks["slope past B_noise clearly below the slope below it (±1 std apart)"]


def test_the_split_follows_the_measured_b_noise():
    # B_noise = 1 500 → B* = 2048 leaves 2048 and 4096 past it: too few batch sizes to fit a slope
    assert set(_outcomes(_three(b_noise=1500.0)).values()) == {INCONCLUSIVE}
    # B_noise = inf (|G|² estimate not positive; JSON holds "inf"): B* is the largest batch, nothing past it
    assert set(_outcomes(_three(b_noise=math.inf)).values()) == {INCONCLUSIVE}
    # B* is the grid's batch nearest B_noise in log, and the fits use the batches on each side of it
    assert a5.nearest_batch(SIZES, 700.0) == 512 and a5.nearest_batch(SIZES, 800.0) == 1024
    split = a5.slopes(_optimizer(_rule(1.0, 0.0, 0.03), b_noise=300.0))
    assert (split["split"], split["n_below"], split["n_above"]) == (256, 4, 5)


def test_inconclusive_on_too_few_seeds_or_an_unbracketed_best():
    assert set(_outcomes(_three()[:2]).values()) == {INCONCLUSIVE}
    runs = _three()
    runs[1] = _seed(bracketed=False)
    assert set(_outcomes(runs).values()) == {INCONCLUSIVE}


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_smoke_run_writes_the_rows_the_csv_and_the_figure(tmp_path):
    result = a5.run("smoke", tmp_path, seed=0)
    setting = a5.PROFILES["smoke"].setting
    for name in a5.OPTIMIZERS:
        res = result["optimizers"][name]
        assert [row["batch_size"] for row in res["rows"]] == list(setting.batch_sizes)
        assert all(row["lr"] > 0 and math.isfinite(row["train_loss"]) for row in res["rows"])
        assert res["b_noise"] > 0
    assert (tmp_path / "a5_lr_transfer_seed0.csv").is_file()
    assert (tmp_path / result["figures"][0]["file"]).is_file()
    outcomes = a5.verdict([json.loads(json.dumps(json_ready(result)))])
    assert [r.outcome for r in outcomes] == [INCONCLUSIVE, INCONCLUSIVE]  # one seed


def test_b_noise_pools_the_readings_as_a_ratio_of_means():
    readings = [{"grad_norm_sq": 1.0, "trace_sigma": 100.0}, {"grad_norm_sq": 3.0, "trace_sigma": 700.0}]
    assert a5.pooled_noise_scale(readings) == 200.0  # 400 / 2, not the mean of 100 and 233
    assert a5.pooled_noise_scale([{"grad_norm_sq": -1.0, "trace_sigma": 5.0}]) == math.inf
    assert math.isnan(a5.pooled_noise_scale([]))
