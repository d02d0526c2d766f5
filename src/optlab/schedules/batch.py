"""Batch-size schedules as pure functions ``examples_seen -> B``, and the rules that move lr and β₂ with B.

A batch-size schedule is indexed by the number of training examples seen so far, not by the step: the step
count itself depends on the batch sizes taken (a run of E examples at batch B takes E/B steps). The
:class:`optlab.data.Batcher` takes one in place of ``batch_size`` and gives each batch the size the schedule
gives at the examples seen before it; ``optlab train --batch-schedule NAME`` builds one by name.

* :func:`piecewise` — B_0 until e_1 examples, B_1 until e_2, …, the last size after that.
* :func:`ramp` — from ``start`` to ``end`` over ``examples`` examples, doubling (default) or linear.
* :func:`cbs_driven` — follows a measured critical-batch-size curve CBS(e), rounded down to a power of two
  and clipped to [min_batch, max_batch] (Merrill et al. 2025's batch-size warm-up).

Like the lr schedules (:mod:`optlab.schedules.core`), each is a frozen dataclass: callable, picklable,
comparable, with the repr of the call that builds it; a bad argument raises :class:`ConfigError` naming the
schedule, the argument, the valid range and the value given. Arguments also come as text from a command line
or a config file: a sequence as ``"32,64,128"``, a CBS point as ``"examples:cbs"``, a count as ``1e6``.

The rules for the other hyperparameters when B changes from the first batch size B₀ (each optional in
``optlab train``): the learning rate by :func:`lr_factor` (``linear``: η·B/B₀, Goyal et al. 2017;
``sqrt``: η·√(B/B₀), Malladi et al. 2022 for Adam), Adam's β₂ by :func:`half_life_beta2` (β₂^(B/B₀): the
same half-life of the second-moment average in examples, Marek et al. 2025).
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import inspect
import itertools
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from optlab.errors import ConfigError
from optlab.schedules.core import _check_float, _check_int, _set

__all__ = [
    "BETA2_RULES",
    "LR_RULES",
    "BatchSchedule",
    "BatchScheduleInfo",
    "CbsDriven",
    "Piecewise",
    "Ramp",
    "batch_schedule_info",
    "batch_schedule_names",
    "cbs_driven",
    "create_batch_schedule",
    "half_life_beta2",
    "lr_factor",
    "piecewise",
    "ramp",
]


# ----------------------------------------------------------------------------------------------------
# argument parsing: numbers and sequences as Python values or as command-line / config-file text
# ----------------------------------------------------------------------------------------------------
def _number(value: Any) -> Any:
    """``"32"`` → 32, ``"1e6"`` → 1e6; anything else is returned for the checks to report."""
    if isinstance(value, str):
        for kind in (int, float):
            with contextlib.suppress(ValueError):
                return kind(value.strip())
    return value


def _count(owner: str, name: str, value: Any, minimum: int) -> int:
    """A count of examples or a batch size: an integer >= minimum (``1e6``, an integral float, is fine)."""
    value = _number(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    return _check_int(owner, name, value, minimum)


def _items(owner: str, name: str, value: Any) -> tuple[Any, ...]:
    """A sequence: a list or tuple, ``"a,b,c"``, or a single value (one item)."""
    if isinstance(value, str):
        return tuple(part for part in value.split(",") if part.strip())
    if isinstance(value, list | tuple):
        return tuple(value)
    if value is None:
        raise ConfigError(f"{owner}: {name} must be a sequence, got None")
    return (value,)


# ----------------------------------------------------------------------------------------------------
# base class
# ----------------------------------------------------------------------------------------------------
class BatchSchedule:
    """A batch-size schedule: ``schedule(examples_seen) -> B``, an integer >= 1, for ``examples_seen >= 0``.

    Subclasses are frozen dataclasses that implement :meth:`size_at` for a validated, non-negative count.
    """

    #: the public (lower-case) name that builds this schedule; its repr reads as that call
    builder: str = "batch_schedule"

    def __call__(self, examples: int) -> int:
        if isinstance(examples, bool):
            raise TypeError(f"examples seen must be an integer, got {examples!r}")
        examples = operator.index(examples)
        if examples < 0:
            raise ValueError(f"examples seen must be >= 0, got {examples}")
        return self.size_at(examples)

    def size_at(self, examples: int) -> int:
        raise NotImplementedError

    def __repr__(self) -> str:
        arguments = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))  # type: ignore[arg-type]
        return f"{self.builder}({arguments})"


# ----------------------------------------------------------------------------------------------------
# the schedules
# ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class Piecewise(BatchSchedule):
    """B(e) = sizes[k] for boundaries[k−1] <= e < boundaries[k] (boundaries[−1] = 0, boundaries[K] = ∞).

    ``sizes[0]`` until ``boundaries[0]`` examples, then ``sizes[1]`` until ``boundaries[1]``, …: the
    hand-set batch-size steps of Smith et al. 2018 ("Don't decay the learning rate, increase the batch size",
    where B grows at the epochs an lr decay would have fallen) and of hand-tuned batch-size warm-ups.
    ``len(boundaries) == len(sizes) − 1``, strictly increasing; sizes need not increase. E.g.
    ``piecewise((32, 64, 128), (10_000, 30_000))``.
    """

    sizes: tuple[int, ...]
    boundaries: tuple[int, ...] = ()
    builder = "piecewise"

    def __post_init__(self) -> None:
        sizes = tuple(_count(self.builder, "sizes", s, 1) for s in _items(self.builder, "sizes", self.sizes))
        if not sizes:
            raise ConfigError("piecewise: sizes must hold at least one batch size, got none")
        given = () if self.boundaries in ((), None, "") else self.boundaries
        boundaries = tuple(
            _count(self.builder, "boundaries", b, 1) for b in _items(self.builder, "boundaries", given)
        )
        if len(boundaries) != len(sizes) - 1:
            raise ConfigError(
                f"piecewise: boundaries must hold one example count fewer than sizes ({len(sizes) - 1}), "
                f"got {len(boundaries)}"
            )
        if any(b <= a for a, b in itertools.pairwise(boundaries)):
            raise ConfigError(f"piecewise: boundaries must be strictly increasing, got {list(boundaries)}")
        _set(self, "sizes", sizes)
        _set(self, "boundaries", boundaries)

    def size_at(self, examples: int) -> int:
        return self.sizes[bisect.bisect_right(self.boundaries, examples)]


RAMP_SHAPES = ("doubling", "linear")


@dataclass(frozen=True, repr=False)
class Ramp(BatchSchedule):
    """From ``start`` to ``end`` over the first ``examples`` examples, then ``end``. With E = examples::

        doubling:  B(e) = min(end, start · 2^⌊n·e/E⌋),  n = ⌈log₂(end/start)⌉   (e < E)
        linear:    B(e) = start + ⌊(end − start)·e/E⌋                             (e < E)
        both:      B(e) = end                                                     (e >= E)

    ``doubling`` (the default) is the geometric ramp taken in whole doublings: B doubles every E/n examples
    and reaches ``end`` at E (capped there if end/start is not a power of two). It is the batch-size
    warm-up of Merrill et al. 2025, "Critical batch size revisited" (B doubles as the critical batch size
    grows), and keeps powers of two powers of two; each change is then one clean factor (lr ×2 under the
    linear rule, ×√2 under the square-root rule). ``linear`` is the ramp of GPT-3 (Brown et al. 2020,
    appendix B: "increase the batch size linearly from a small value … over the first 4–12 billion tokens")
    and of Megatron-LM's ``--rampup-batch-size``; B then changes at nearly every batch.

    Rounding is down, in integer arithmetic: B never runs ahead of the ramp (a batch above the critical
    size wastes examples, one below it only costs steps), and the value is exact on every platform.
    """

    start: int
    end: int
    examples: int
    shape: str = "doubling"
    builder = "ramp"

    def __post_init__(self) -> None:
        _set(self, "start", _count(self.builder, "start", self.start, 1))
        _set(self, "end", _count(self.builder, "end", self.end, 1))
        if self.end < self.start:
            raise ConfigError(f"ramp: end must be >= start ({self.start}), got {self.end}")
        _set(self, "examples", _count(self.builder, "examples", self.examples, 1))
        if self.shape not in RAMP_SHAPES:
            raise ConfigError(f"ramp: shape must be one of {', '.join(RAMP_SHAPES)}, got {self.shape!r}")

    @property
    def doublings(self) -> int:
        """n: the smallest number of doublings that takes ``start`` to at least ``end``."""
        return (-(-self.end // self.start) - 1).bit_length()  # ⌈log₂ ⌈end/start⌉⌉, in integers

    def size_at(self, examples: int) -> int:
        if examples >= self.examples:
            return self.end
        if self.shape == "linear":
            return self.start + (self.end - self.start) * examples // self.examples
        return min(self.end, self.start << (self.doublings * examples // self.examples))


def _point(owner: str, value: Any) -> tuple[int, float]:
    """One CBS measurement: ``(examples, cbs)`` or ``"examples:cbs"``."""
    parts = tuple(value.split(":")) if isinstance(value, str) else value
    if not isinstance(parts, list | tuple) or len(parts) != 2:
        raise ConfigError(f"{owner}: each point must be a pair examples:cbs, got {value!r}")
    examples = _count(owner, "points (examples)", parts[0], 0)
    return examples, _check_float(owner, "points (cbs)", _number(parts[1]), minimum=0.0, strict=True)


@dataclass(frozen=True, repr=False)
class CbsDriven(BatchSchedule):
    """B(e) = clip(2^⌊log₂ C(e)⌋, min_batch, max_batch), C(e) = max over e' <= e of CBS(e').

    ``points`` are measurements (e_i, CBS_i) of the critical batch size after e_i examples (e.g. by
    Merrill et al.'s branched runs), as ``[(examples, cbs), …]`` or as text ``"0:32,20000:128"``; CBS(e)
    joins them by straight lines and stays at the first value before the first point and at the last after
    the last. Merrill et al. 2025, "Critical batch size revisited: a simple empirical approach to
    large-batch language model training": the CBS starts near zero, rises quickly and levels off, so a run
    can start small and double its batch as the CBS grows ("batch-size warm-up"; 43 % fewer steps for
    OLMo-1B). Here B is the largest power of two not above the curve, so it doubles each time the curve
    passes the next power of two.

    The running maximum C keeps B from ever shrinking: a dip in noisy measurements does not undo a doubling
    (nor, under an lr rule, lower the lr). ``min_batch`` and ``max_batch`` are used as given: if they are
    not powers of two, B equals them where it is clipped.
    """

    points: tuple[tuple[int, float], ...]
    min_batch: int
    max_batch: int
    builder = "cbs_driven"

    def __post_init__(self) -> None:
        points = tuple(_point(self.builder, p) for p in _items(self.builder, "points", self.points))
        if not points:
            raise ConfigError("cbs_driven: points must hold at least one examples:cbs measurement, got none")
        if any(b[0] <= a[0] for a, b in itertools.pairwise(points)):
            raise ConfigError(
                f"cbs_driven: the points' example counts must be strictly increasing, "
                f"got {[e for e, _ in points]}"
            )
        _set(self, "points", points)
        _set(self, "min_batch", _count(self.builder, "min_batch", self.min_batch, 1))
        _set(self, "max_batch", _count(self.builder, "max_batch", self.max_batch, 1))
        if self.max_batch < self.min_batch:
            raise ConfigError(
                f"cbs_driven: max_batch must be >= min_batch ({self.min_batch}), got {self.max_batch}"
            )

    def cbs(self, examples: int) -> float:
        """CBS(e): the measured points joined by straight lines, constant beyond the first and last."""
        xs = [e for e, _ in self.points]
        i = bisect.bisect_right(xs, examples)  # points measured at or before `examples`
        if i == 0:
            return self.points[0][1]
        if i == len(xs):
            return self.points[-1][1]
        (e0, c0), (e1, c1) = self.points[i - 1], self.points[i]
        return c0 + (c1 - c0) * (examples - e0) / (e1 - e0)

    def size_at(self, examples: int) -> int:
        i = bisect.bisect_right([e for e, _ in self.points], examples)
        # a straight segment's maximum is at an end: the running maximum is the larger of the points passed
        # and the curve here
        peak = max([c for _, c in self.points[:i]] + [self.cbs(examples)])
        whole = math.floor(peak)
        power = 1 << (whole.bit_length() - 1) if whole >= 1 else 1  # 2^⌊log₂ peak⌋, exactly
        return min(max(power, self.min_batch), self.max_batch)


# ----------------------------------------------------------------------------------------------------
# the public builders, lower-case as a user writes them: the classes themselves (as in core)
# ----------------------------------------------------------------------------------------------------
piecewise = Piecewise
ramp = Ramp
cbs_driven = CbsDriven


# ----------------------------------------------------------------------------------------------------
# rules for lr and β₂ when B changes
# ----------------------------------------------------------------------------------------------------
LR_RULES = ("none", "linear", "sqrt")
BETA2_RULES = ("none", "half-life")


def _ratio(owner: str, batch_size: int, base_batch_size: int) -> float:
    batch_size = _check_int(owner, "batch_size", batch_size, 1)
    base_batch_size = _check_int(owner, "base_batch_size", base_batch_size, 1)
    return batch_size / base_batch_size


def lr_factor(rule: str, batch_size: int, base_batch_size: int) -> float:
    """What the learning rate is multiplied by at batch size B = ``batch_size`` when it was set for
    B₀ = ``base_batch_size``:

    * ``"none"``: 1;
    * ``"linear"``: B/B₀ — Goyal et al. 2017, "Accurate, large minibatch SGD" (§2.1, SGD: "multiply the
      learning rate by k");
    * ``"sqrt"``: √(B/B₀) — Malladi et al. 2022, "On the SDEs and scaling rules for adaptive gradient
      algorithms" (the square-root rule for Adam and RMSProp).
    """
    ratio = _ratio("lr_factor", batch_size, base_batch_size)
    if rule == "linear":
        return ratio
    if rule == "sqrt":
        return math.sqrt(ratio)
    if rule == "none":
        return 1.0
    raise ConfigError(f"lr_factor: rule must be one of {', '.join(LR_RULES)}, got {rule!r}")


def half_life_beta2(beta2: float, batch_size: int, base_batch_size: int) -> float:
    """β₂′ = β₂^(B/B₀): Adam's second-moment average keeps its half-life in examples when B changes.

    The average forgets a factor β₂ per step, i.e. per B examples, so its half-life is ln ½ / ln β₂ steps
    = B·ln ½ / ln β₂ examples; keeping that fixed at B′ gives β₂′ = β₂^(B′/B). Marek et al. 2025, "Small batch
    size training for language models: when vanilla SGD works, and why gradient accumulation is wasteful".
    """
    beta2 = _check_float("half_life_beta2", "beta2", beta2, minimum=0.0, strict=False)
    if beta2 >= 1.0:
        raise ConfigError(f"half_life_beta2: beta2 must be a number in [0, 1), got {beta2!r}")
    return beta2 ** _ratio("half_life_beta2", batch_size, base_batch_size)


# ----------------------------------------------------------------------------------------------------
# registry: names for the CLI, the trainer and the docs
# ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchScheduleInfo:
    """One registry entry. ``build(**options)`` returns the schedule."""

    name: str
    build: Callable[..., BatchSchedule]
    description: str
    paper: str

    @property
    def options(self) -> tuple[str, ...]:
        """The keyword options ``create_batch_schedule`` takes for this schedule."""
        return tuple(inspect.signature(self.build).parameters)

    @property
    def required(self) -> tuple[str, ...]:
        """The options without a default."""
        parameters = inspect.signature(self.build).parameters.values()
        return tuple(p.name for p in parameters if p.default is inspect.Parameter.empty)


_REGISTRY: dict[str, BatchScheduleInfo] = {
    entry.name: entry
    for entry in (
        BatchScheduleInfo(
            "piecewise",
            piecewise,
            "sizes[0] until boundaries[0] examples, sizes[1] until boundaries[1], ..., then the last",
            "Smith et al. 2018, Don't decay the learning rate, increase the batch size",
        ),
        BatchScheduleInfo(
            "ramp",
            ramp,
            "from start to end over the first `examples` examples: doubling every E/n examples (default) or "
            "linear (shape), rounded down",
            "Merrill et al. 2025 (doubling); Brown et al. 2020, GPT-3, appendix B (linear)",
        ),
        BatchScheduleInfo(
            "cbs_driven",
            cbs_driven,
            "the largest power of two not above the running maximum of a measured critical batch size "
            "curve (points examples:cbs; it never shrinks), clipped to [min_batch, max_batch]",
            "Merrill et al. 2025, Critical batch size revisited: a simple empirical approach to large-batch "
            "language model training",
        ),
    )
}


def batch_schedule_names() -> list[str]:
    """The batch-size schedule names :func:`create_batch_schedule` accepts."""
    return list(_REGISTRY)


def batch_schedule_info(name: str) -> BatchScheduleInfo:
    """The registry entry for ``name``; an unknown name raises ConfigError listing the valid ones."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown batch schedule {name!r}; valid: {', '.join(_REGISTRY)}") from None


def create_batch_schedule(name: str, **options: Any) -> BatchSchedule:
    """Build the batch-size schedule ``name`` from its options (``batch_schedule_info(name).options``), e.g.
    ``create_batch_schedule("ramp", start=32, end=256, examples=50_000)``. An unknown or missing option, or a
    bad value, raises ConfigError with one line naming it."""
    entry = batch_schedule_info(name)
    unknown = sorted(set(options) - set(entry.options))
    if unknown:
        valid = ", ".join(entry.options)
        raise ConfigError(f"batch schedule {name!r}: unknown option {unknown[0]!r}; valid options: {valid}")
    missing = [option for option in entry.required if option not in options]
    if missing:
        raise ConfigError(
            f"batch schedule {name!r}: missing option {missing[0]!r}; it needs {', '.join(entry.required)}"
        )
    return entry.build(**options)
