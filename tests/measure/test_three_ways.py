"""optlab.measure.critical_batch: known answers for Zhang et al.'s batch, the noise-scale reading, the CBS
rule, and an exact branch test on a quadratic where the answer is forced."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from optlab import optim
from optlab.data import Batcher, Split
from optlab.errors import ConfigError
from optlab.measure.critical_batch import (
    KeepStates,
    b_simple_at_loss,
    b_simple_over_training,
    branch_cbs,
    cbs_from_losses,
    lr_rule,
    scaled_lr,
    three_ways,
    zhang_from_fit,
    zhang_from_points,
)
from optlab.measure.noise_scale import fit_critical_batch
from optlab.train.core import fit

S_MIN, E_MIN = 100.0, 10_000.0  # B_crit = 100


def _steps(b: float) -> float:
    return S_MIN + E_MIN / b


def test_fit_recovers_s_min_e_min_and_zhang_from_the_fit_is_20_percent_above_linear_scaling():
    sizes = [10, 20, 40, 80, 160, 320]
    fitted = fit_critical_batch(sizes, [_steps(b) for b in sizes])
    assert fitted.s_min == pytest.approx(S_MIN, rel=1e-9)
    assert fitted.e_min == pytest.approx(E_MIN, rel=1e-9)
    assert fitted.b_crit == pytest.approx(100.0, rel=1e-9)
    b = zhang_from_fit(fitted)  # B₀ = 10: 1.2·10 + 0.2·100 = 32
    assert b == pytest.approx(32.0, rel=1e-9)
    assert _steps(b) == pytest.approx(1.2 * _steps(10) * 10 / b, rel=1e-12)
    assert zhang_from_fit(fitted, b0=0) == pytest.approx(20.0, rel=1e-9)  # 0.2·B_crit: the small-B limit


def test_zhang_from_points_interpolates_the_examples_ratio_in_log_batch():
    # r = B·S/(B₀·S₀): 1.0, 1.1, 1.3 → 1.2 is halfway from 20 to 40 in log B: √(20·40)
    sizes, steps = [10, 20, 40], [100.0, 55.0, 32.5]
    assert zhang_from_points(sizes, steps) == pytest.approx(math.sqrt(800), rel=1e-12)
    assert zhang_from_points([40, 10, 20], [32.5, 100.0, 55.0]) == pytest.approx(math.sqrt(800))
    assert zhang_from_points([10, 20], [100.0, 50.0]) == math.inf  # perfect scaling: never 20 % above
    # on the exact hyperbola with a fine grid it approaches the fit's answer (32)
    grid = [10 * 2 ** (i / 8) for i in range(40)]
    assert zhang_from_points(grid, [_steps(b) for b in grid]) == pytest.approx(32.0, rel=2e-3)
    with pytest.raises(ConfigError):
        zhang_from_points([10], [5.0])


def test_b_simple_at_loss_reads_the_first_reading_at_the_target():
    history = [
        {"step": 10, "b_simple": 5.0, "b_simple_raw": 4.0, "loss": 2.0},
        {"step": 20, "b_simple": 9.0, "b_simple_raw": 11.0, "loss": 0.9},
        {"step": 30, "b_simple": 15.0, "b_simple_raw": 16.0, "loss": 0.5},
    ]
    assert b_simple_at_loss(history, 1.0) == 9.0
    assert b_simple_at_loss(history, 0.1) == 15.0  # never reached: the last reading
    assert math.isnan(b_simple_at_loss([], 1.0))
    assert b_simple_over_training(history)["b_simple_raw"] == [4.0, 11.0, 16.0]


def test_cbs_is_the_largest_batch_before_the_first_one_outside_the_tolerance():
    sizes = [8, 16, 32, 64, 128]
    assert cbs_from_losses(sizes, [1.0, 1.01, 1.02, 1.5, 1.0], eps=0.02) == 32  # 128 after a failure: no
    assert cbs_from_losses(sizes, [1.0, 1.03, 1.0, 1.0, 1.0], eps=0.02) == 8
    assert cbs_from_losses(sizes, [1.0, 0.9, 0.8, math.nan, 0.7], eps=0.02) == 32


def test_lr_rules():
    assert lr_rule("sgd") == "linear" and lr_rule("Adam") == "sqrt" and lr_rule("adamw") == "sqrt"
    assert lr_rule("momentum") == "linear" and lr_rule("lars") == "linear" and lr_rule("rmsprop") == "sqrt"
    assert scaled_lr(0.1, 4, "linear") == pytest.approx(0.4)
    assert scaled_lr(0.1, 4, "sqrt") == pytest.approx(0.2)
    with pytest.raises(ConfigError):
        scaled_lr(0.1, 4, "cubic")


def _quadratic(n: int = 64) -> tuple[nn.Module, Split]:
    """f(w) = ½w² on every example (x = 1, y = 0): every batch's gradient is exactly w, no noise."""
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    return model, Split(torch.ones(n, 1), torch.zeros(n, 1))


