"""B7 (warm-up): Adam's adaptive step size read from the optimizer, verdicts on made-up numbers, smoke."""

from __future__ import annotations

import json

import torch

from optlab import optim
from optlab.experiments import warmup as b7
from optlab.experiments.framework import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from optlab.experiments.runner import run_job


def test_adaptive_step_size_matches_the_formula_after_a_few_steps():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(6))
    lr, beta2, eps = 0.01, 0.99, 1e-8
    opt = optim.create("adam", [w], lr=lr, betas=(0.9, beta2), eps=eps)
    v = torch.zeros(6, dtype=torch.float64)
    for _ in range(3):
        opt.zero_grad()
        loss = (w**3).sum()
        loss.backward()
        g = w.grad.detach().double()
        v = beta2 * v + (1 - beta2) * g**2
        opt.step()
    expected = lr / ((v / (1 - beta2**3)).sqrt() + eps)
    index = torch.tensor([0, 2, 5])
    got = b7.adaptive_step_sizes(opt, index)
    assert torch.allclose(got.double(), expected[index], rtol=1e-5)


def _run(cvs, accs, diverged=(False, False, False, False)):
    rows = [
        {"t": t, "cv_median": cv, "cv_mean": cv, "a_median": 0.01}
        for t, cv in zip((1, 10, 200), cvs, strict=True)
    ]
    variants = {
        v: {"test_acc": a, "diverged": d} for v, a, d in zip(b7.VARIANTS, accs, diverged, strict=True)
    }
    setting = {"key": "mnist1d/mlp1d", "high_lr": 0.03, "batch_size": 128, "epochs": 20, "warmup_steps": 100}
    return {"spread": {"runs": 8, "coordinates": 100, "rows": rows}, "variants": variants, "setting": setting}


def _outcomes(runs):
    return {r.claim_id: r.outcome for r in b7.verdict(json.loads(json.dumps(runs)))}


def test_reproduced_when_the_spread_shrinks_and_warmup_helps():
    runs = [_run((0.9, 0.4, 0.1), (0.85, 0.90, 0.88, 0.80)) for _ in range(3)]
    assert _outcomes(runs) == {"B7-variance": REPRODUCED, "B7-warmup": REPRODUCED}


def test_a_spread_that_does_not_shrink_fails():
    runs = [_run((0.3, 0.35, 0.25), (0.85, 0.90, 0.88, 0.90)) for _ in range(3)]
    assert _outcomes(runs)["B7-variance"] == NOT_REPRODUCED


def test_warmup_that_does_not_help_fails_but_divergence_counts():
    no_help = [_run((0.9, 0.4, 0.1), (0.90, 0.90, 0.90, 0.90)) for _ in range(3)]
    assert _outcomes(no_help)["B7-warmup"] == NOT_REPRODUCED
    radam_fails = [_run((0.9, 0.4, 0.1), (0.85, 0.90, 0.855, 0.90)) for _ in range(3)]
    result = b7.verdict(json.loads(json.dumps(radam_fails)))[1]
    assert result.checks == {"Adam + linear warm-up helps": True, "RAdam helps": False}
    assert result.outcome == NOT_REPRODUCED
    diverging = [
        _run((0.9, 0.4, 0.1), (0.0, 0.90, 0.89, 0.90), (True, False, False, False)) for _ in range(3)
    ]
    assert _outcomes(diverging)["B7-warmup"] == REPRODUCED


def test_one_seed_is_inconclusive():
    assert set(_outcomes([_run((0.9, 0.4, 0.1), (0.85, 0.90, 0.88, 0.90))]).values()) == {INCONCLUSIVE}


def test_smoke_run_measures_the_spread_and_trains_every_variant(tmp_path):
    assert run_job("B7", "smoke", 0, str(tmp_path)).error is None
    out = tmp_path / "B7" / "seed-0"  # the runner's folder of this seed
    measurements = json.loads((out / "measurements.json").read_text())["measurements"]
    rows = measurements["spread"]["rows"]
    assert [r["t"] for r in rows] == list(b7.PROFILES["smoke"].setting.variance_steps)
    assert all(r["cv_median"] > 0 for r in rows)
    assert set(measurements["variants"]) == set(b7.VARIANTS)
    assert (out / measurements["figures"][0]["file"]).stat().st_size > 1000
    assert {r.outcome for r in b7.verdict([measurements])} == {INCONCLUSIVE}
