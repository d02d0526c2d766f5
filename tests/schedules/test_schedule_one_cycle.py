"""one_cycle (Smith & Topin 2019's 1cycle) against torch's OneCycleLR, and its edges."""

import pytest
import torch
from torch.optim import lr_scheduler as T

from optlab.errors import ConfigError
from optlab.schedules import create, one_cycle


def torch_one_cycle(steps: int, **kwargs) -> list[float]:
    parameter = torch.nn.Parameter(torch.zeros(3))
    optimizer = torch.optim.SGD([parameter], lr=0.1)
    scheduler = T.OneCycleLR(optimizer, max_lr=0.4, total_steps=steps, cycle_momentum=False, **kwargs)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        parameter.grad = torch.ones(3)
        optimizer.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"anneal_strategy": "linear"},
        {"pct_start": 0.15, "div_factor": 10.0, "final_div_factor": 100.0},
        {"pct_start": 0.5, "anneal_strategy": "linear", "div_factor": 1e3},
    ],
)
@pytest.mark.parametrize("steps", [80, 333])
def test_matches_torch_one_cycle_lr(kwargs, steps):
    ours = one_cycle(
        0.4,
        steps,
        pct_start=kwargs.get("pct_start", 0.3),
        div_factor=kwargs.get("div_factor", 25.0),
        final_div_factor=kwargs.get("final_div_factor", 1e4),
        anneal="linear" if kwargs.get("anneal_strategy") == "linear" else "cos",
    )
    assert [ours(t) for t in range(steps)] == pytest.approx(torch_one_cycle(steps, **kwargs), rel=1e-12)


def test_peak_end_and_past_end():
    schedule = create("one_cycle", 0.2, 100, anneal="linear", div_factor=20.0, final_div_factor=5.0)
    assert schedule(0) == pytest.approx(0.01)
    assert max(schedule(t) for t in range(100)) == pytest.approx(0.2)
    assert schedule(29) == pytest.approx(0.2)  # pct_start · 100 − 1: the last warm-up step
    assert schedule(99) == schedule(500) == pytest.approx(0.002)  # lr / (20 · 5) from the last update on


def test_too_short_for_a_warm_up_starts_at_lr():
    schedule = one_cycle(0.1, 2)  # 0.3 · 2 − 1 < 0: no warm-up step
    assert schedule(0) == 0.1
    assert schedule(1) == pytest.approx(0.1 / 25 / 1e4)
    assert one_cycle(0.1, 1)(0) == pytest.approx(0.1 / 25 / 1e4)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pct_start": 0.0}, "pct_start"),
        ({"pct_start": 1.0}, "pct_start"),
        ({"div_factor": 0}, "div_factor"),
        ({"final_div_factor": -1}, "final_div_factor"),
        ({"anneal": "exp"}, "anneal"),
    ],
)
def test_bad_arguments_name_the_argument(options, message):
    with pytest.raises(ConfigError, match=message):
        create("one_cycle", 0.1, 100, **options)