def _half_square(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.5 * (out - y).square().mean()


def test_branches_on_a_quadratic_match_the_closed_form_and_the_forced_cbs(one_torch_thread):
    # From w = 1, k·B with lr k·η for window/(k·B) steps gives w = (1 − kη)^(16/k): η = 0.1, B = 4,
    # window 64: k = 1, 2, 4, 8 end below the base (the loss falls faster with fewer, larger steps on a
    # noiseless quadratic), k = 16 overshoots (|1 − 1.6| = 0.6): the CBS is forced to 8·4 = 32.
    model, split = _quadratic()
    state = {"model": model.state_dict(), "optimizer": optim.create("sgd", model.parameters(), lr=0.1)}
    state["optimizer"] = state["optimizer"].state_dict()
    make = lambda params, lr: optim.create("sgd", params, lr=lr)  # noqa: E731
    (result,) = branch_cbs(model, make, {0: state}, split, 4, 0.1, ks=(1, 2, 4, 8, 16), window=64,
                           rule="linear", eps=0.0, loss_fn=_half_square)  # fmt: skip
    expected = [0.5 * (1 - k * 0.1) ** (2 * 16 // k) for k in (1, 2, 4, 8, 16)]
    assert result.losses == pytest.approx(expected, rel=1e-5)
    assert result.steps == [16, 8, 4, 2, 1]
    assert result.lrs == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6])
    assert result.cbs == 32 and not result.capped
    # √ rule: lr 0.1·√k; the tolerance decides with eps as given
    (root,) = branch_cbs(model, make, {0: state}, split, 4, 0.1, ks=(1, 4), window=64, rule="sqrt",
                         loss_fn=_half_square)  # fmt: skip
    assert root.lrs == pytest.approx([0.1, 0.2])
    assert root.losses[1] == pytest.approx(0.5 * 0.8 ** (2 * 4), rel=1e-5)
    assert model.weight.item() == 1.0  # the template is not changed
    with pytest.raises(ConfigError):
        branch_cbs(model, make, {0: state}, split, 4, 0.1, ks=(2, 4), window=64, rule="linear")


def test_branches_cool_down_linearly_over_their_last_updates(one_torch_thread):
    # 16 updates of lr 0.1 on ½w², the last half (8) cooling down: update t (0-based) uses 0.1 up to t = 8,
    # then 0.1·(1 − (t − 8)/8), so w = 0.9⁹ · Π_{j=1..7} (1 − 0.1·(1 − j/8)).
    model, split = _quadratic()
    state = {"model": model.state_dict(), "optimizer": optim.create("sgd", model.parameters(), lr=0.1)}
    state["optimizer"] = state["optimizer"].state_dict()
    make = lambda params, lr: optim.create("sgd", params, lr=lr)  # noqa: E731
    (result,) = branch_cbs(model, make, {0: state}, split, 4, 0.1, ks=(1, 2), window=64, rule="linear",
                           cooldown=0.5, loss_fn=_half_square)  # fmt: skip
    w = 0.9**9 * math.prod(1 - 0.1 * (1 - j / 8) for j in range(1, 8))
    assert result.losses[0] == pytest.approx(0.5 * w**2, rel=1e-5)
    w2 = 0.8**5 * math.prod(1 - 0.2 * (1 - j / 4) for j in range(1, 4))  # k = 2: 8 updates, 4 cooling down
    assert result.losses[1] == pytest.approx(0.5 * w2**2, rel=1e-5)
    for bad in (-0.1, 1.5):
        with pytest.raises(ConfigError, match="invalid cool-down fraction"):
            branch_cbs(model, make, {0: state}, split, 4, 0.1, window=64, rule="linear", cooldown=bad)


def test_keep_states_holds_the_state_after_that_update(one_torch_thread):
    torch.manual_seed(0)
    split = Split(torch.randn(32, 3), torch.randint(0, 2, (32,)))

    def train(max_steps: int, callbacks=()):
        torch.manual_seed(1)
        net = nn.Linear(3, 2)
        opt = optim.create("sgd", net.parameters(), lr=0.1, momentum=0.9)
        fit(net, opt, Batcher(split, 4, seed=0), lambda _: 0.1, epochs=10, max_steps=max_steps,
            callbacks=callbacks)  # fmt: skip
        return net, opt

    keep = KeepStates([3])
    train(6, [keep])
    net, opt = train(3)
    for name, value in net.state_dict().items():
        assert torch.equal(keep.states[3]["model"][name], value)
    buffers = keep.states[3]["optimizer"]["state"]
    assert torch.equal(buffers[0]["momentum_buffer"], opt.state_dict()["state"][0]["momentum_buffer"])


def test_three_ways_collects_the_estimates():
    sizes = [10, 20, 40, 80, 160, 320]
    fitted = fit_critical_batch(sizes, [_steps(b) for b in sizes])
    history = [{"step": 1, "b_simple": 70.0, "b_simple_raw": 60.0, "loss": 0.4}]
    result = three_ways(fitted, history, target=0.5)
    assert (result.b_simple, result.b_crit) == (70.0, pytest.approx(100.0))
    assert result.zhang_fit == pytest.approx(32.0)
