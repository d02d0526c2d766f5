"""The run shell's batch-size schedule (``TrainConfig.batch_schedule``): the schedule the Batcher follows, the
run's length in updates, and the learning-rate and β₂ rules applied when the batch size changes.

The core loop (:func:`optlab.train.core.fit`) is not touched. It calls ``schedule(step)`` right after drawing
each batch, so :class:`FollowBatchSize` wraps the lr schedule: it reads the scheduled size B of the batch
just drawn (``batcher.current_batch_size``) and returns ``schedule(step) · lr_factor(rule, B, B₀)``, and when
B changes it sets β₂ on the optimizer's param groups to ``half_life_beta2(β₂, B, B₀)``. B₀ is the first batch
size (the schedule's value at 0 examples): ``--lr`` and the optimizer's β₂ are the values for B₀. A partial
last batch of an epoch keeps its scheduled B, so the lr does not dip at every epoch's end. A resumed run
restores β₂ with the optimizer's state and the scheduled size with the batcher's, so it takes exactly the
uninterrupted run's updates.

Adam's bias correction 1 − β₂^t then uses the new β₂ with the step count t, as torch's Adam does whenever a
group's betas are changed; after the first few hundred updates the correction is ≈ 1 either way.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

from optlab.errors import ConfigError
from optlab.schedules import half_life_beta2, lr_factor


def create(config: Any) -> Any:
    """The batch-size schedule of ``config`` (:func:`optlab.schedules.create_batch_schedule`), or None; a bad
    option is a :class:`ConfigError` naming ``--batch-schedule-arg``."""
    from optlab import schedules

    if config.batch_schedule is None:
        return None
    names = schedules.batch_schedule_names()
    if config.batch_schedule not in names:
        raise ConfigError(
            f"invalid value for --batch-schedule: unknown name {config.batch_schedule!r}; choose one of: "
            f"{', '.join(names)}"
        )
    try:
        return schedules.create_batch_schedule(config.batch_schedule, **config.batch_schedule_kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"invalid value for --batch-schedule-arg: {error}") from None


def check(config: Any) -> None:
    """Before anything is created: the schedule builds, and the β₂ rule has a β₂ to change."""
    from optlab import optim
    from optlab.train.config import optimizer_hparams

    create(config)
    if config.batch_beta2_rule != "none" and "betas" not in optimizer_hparams(config.optimizer):
        with_betas = [name for name in optim.names() if "betas" in optimizer_hparams(name)]
        raise ConfigError(
            f"invalid value for --batch-beta2-rule: {config.batch_beta2_rule!r} changes Adam's β₂, and "
            f"{config.optimizer} has none; use one of: {', '.join(with_betas)}"
        )


def run_length(config: Any, batcher: Any) -> tuple[int, int]:
    """(epochs, updates) of a run whose batcher follows a batch-size schedule: the rule of
    :meth:`TrainConfig.epoch_limit` and :meth:`TrainConfig.total_steps`, with each epoch's number of batches
    taken from the schedule (:meth:`optlab.data.Batcher.epoch_lengths`) instead of one fixed count."""
    from optlab.train.config import DEFAULT_EPOCHS

    if config.epochs is not None:
        epochs, lengths = config.epochs, batcher.epoch_lengths(config.epochs, config.max_steps)
    elif config.max_steps is None:
        epochs, lengths = DEFAULT_EPOCHS, batcher.epoch_lengths(DEFAULT_EPOCHS)
    else:
        lengths = batcher.epoch_lengths(None, config.max_steps)
        epochs = len(lengths)
    total = sum(lengths)
    return epochs, total if config.max_steps is None else min(total, config.max_steps)


class FollowBatchSize:
    """The lr schedule of a run whose batch size follows a schedule, with the lr and β₂ rules applied.

    ``follow(step)`` (the core loop's call, right after the batch of update ``step`` was drawn) returns
    ``schedule(step) · lr_factor(lr_rule, B, B₀)`` with B the scheduled size of that batch, and sets every
    param group's β₂ to ``half_life_beta2(β₂, B, B₀)`` (from the β₂ the optimizer was built with) when B
    differs from the last one it set. :meth:`used` gives the lr an earlier update took (for steps.csv).
    """

    def __init__(
        self,
        schedule: Callable[[int], float],
        batcher: Any,
        optimizer: Any,
        lr_rule: str = "none",
        beta2_rule: str = "none",
    ) -> None:
        self.schedule, self.batcher, self.optimizer = schedule, batcher, optimizer
        self.lr_rule, self.beta2_rule = lr_rule, beta2_rule
        self.base_batch_size: int = batcher.batch_schedule(0)  # B₀: the first batch size
        self.base_betas = (
            [tuple(group["betas"]) for group in optimizer.param_groups] if beta2_rule != "none" else None
        )
        self._beta2_size: int | None = None  # the B whose β₂ is set
        self._steps: list[int] = []  # the updates at which B changed, and the B from there on
        self._sizes: list[int] = []

    def __call__(self, step: int) -> float:
        size = self.batcher.current_batch_size
        i = bisect.bisect_right(self._steps, step)
        del self._steps[i:], self._sizes[i:]  # a new fit from an earlier step replaces what followed
        if not self._sizes or self._sizes[-1] != size:
            self._steps.append(step)
            self._sizes.append(size)
        if self.base_betas is not None and size != self._beta2_size:
            for group, (beta1, beta2) in zip(self.optimizer.param_groups, self.base_betas, strict=False):
                group["betas"] = (beta1, half_life_beta2(beta2, size, self.base_batch_size))
            self._beta2_size = size
        return self._lr(step, size)

    def _lr(self, step: int, size: int) -> float:
        return self.schedule(step) * lr_factor(self.lr_rule, size, self.base_batch_size)

    def used(self, step: int) -> float:
        """The lr update ``step`` took (this process must have run it): B from the recorded changes."""
        i = bisect.bisect_right(self._steps, step) - 1
        return self._lr(step, self._sizes[max(i, 0)])

    def __repr__(self) -> str:
        return (
            f"FollowBatchSize({self.schedule!r}, lr_rule={self.lr_rule!r}, beta2_rule={self.beta2_rule!r}, "
            f"base_batch_size={self.base_batch_size})"
        )


def follow(schedule: Callable[[int], float], config: Any, batcher: Any, optimizer: Any) -> Any:
    """``schedule`` wrapped in :class:`FollowBatchSize` when ``config`` has a batch-size schedule and an lr or
    β₂ rule; else ``schedule`` itself (so runs without them take the same lrs bit for bit)."""
    if batcher.batch_schedule is None or (config.batch_lr_rule, config.batch_beta2_rule) == ("none", "none"):
        return schedule
    return FollowBatchSize(schedule, batcher, optimizer, config.batch_lr_rule, config.batch_beta2_rule)


def lrs_used(schedule: Any) -> Callable[[int], float]:
    """``step -> lr`` that update took, for steps.csv: :meth:`FollowBatchSize.used`, or the schedule."""
    return schedule.used if isinstance(schedule, FollowBatchSize) else schedule
