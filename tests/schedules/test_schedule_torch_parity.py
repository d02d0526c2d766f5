"""optlab schedules against torch.optim.lr_scheduler where torch has the same schedule (>= 50 updates)."""

import math

import pytest
import torch
from torch.optim import lr_scheduler as T

from optlab.schedules import constant, cosine, exponential, inverse_time, linear_warmup, multistep, step_decay
from optlab.schedules import transformer as transformer_schedule

STEPS = 80


def torch_lrs(base_lr, make_scheduler, steps=STEPS):
    """The lr each of `steps` updates runs at under a torch scheduler (read before each optimizer.step())."""
    parameter = torch.nn.Parameter(torch.zeros(3))
    optimizer = torch.optim.SGD([parameter], lr=base_lr)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        parameter.grad = torch.ones(3)
        optimizer.step()
        scheduler.step()
    return lrs


CASES = {
    "StepLR": (0.1, lambda o: T.StepLR(o, step_size=7, gamma=0.5), step_decay(0.1, 7, 0.5)),
    "MultiStepLR": (
        0.1,
        lambda o: T.MultiStepLR(o, [10, 25, 40], gamma=0.3),
        multistep(0.1, [10, 25, 40], 0.3),
    ),
    "ExponentialLR": (0.1, lambda o: T.ExponentialLR(o, gamma=0.95), exponential(0.1, 0.95)),
    # torch's cosine is periodic past T_max; ours holds final_lr, so compare over exactly one period
    "CosineAnnealingLR": (
        0.1,
        lambda o: T.CosineAnnealingLR(o, T_max=STEPS - 1, eta_min=0.001),
        cosine(0.1, STEPS - 1, final_lr=0.001),
    ),
    "LinearLR warm-up": (
        0.1,
        lambda o: T.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=20),
        linear_warmup(constant(0.1), 20, start_lr=0.01),
    ),
    # LambdaLR: lr = base_lr · factor(t), with the factor written out here independently of optlab
    "LambdaLR inverse sqrt": (
        0.1,
        lambda o: T.LambdaLR(o, lambda t: 1 / math.sqrt(t + 1)),
        inverse_time(0.1),
    ),
    "LambdaLR transformer": (
        64**-0.5,
        lambda o: T.LambdaLR(o, lambda t: min((t + 1) ** -0.5, (t + 1) * 30**-1.5)),
        transformer_schedule(64, 30),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_matches_torch_scheduler(case):
    base_lr, make_scheduler, schedule = CASES[case]
    expected = torch_lrs(base_lr, make_scheduler)
    ours = [schedule(t) for t in range(STEPS)]
    # torch updates most of these recursively (lr ← lr·γ), so allow a few ulps per step of drift
    assert ours == pytest.approx(expected, rel=1e-12, abs=1e-15)
