"""optlab.schedules: learning-rate schedules as pure functions ``step -> lr`` (step 0 = the first update).

Build one (``cosine(0.1, total_steps=1000)``, or by name: ``create("cosine", 0.1, 1000, warmup_steps=100)``),
call it (``schedule(t)``), and drive any torch optimizer with it through ``attach(optimizer, schedule)``,
a ``torch.optim.lr_scheduler.LRScheduler``. Warm-up wrappers do not shift the schedule they wrap.
"""

from optlab.schedules.attach import ScheduledLR, attach
from optlab.schedules.core import (
    WSD,
    Constant,
    ConstantWarmup,
    Cosine,
    Exponential,
    InverseTime,
    LinearWarmup,
    MultiStep,
    OneCycle,
    Schedule,
    StepDecay,
    Transformer,
    constant,
    constant_warmup,
    cosine,
    exponential,
    inverse_time,
    linear_warmup,
    multistep,
    one_cycle,
    step_decay,
    transformer,
    wsd,
)
from optlab.schedules.registry import ScheduleInfo, create, info, names
from optlab.schedules.scaling import linear_scaling, sqrt_scaling

__all__ = [
    "WSD",
    "Constant",
    "ConstantWarmup",
    "Cosine",
    "Exponential",
    "InverseTime",
    "LinearWarmup",
    "MultiStep",
    "OneCycle",
    "Schedule",
    "ScheduleInfo",
    "ScheduledLR",
    "StepDecay",
    "Transformer",
    "attach",
    "constant",
    "constant_warmup",
    "cosine",
    "create",
    "exponential",
    "info",
    "inverse_time",
    "linear_scaling",
    "linear_warmup",
    "multistep",
    "names",
    "one_cycle",
    "sqrt_scaling",
    "step_decay",
    "transformer",
    "wsd",
]
