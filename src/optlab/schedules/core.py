"""Learning-rate schedules as pure functions ``step -> lr``; ``step = 0`` is the first update.

Every schedule is a small frozen dataclass rather than a closure, so that it is

* callable: ``cosine(0.1, total_steps=1000)(250)`` is the lr of update 250;
* picklable: the trainer stores it and experiments ship it to subprocesses;
* comparable and hashable: two schedules built the same way are equal;
* readable: its repr is the call that builds it, e.g. ``cosine(lr=0.1, total_steps=1000, final_lr=0.0)``.

Arguments are checked when the schedule is built; a bad one raises :class:`optlab.errors.ConfigError` (a
``ValueError``) whose message names the schedule, the argument, the valid range and the value given.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from optlab.errors import ConfigError

__all__ = [
    "Schedule",
    "constant",
    "constant_warmup",
    "cosine",
    "exponential",
    "inverse_time",
    "linear_warmup",
    "multistep",
    "one_cycle",
    "step_decay",
    "transformer",
    "wsd",
]


# ----------------------------------------------------------------------------------------------------
# argument checks: one line naming the schedule, the argument, the valid range and the value given
# ----------------------------------------------------------------------------------------------------
def _check_int(owner: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = operator.index(value)  # numpy / torch integers are fine, floats are not
        except TypeError:
            raise ConfigError(f"{owner}: {name} must be an integer >= {minimum}, got {value!r}") from None
    if value < minimum:
        raise ConfigError(f"{owner}: {name} must be an integer >= {minimum}, got {value}")
    return int(value)


def _check_float(owner: str, name: str, value: Any, *, minimum: float, strict: bool) -> float:
    """A finite real number > minimum (strict) or >= minimum."""
    relation = ">" if strict else ">="
    message = f"{owner}: {name} must be a finite number {relation} {minimum:g}, got {value!r}"
    if isinstance(value, bool):
        raise ConfigError(message)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(message) from None
    if not math.isfinite(number) or number < minimum or (strict and number == minimum):
        raise ConfigError(message)
    return number


def _check_schedule(owner: str, value: Any) -> Schedule:
    if not isinstance(value, Schedule):
        raise ConfigError(
            f"{owner}: schedule must be an optlab schedule (e.g. cosine(...)), got {type(value).__name__}"
        )
    return value


def _set(obj: object, name: str, value: Any) -> None:
    """Store a normalised argument on a frozen dataclass (only ever while __post_init__ runs)."""
    object.__setattr__(obj, name, value)


# ----------------------------------------------------------------------------------------------------
# base class
# ----------------------------------------------------------------------------------------------------
class Schedule:
    """A learning-rate schedule: ``schedule(step) -> lr`` for ``step = 0, 1, 2, ...`` (0 = the first update).

    Subclasses are frozen dataclasses that implement :meth:`lr_at` for a validated, non-negative integer step.
    """

    #: the public (lower-case) name that builds this schedule; its repr reads as that call
    builder: str = "schedule"

    def __call__(self, step: int) -> float:
        if isinstance(step, bool):
            raise TypeError(f"step must be an integer, got {step!r}")
        step = operator.index(step)
        if step < 0:
            raise ValueError(f"step must be >= 0 (0 is the first update), got {step}")
        return float(self.lr_at(step))

    def lr_at(self, step: int) -> float:
        raise NotImplementedError

    def _float(self, name: str, *, strict: bool = False) -> None:
        """Check argument ``name``, a finite number > 0 (``strict``) or >= 0, and store it as a float."""
        _set(self, name, _check_float(self.builder, name, getattr(self, name), minimum=0.0, strict=strict))

    def _int(self, name: str, minimum: int) -> None:
        """Check argument ``name``, an integer >= ``minimum``, and store it as an int."""
        _set(self, name, _check_int(self.builder, name, getattr(self, name), minimum))

    def __repr__(self) -> str:
        arguments = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))  # type: ignore[arg-type]
        return f"{self.builder}({arguments})"


# ----------------------------------------------------------------------------------------------------
# decays
# ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class Constant(Schedule):
    """lr_t = lr."""

    lr: float
    builder = "constant"

    def __post_init__(self) -> None:
        self._float("lr")

    def lr_at(self, step: int) -> float:
        return self.lr


@dataclass(frozen=True, repr=False)
class StepDecay(Schedule):
    """lr_t = lr · gamma^⌊t / step_size⌋ (torch's ``StepLR``): multiply by ``gamma`` every ``step_size``
    updates."""

    lr: float
    step_size: int
    gamma: float
    builder = "step_decay"

    def __post_init__(self) -> None:
        self._float("lr")
        self._int("step_size", 1)
        self._float("gamma", strict=True)

    def lr_at(self, step: int) -> float:
        return self.lr * self.gamma ** (step // self.step_size)


@dataclass(frozen=True, repr=False)
class MultiStep(Schedule):
    """lr_t = lr · gamma^(number of milestones m with m <= t) (torch's ``MultiStepLR``).

    ``milestones``: strictly increasing steps, as integers or as text (``"100,200"``).
    """

    lr: float
    milestones: tuple[int, ...]
    gamma: float
    builder = "multistep"

    def __post_init__(self) -> None:
        self._float("lr")
        self._float("gamma", strict=True)
        milestones = self.milestones
        if isinstance(milestones, str):  # "100,200" from a command line or a config file
            try:
                milestones = [int(part) for part in milestones.split(",") if part.strip()]
            except ValueError:
                raise ConfigError(
                    f"multistep: milestones must be integers separated by commas, got {self.milestones!r}"
                ) from None
        if not isinstance(milestones, Iterable):
            raise ConfigError(f"multistep: milestones must be a sequence of integers, got {milestones!r}")
        checked = tuple(_check_int(self.builder, "milestones", m, 1) for m in milestones)
        if any(b <= a for a, b in itertools.pairwise(checked)):
            raise ConfigError(f"multistep: milestones must be strictly increasing, got {list(checked)}")
        _set(self, "milestones", checked)

    def lr_at(self, step: int) -> float:
        return self.lr * self.gamma ** bisect.bisect_right(self.milestones, step)


@dataclass(frozen=True, repr=False)
class Exponential(Schedule):
    """lr_t = lr · gamma^t (torch's ``ExponentialLR``); gamma > 1 grows the lr, as in an lr range test."""

    lr: float
    gamma: float
    builder = "exponential"

    def __post_init__(self) -> None:
        self._float("lr")
        self._float("gamma", strict=True)

    def lr_at(self, step: int) -> float:
        return self.lr * self.gamma**step


@dataclass(frozen=True, repr=False)
class InverseTime(Schedule):
    """lr_t = lr / (t + 1)^power.

    power = 0.5 is the η/√(t+1) of the convergence proofs for (sub)gradient methods and Adagrad; power = 1 is
    the Robbins–Monro rate Σ lr_t = ∞, Σ lr_t² < ∞.
    """

    lr: float
    power: float = 0.5
    builder = "inverse_time"

    def __post_init__(self) -> None:
        self._float("lr")
        self._float("power")

    def lr_at(self, step: int) -> float:
        return self.lr / (step + 1) ** self.power


@dataclass(frozen=True, repr=False)
class Cosine(Schedule):
    """lr_t = final_lr + (lr − final_lr) · (1 + cos(π·t / T)) / 2 for t <= T = total_steps, then final_lr.

    Loshchilov & Hutter 2017 (SGDR) without restarts; equals torch's ``CosineAnnealingLR(T_max=total_steps,
    eta_min=final_lr)`` for t <= total_steps. Past the end it stays at ``final_lr`` (torch's rises again).
    """

    lr: float
    total_steps: int
    final_lr: float = 0.0
    builder = "cosine"

    def __post_init__(self) -> None:
        self._float("lr")
        self._int("total_steps", 1)
        self._float("final_lr")

    def lr_at(self, step: int) -> float:
        progress = min(step, self.total_steps) / self.total_steps
        return self.final_lr + (self.lr - self.final_lr) * (1.0 + math.cos(math.pi * progress)) / 2.0


@dataclass(frozen=True, repr=False)
class Transformer(Schedule):
    """lr_t = scale · d_model^−0.5 · min(s^−0.5, s · warmup_steps^−1.5) with s = t + 1.

    Vaswani et al. 2017, "Attention is all you need", eq. (3): linear warm-up for ``warmup_steps`` updates,
    then decay ∝ 1/√s. The peak, at s = warmup_steps, is scale / √(d_model · warmup_steps) (≈ 6.99e-4 for the
    paper's d_model = 512, warmup_steps = 4000). ``step + 1`` because the paper counts steps from 1.
    """

    d_model: int
    warmup_steps: int
    scale: float = 1.0
    builder = "transformer"

    def __post_init__(self) -> None:
        self._int("d_model", 1)
        self._int("warmup_steps", 1)
        self._float("scale", strict=True)

    @property
    def peak_lr(self) -> float:
        """The largest lr, reached at step ``warmup_steps − 1`` (s = warmup_steps)."""
        return self.scale / math.sqrt(self.d_model * self.warmup_steps)

    def lr_at(self, step: int) -> float:
        s = step + 1
        return self.scale * self.d_model**-0.5 * min(s**-0.5, s * self.warmup_steps**-1.5)


@dataclass(frozen=True, repr=False)
class WSD(Schedule):
    """Warmup–stable–decay without its warm-up (compose with :func:`linear_warmup`): lr until the cool-down,
    then down to ``final_lr`` over the last ``decay_steps`` updates of ``total_steps``, then ``final_lr``.

    With S = total_steps − decay_steps and progress p = (t − S) / decay_steps for S <= t <= total_steps::

        linear:  lr_t = final_lr + (lr − final_lr) · (1 − p)
        1-sqrt:  lr_t = final_lr + (lr − final_lr) · (1 − √p)

    Hu et al. 2024 (MiniCPM, "WSD"); the 1 − √ cool-down from Hägele et al. 2024, "Scaling Laws and
    Compute-Optimal Training Beyond Fixed Training Durations", which found it better than linear.
    """

    lr: float
    total_steps: int
    decay_steps: int
    final_lr: float = 0.0
    shape: str = "linear"
    builder = "wsd"

    def __post_init__(self) -> None:
        self._float("lr")
        self._int("total_steps", 1)
        self._int("decay_steps", 1)
        if self.decay_steps > self.total_steps:
            raise ConfigError(
                f"wsd: decay_steps must be <= total_steps ({self.total_steps}), got {self.decay_steps}"
            )
        self._float("final_lr")
        if self.shape not in WSD_SHAPES:
            raise ConfigError(f"wsd: shape must be one of {', '.join(WSD_SHAPES)}, got {self.shape!r}")

    def lr_at(self, step: int) -> float:
        start = self.total_steps - self.decay_steps  # S, the first step of the cool-down
        if step <= start:
            return self.lr
        progress = min(step - start, self.decay_steps) / self.decay_steps  # p
        if self.shape == "linear":
            return self.final_lr + (self.lr - self.final_lr) * (1.0 - progress)
        return self.final_lr + (self.lr - self.final_lr) * (1.0 - math.sqrt(progress))


WSD_SHAPES = ("linear", "1-sqrt")


@dataclass(frozen=True, repr=False)
class OneCycle(Schedule):
    """One cycle: up from lr / div_factor to lr over the first pct_start of the run, then down to
    lr / (div_factor · final_div_factor) at the last update (step total_steps − 1), and there past it.

    Smith & Topin 2019, "Super-convergence: very fast training of neural networks using large learning
    rates" (the 1cycle policy; its momentum cycle is not part of a learning-rate schedule). The values equal
    torch's ``OneCycleLR(max_lr=lr, total_steps, pct_start, div_factor, final_div_factor, anneal_strategy)``
    step for step (``anneal`` "cos" or "linear" interpolates each phase). With P = pct_start · total_steps − 1
    (torch's last warm-up step) and L = total_steps − 1::

        t <= P:       anneal(lr / div_factor, lr, t / P)
        P < t < L:    anneal(lr, min_lr, (t − P) / (L − P))
        t >= L:       min_lr = lr / (div_factor · final_div_factor)

    A run too short for a warm-up (P <= 0) starts at lr.
    """

    lr: float
    total_steps: int
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    anneal: str = "cos"
    builder = "one_cycle"

    def __post_init__(self) -> None:
        self._float("lr")
        self._int("total_steps", 1)
        pct = _check_float(self.builder, "pct_start", self.pct_start, minimum=0.0, strict=True)
        if pct >= 1.0:
            raise ConfigError(f"one_cycle: pct_start must be a number in (0, 1), got {self.pct_start!r}")
        _set(self, "pct_start", pct)
        self._float("div_factor", strict=True)
        self._float("final_div_factor", strict=True)
        if self.anneal not in ("cos", "linear"):
            raise ConfigError(f"one_cycle: anneal must be 'cos' or 'linear', got {self.anneal!r}")

    def _anneal(self, start: float, end: float, progress: float) -> float:
        if self.anneal == "linear":
            return (end - start) * progress + start
        return end + (start - end) / 2.0 * (math.cos(math.pi * progress) + 1)

    def lr_at(self, step: int) -> float:
        initial = self.lr / self.div_factor
        final = initial / self.final_div_factor
        peak, last = self.pct_start * self.total_steps - 1, self.total_steps - 1
        if peak > 0 and step <= peak:
            return self._anneal(initial, self.lr, step / peak)
        if step >= last:
            return final
        start = max(peak, 0.0)
        return self._anneal(self.lr, final, (step - start) / (last - start))


# ----------------------------------------------------------------------------------------------------
# warm-up wrappers. The wrapped schedule is NOT shifted: its clock runs from step 0 as usual and the warm-up
# replaces its first `warmup_steps` values: `linear_warmup(cosine(lr, T), W)` still reaches final_lr at step
# T, and the lr is continuous at the join (the warm-up ends exactly at schedule(warmup_steps)).
# ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class LinearWarmup(Schedule):
    """lr_t = start_lr + (schedule(W) − start_lr) · t / W for t < W = warmup_steps; schedule(t) for t >= W.

    Goyal et al. 2017 ("gradual warm-up"). The wrapped schedule is not shifted (see the module notes): step W
    gets schedule(W), exactly where the line ends. With ``start_lr = 0`` the first update (t = 0) has lr 0.
    """

    schedule: Schedule
    warmup_steps: int
    start_lr: float = 0.0
    builder = "linear_warmup"

    def __post_init__(self) -> None:
        _set(self, "schedule", _check_schedule(self.builder, self.schedule))
        self._int("warmup_steps", 0)
        self._float("start_lr")

    def lr_at(self, step: int) -> float:
        if step >= self.warmup_steps:
            return self.schedule(step)
        target = self.schedule(self.warmup_steps)
        return self.start_lr + (target - self.start_lr) * step / self.warmup_steps


@dataclass(frozen=True, repr=False)
class ConstantWarmup(Schedule):
    """lr_t = warmup_lr for t < warmup_steps; then schedule(t) (not shifted, like :class:`LinearWarmup`).

    He et al. 2016 (ResNet-110 on CIFAR-10): lr 0.01 "until the training error is below 80% (about 400
    iterations)", then back to 0.1 and the usual step schedule. The error criterion is approximated by a step
    count.
    """

    schedule: Schedule
    warmup_steps: int
    warmup_lr: float
    builder = "constant_warmup"

    def __post_init__(self) -> None:
        _set(self, "schedule", _check_schedule(self.builder, self.schedule))
        self._int("warmup_steps", 0)
        self._float("warmup_lr")

    def lr_at(self, step: int) -> float:
        return self.warmup_lr if step < self.warmup_steps else self.schedule(step)


# ----------------------------------------------------------------------------------------------------
# the public builders, lower-case as a user writes them: the classes themselves (same arguments, and each
# repr reads as the call), so ``cosine(0.1, total_steps=1000)`` is ``Cosine(0.1, total_steps=1000)``
# ----------------------------------------------------------------------------------------------------
constant = Constant
step_decay = StepDecay
multistep = MultiStep
exponential = Exponential
inverse_time = InverseTime
cosine = Cosine
linear_warmup = LinearWarmup
constant_warmup = ConstantWarmup
transformer = Transformer
wsd = WSD
one_cycle = OneCycle
