"""B6 (large batch) and SWAP: verdicts on made-up numbers, SWAP's averaging and BatchNorm recompute, smoke."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from optlab.data import Dataset, Split
from optlab.experiments import large_batch as b6
from optlab.experiments.framework import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from optlab.experiments.runner import run_job
from optlab.experiments.swap import average_states, swap_phase2


def _runs(acc_by_method: dict[str, list[float]], val_by_method: dict[str, list[float]] | None = None):
    """Measurements as run() writes them; validation accuracy = test accuracy unless given."""
    seeds = len(next(iter(acc_by_method.values())))
    val_by_method = {**acc_by_method, **(val_by_method or {})}
    runs = []
    for s in range(seeds):
        methods = {m: {"batch_size": 32 if m == "small" else 1024, "lr": 0.05, "peak_lr": 0.05,
                       "test_acc": accs[s], "val_acc": val_by_method[m][s], "updates": 100, "wall_time": 1.0}
                   for m, accs in acc_by_method.items()}  # fmt: skip
        setting = {"key": "mnist1d/mlp1d", "small_batch": 32, "large_batch": 1024, "epochs": 10,
                   "methods": methods}  # fmt: skip
        runs.append({"settings": [setting], "skipped": []})
    return json.loads(json.dumps(runs))


GOOD = {
    "small": [0.63, 0.62, 0.64],
    "large naive": [0.45, 0.44, 0.46],
    "large + scaling + warm-up": [0.60, 0.59, 0.61],
    "LARS": [0.55, 0.56, 0.54],
    "LAMB": [0.57, 0.56, 0.58],
    "SWAP": [0.625, 0.62, 0.63],
}


def test_reproduced_when_a_method_matches_the_small_batch():
    result, goyal = b6.verdict(_runs(GOOD))
    assert result.outcome == REPRODUCED
    assert result.numbers["mnist1d/mlp1d: best large-batch method (by validation)"] == "SWAP"
    # scaling + warm-up beats naive clearly but stays 2.7 points below the small batch
    assert goyal.checks == {
        "mnist1d/mlp1d: scaling + warm-up > naive beyond spread": True,
        "mnist1d/mlp1d: scaling + warm-up within 1 point of small": False,
    }
    assert goyal.outcome == NOT_REPRODUCED


def test_goyal_claim_holds_when_scaling_and_warmup_match_the_small_batch():
    matched = {**GOOD, "large + scaling + warm-up": [0.625, 0.62, 0.63]}
    assert b6.verdict(_runs(matched))[1].outcome == REPRODUCED


def test_goyal_claim_fails_when_one_seed_collapses():
    # Two good seeds and one at chance: the mean is far below and the spread swallows the gain over naive.
    collapsed = {**GOOD, "large + scaling + warm-up": [0.60, 0.56, 0.10]}
    goyal = b6.verdict(_runs(collapsed))[1]
    assert goyal.checks["mnist1d/mlp1d: scaling + warm-up > naive beyond spread"] is False
    assert goyal.outcome == NOT_REPRODUCED


def test_not_reproduced_when_every_large_batch_method_falls_short():
    short = {**GOOD, "SWAP": [0.60, 0.59, 0.61]}  # best is now 2.7 points below the small batch
    result = b6.verdict(_runs(short))[0]
    assert result.checks["mnist1d/mlp1d: best method within 1 point of small"] is False
    assert result.outcome == NOT_REPRODUCED


def test_not_reproduced_when_the_naive_large_batch_is_not_worse():
    equal = {**GOOD, "large naive": [0.62, 0.63, 0.64]}
    result = b6.verdict(_runs(equal))[0]
    assert result.checks["mnist1d/mlp1d: naive < small beyond spread"] is False
    assert result.outcome == NOT_REPRODUCED


def test_the_best_method_is_chosen_on_validation_never_on_test():
    # LARS has the best test accuracy (matching the small batch) but the worst validation accuracy: the
    # verdict must not pick it, and every other method is 2+ points short.
    test = {**GOOD, "SWAP": [0.60, 0.59, 0.61], "LARS": [0.63, 0.62, 0.64]}
    val = {"LARS": [0.40, 0.41, 0.42]}
    result = b6.verdict(_runs(test, val))[0]
    assert result.numbers["mnist1d/mlp1d: best large-batch method (by validation)"] != "LARS"
    assert result.checks["mnist1d/mlp1d: best method within 1 point of small"] is False
    assert result.outcome == NOT_REPRODUCED


def test_one_seed_is_inconclusive():
    one = {m: v[:1] for m, v in GOOD.items()}
    assert {r.outcome for r in b6.verdict(_runs(one))} == {INCONCLUSIVE}


def test_average_states_is_the_elementwise_mean_and_keeps_integer_buffers():
    a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(7)}
    out = average_states([a, b])
    assert torch.equal(out["w"], torch.tensor([2.0, 4.0]))
    assert int(out["n"]) == 3
    with pytest.raises(ValueError, match="no states"):
        average_states([])


def test_swap_averages_the_workers_and_recomputes_batchnorm_statistics():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=generator) * 3 + 2
    y = (x[:, 0] > 2).long()
    dataset = Dataset("toy", Split(x, y), Split(x[:16], y[:16]), None, 2, ("a", "b"))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    start = {k: v.clone() for k, v in model.state_dict().items()}
    result = swap_phase2(
        model, dataset, lambda p: torch.optim.SGD(p, lr=0.1), lambda t: 0.1, 16, 2, workers=3, seed=0
    )
    assert len(result.workers) == 3 and len(result.worker_test_acc) == 3
    for key, value in model.state_dict().items():  # phase 1's model is left as it was
        assert torch.equal(value, start[key])
    averaged = result.model.state_dict()
    assert not torch.equal(averaged["0.weight"], start["0.weight"])
    # The running statistics are those of the averaged weights on the training data (cumulative average
    # over batches of 256 -> one batch of 64 here: the batch mean and the unbiased batch variance).
    with torch.no_grad():
        hidden = result.model[0](x)
    assert torch.allclose(averaged["1.running_mean"], hidden.mean(0), atol=1e-5)
    assert torch.allclose(averaged["1.running_var"], hidden.var(0, unbiased=True), atol=1e-4)


def test_smoke_run_trains_every_method_and_writes_a_figure(tmp_path):
    assert run_job("B6", "smoke", 0, str(tmp_path)).error is None
    out = tmp_path / "B6" / "seed-0"  # the runner's folder of this seed
    measurements = json.loads((out / "measurements.json").read_text())["measurements"]
    methods = measurements["settings"][0]["methods"]
    assert list(methods) == list(b6.METHODS)
    assert methods["small"]["updates"] > methods["large naive"]["updates"]
    assert len(methods["SWAP"]["worker_test_acc"]) == b6.PROFILES["smoke"].setting[0].swap_workers
    small = b6.PROFILES["smoke"].setting[0]
    assert methods["large + scaling + warm-up"]["peak_lr"] == pytest.approx(
        methods["small"]["lr"] * small.large_batch / small.small_batch
    )
    assert methods["large naive"]["lr"] == methods["small"]["lr"]  # naive: the small batch's picked lr
    for method in ("small", "LARS", "LAMB"):  # each grid was searched on validation, as the runs record
        assert {g["lr"] for g in measurements["settings"][0]["lr_grids"][method]} >= {methods[method]["lr"]}
    assert (out / measurements["figures"][0]["file"]).stat().st_size > 1000
    assert {r.outcome for r in b6.verdict([measurements])} == {INCONCLUSIVE}
