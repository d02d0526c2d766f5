"""A1–A2 (edge of stability): verdicts on made-up readings that must pass and must fail, the square loss, and
a smoke run."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch

from optlab.experiments import edge_of_stability as a1
from optlab.experiments.framework import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED

EVERY = 25
# The sharpness as a fraction of its limit, one reading every 25 updates: a rise from half the limit, the
# first crossing, a catapult, then hovering within a few per cent.
AT_THE_EDGE = [0.5, 0.6, 0.75, 0.9, 1.02, 1.15, 0.92, 1.04, 0.98, 1.06, 1.01, 1.07, 0.99, 1.05, 1.03, 1.08]
KEEPS_RISING = [0.5, 0.6, 0.75, 0.9, 1.02, 1.15, 1.3, 1.45, 1.6, 1.75, 1.9, 2.05, 2.2, 2.35, 2.5, 2.65]
BELOW = [0.5, 0.6, 0.75, 0.9, 1.01, 0.7, 0.72, 0.74, 0.76, 0.78, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85]
NEVER = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.78, 0.8, 0.82, 0.84, 0.86, 0.88, 0.9, 0.92, 0.94, 0.95]
STEPS = EVERY * len(AT_THE_EDGE)


def _losses(monotone: bool = False) -> list[float]:
    """0.6 falling towards 0.3; after update 100, every third update a rise (unless ``monotone``)."""
    losses = [0.3 + 0.3 * math.exp(-t / 150) for t in range(STEPS)]
    if not monotone:
        losses = [v + (0.01 if t > 100 and t % 3 == 0 else 0.0) for t, v in enumerate(losses)]
    return losses


def _run(kind, lr, ratios, *, beta=0.0, monotone=False, diverged=False, raw_ratio_to_gd=None):
    if kind == "gd":
        threshold, rule = 2 / lr, "2/η"
    elif kind == "momentum":
        threshold, rule = (2 + 2 * beta) / lr, "(2+2β)/η"
    else:
        threshold, rule = (2 + 2 * beta) / ((1 - beta) * lr), "(2+2β₁)/((1−β₁)η)"
    readings = []
    for i, ratio in enumerate(ratios):
        sharpness = ratio * threshold
        raw = sharpness if kind != "adam" else (raw_ratio_to_gd or 0.1) * 2 / lr
        readings.append({"step": EVERY * (i + 1), "sharpness": sharpness, "lambda_max": raw})
    return {"kind": kind, "lr": lr, "beta": beta, "threshold": threshold, "rule": rule, "diverged": diverged,
            "readings": readings, "losses": _losses(monotone)}  # fmt: skip


def _seed(gd=(AT_THE_EDGE,) * 3, momentum=AT_THE_EDGE, adam=AT_THE_EDGE, monotone=False, diverged=()):
    runs = [_run("gd", lr, r, monotone=monotone, diverged="gd" in diverged)
            for lr, r in zip((0.3, 0.4, 0.5), gd, strict=True)]  # fmt: skip
    runs.append(_run("momentum", 0.4, momentum, beta=0.5, diverged="momentum" in diverged))
    runs.append(_run("adam", 5e-3, adam, beta=0.9, diverged="adam" in diverged))
    setting = {"key": "mnist1d (4000 examples), tanh MLP 50-50, square loss", "steps": STEPS}
    return {"setting": setting, "runs": runs}


def _outcomes(runs):
    return {r.claim_id: r.outcome for r in a1.verdict(json.loads(json.dumps(runs)))}


def test_reproduced_when_every_sharpness_rises_to_its_limit_and_hovers():
    assert _outcomes([_seed() for _ in range(3)]) == {"A1": REPRODUCED, "A2": REPRODUCED}


def test_a1_fails_when_the_sharpness_climbs_past_2_over_eta():
    results = a1.verdict([_seed(gd=(AT_THE_EDGE, KEEPS_RISING, AT_THE_EDGE)) for _ in range(3)])
    assert results[0].outcome == NOT_REPRODUCED
    failed = {name for name, ok in results[0].checks.items() if not ok}
    assert failed == {"GD, η = 0.4: ≥ 80% of readings within ±20%", "GD, η = 0.4: median within ±10%"}
    assert results[1].outcome == REPRODUCED  # A2 does not look at gradient descent


def test_a1_fails_when_the_sharpness_settles_below_or_never_reaches_the_line():
    assert _outcomes([_seed(gd=(BELOW,) * 3) for _ in range(3)])["A1"] == NOT_REPRODUCED
    assert _outcomes([_seed(gd=(NEVER,) * 3) for _ in range(3)])["A1"] == NOT_REPRODUCED
    # one seed out of three that never gets there is enough to fail
    mixed = [_seed(), _seed(), _seed(gd=(AT_THE_EDGE, AT_THE_EDGE, NEVER))]
    assert _outcomes(mixed)["A1"] == NOT_REPRODUCED


def test_a1_fails_when_the_sharpness_starts_at_the_line():
    started_there = [1.0, *AT_THE_EDGE[1:]]
    assert _outcomes([_seed(gd=(started_there,) * 3) for _ in range(3)])["A1"] == NOT_REPRODUCED


def test_a1_fails_when_the_loss_falls_monotonically():
    result = a1.verdict([_seed(monotone=True) for _ in range(3)])[0]
    assert result.outcome == NOT_REPRODUCED
    assert not result.checks["GD, η = 0.3: the loss falls, not monotonically"]


def test_a2_fails_when_momentum_stops_at_gds_limit_or_adams_sharpness_keeps_rising():
    # λ_max at 2/η for β = 0.5 is 1/(1 + β) of the momentum limit: the heavy ball would be held by GD's line.
    at_gd_line = [0.4, 0.5, 0.6, 0.65, 0.67, 0.66, 0.67, 0.68, 0.66, 0.67, 0.67, 0.66, 0.67, 0.68, 0.67, 0.66]
    assert _outcomes([_seed(momentum=at_gd_line) for _ in range(3)]) == {
        "A1": REPRODUCED,
        "A2": NOT_REPRODUCED,
    }
    assert _outcomes([_seed(adam=KEEPS_RISING) for _ in range(3)])["A2"] == NOT_REPRODUCED


def test_a2_momentum_must_lie_above_gds_limit():
    # hovering at its own limit passes only because (2 + 2β)/η is 1.5× GD's 2/η; at β = 0.1 it would not
    seeds = [_seed() for _ in range(3)]
    for seed in seeds:
        seed["runs"][3] = _run("momentum", 0.4, AT_THE_EDGE, beta=0.1)
    result = a1.verdict(json.loads(json.dumps(seeds)))[1]
    assert not result.checks["heavy ball β = 0.1, η = 0.4: median λ_max ≥ 1.2·2/η (not GD's limit)"]


def test_a_diverged_run_fails_its_claim():
    assert _outcomes([_seed(diverged=("adam",))] + [_seed() for _ in range(2)])["A2"] == NOT_REPRODUCED
    assert _outcomes([_seed(diverged=("gd",))] + [_seed() for _ in range(2)])["A1"] == NOT_REPRODUCED


def test_one_seed_is_inconclusive():
    assert set(_outcomes([_seed()]).values()) == {INCONCLUSIVE}


def test_summary_counts_from_the_first_crossing():
    summary = a1.summarise(json.loads(json.dumps(_run("gd", 0.5, AT_THE_EDGE))))
    after = AT_THE_EDGE[4:]
    assert summary["crossing_step"] == 5 * EVERY
    assert summary["share"] == pytest.approx(sum(abs(r - 1) <= 0.2 for r in after) / len(after))
    assert summary["start"] == pytest.approx(0.5)
    assert summary["loss_drop"] > 0 and summary["loss_rises"] == pytest.approx(1 / 3, abs=0.01)
    rising = copy.deepcopy(_run("gd", 0.5, NEVER))
    assert a1.summarise(rising)["crossing_step"] is None


def test_square_loss_is_half_the_squared_distance_to_one_hot_targets():
    outputs = torch.tensor([[0.5, -1.0, 2.0], [0.0, 1.0, 0.0]])
    labels = torch.tensor([2, 1])
    expected = 0.5 * ((0.25 + 1.0 + 1.0) + 0.0) / 2
    assert a1.square_loss(outputs, labels).item() == pytest.approx(expected)


def test_smoke_run_reads_every_runs_sharpness_against_its_limit(tmp_path):
    measurements = a1.run("smoke", tmp_path, seed=0)
    setting = a1.PROFILES["smoke"].setting
    runs = measurements["runs"]
    assert [r["kind"] for r in runs] == ["gd"] * len(setting.gd_lrs) + ["momentum", "adam"]
    for run_ in runs:
        assert [r["step"] for r in run_["readings"]] == list(
            range(setting.every, setting.steps + 1, setting.every)
        )
        assert all(r["sharpness"] > 0 for r in run_["readings"])
        assert len(run_["losses"]) == setting.steps
    assert runs[0]["threshold"] == pytest.approx(2 / setting.gd_lrs[0])
    assert runs[-2]["threshold"] == pytest.approx((2 + 2 * setting.beta) / setting.momentum_lr)
    assert runs[-1]["threshold"] == pytest.approx(38 / setting.adam_lr)
    assert (tmp_path / measurements["figures"][0]["file"]).stat().st_size > 1000
    on_disk = json.loads(json.dumps(measurements))
    assert {r.outcome for r in a1.verdict([on_disk])} == {INCONCLUSIVE}
