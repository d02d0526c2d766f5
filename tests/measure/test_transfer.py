"""Moving hyperparameters across batch sizes (each rule against its paper's formula) and the lr sweep that
checks them (known answers)."""

from __future__ import annotations

import math

import pytest
import torch

from optlab.data import Split
from optlab.errors import ConfigError
from optlab.measure.transfer import lr_sweep, short_run_loss, transfer
from optlab.schedules.scaling import noise_scaling, surge_scaling, timescale_weight_decay


def test_noise_scaling_is_mccandlish_eq_2_6():
    # ε(B) = ε_max/(1 + B_noise/B): the ratio between two batch sizes, by hand
    assert noise_scaling(0.1, 512, 128, 256.0) == pytest.approx(0.1 * (1 + 2.0) / (1 + 0.5))
    assert noise_scaling(0.1, 256, 128, 1e12) == pytest.approx(0.2)  # B ≪ B_noise: Goyal's linear rule
    flat = [noise_scaling(0.1, b, 16, 64.0) for b in (4096, 8192, 16384)]
    assert flat[-1] / flat[0] < 1.02  # B ≫ B_noise: flat


def test_surge_rises_as_sqrt_peaks_at_b_noise_and_falls():
    b_noise = 256
    lrs = {b: surge_scaling(1.0, b, 16, b_noise) for b in (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)}
    assert max(lrs, key=lrs.get) == b_noise
    assert lrs[4096] < lrs[1024] < lrs[b_noise]  # falling past B_noise, as 1/√B
    far = surge_scaling(1.0, 65536, 16, b_noise) / surge_scaling(1.0, 16384, 16, b_noise)
    assert far == pytest.approx(0.5, rel=0.02)  # ×4 the batch far past B_noise: ½ the lr
    assert surge_scaling(1.0, 64, 16, 1e12) == pytest.approx(2.0)  # B ≪ B_noise: the √ rule
    # Li et al.'s ε_opt(B) = ε_max/(½(√(B_noise/B) + √(B/B_noise))), ratio at B = 64 vs 16
    expected = (math.sqrt(256 / 16) + math.sqrt(16 / 256)) / (math.sqrt(256 / 64) + math.sqrt(64 / 256))
    assert lrs[64] == pytest.approx(expected)


def test_weight_decay_keeps_adamws_timescale():
    lam = timescale_weight_decay(0.1, 1e-3, 128, 2e-3, 512)
    tau = lambda b, eta, lam_: b / (eta * lam_)  # noqa: E731 (τ·D, the same D on both sides)
    assert tau(512, 2e-3, lam) == pytest.approx(tau(128, 1e-3, 0.1))
    assert timescale_weight_decay(0.1, 1e-3, 128, 1e-3, 512) == pytest.approx(0.4)  # fixed η: λ ∝ B


def test_transfer_names_each_rule_and_its_source():
    rules = {r.name: r for r in transfer("adamw", 1e-3, 128, 512, beta2=0.999, weight_decay=0.1)}
    assert set(rules) == {"learning rate", "β₂", "weight decay"}
    assert rules["learning rate"].after == pytest.approx(2e-3) and rules["learning rate"].rule == "sqrt"
    assert rules["β₂"].after == pytest.approx(0.999**4) and "Marek" in rules["β₂"].source
    assert (
        rules["weight decay"].after == pytest.approx(0.1 * 4 / 2)
        and "Bergsma" in rules["weight decay"].source
    )
    (sgd,) = transfer("momentum", 0.1, 128, 512)
    assert (sgd.rule, sgd.after) == ("linear", pytest.approx(0.4)) and "Goyal" in sgd.source
    (noisy,) = transfer("sgd", 0.1, 128, 512, b_noise=256.0)
    assert noisy.rule == "noise" and noisy.after == pytest.approx(noise_scaling(0.1, 512, 128, 256.0))
    (adam,) = transfer("adam", 1e-3, 128, 4096, b_noise=256.0)
    assert adam.rule == "surge" and adam.after < 1e-3 * math.sqrt(32)  # past B_noise: below the √ rule
    assert "Li et al. 2024" in adam.sentence()


def test_lr_sweep_finds_a_known_best_and_says_how_far_off_the_checked_lr_is():
    def loss_at(lr):  # a bowl in log lr with its bottom at 0.1
        return (math.log2(lr / 0.1)) ** 2

    near = lr_sweep(loss_at, 0.1 * math.sqrt(2))
    assert near.best == pytest.approx(0.1) and near.agrees and near.bracketed and near.steps_off == 1
    far = lr_sweep(loss_at, 0.4)  # 4 √2 steps above: the grid extends downwards until the bottom is bracketed
    assert far.best == pytest.approx(0.1) and far.bracketed and not far.agrees and far.steps_off == 4
    assert "4 √2 steps" in far.sentence() and "checked" in near.sentence()
    assert far.lrs == sorted(far.lrs) and len(far.lrs) == len(far.losses) == 8  # k = −5 … 2


def test_lr_sweep_counts_divergence_as_worse_and_reports_an_unbracketed_edge():
    sweep = lr_sweep(lambda lr: math.nan if lr > 0.12 else -lr, 0.1, max_points=6)
    assert sweep.best == pytest.approx(0.1) and math.inf in sweep.losses
    capped = lr_sweep(lambda lr: -lr, 1.0, max_points=5)  # always better higher: cannot bracket
    assert not capped.bracketed and "edge" in capped.sentence()
    with pytest.raises(ConfigError, match="lr must be"):
        lr_sweep(lambda lr: 0.0, -1.0)


def test_short_run_loss_trains_from_the_same_weights_for_every_lr():
    torch.manual_seed(0)
    x = torch.randn(512, 8)
    y = (x[:, 0] > 0).long()
    split = Split(x, y)

    def model_fn():
        return torch.nn.Linear(8, 2)

    loss_at = short_run_loss(model_fn, "sgd", split, 32, 40, seed=3)
    assert loss_at(0.5) == loss_at(0.5)  # deterministic: same weights, same batches
    assert loss_at(0.5) < loss_at(1e-4) < math.log(2) + 0.1  # a useful lr learns, a tiny one barely moves
    assert loss_at(1e6) == math.inf or loss_at(1e6) > loss_at(0.5)
