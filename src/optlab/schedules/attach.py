"""Drive any ``torch.optim.Optimizer`` with an optlab schedule through torch's own scheduler interface.

``attach(optimizer, schedule)`` returns a :class:`torch.optim.lr_scheduler.LRScheduler`, so it works wherever
a torch scheduler does (a plain loop, Lightning, Hugging Face): build it, then call ``.step()`` after every
``optimizer.step()``::

    scheduler = attach(optimizer, cosine(0.1, total_steps=1000))   # lr of update 0 is set here
    for batch in batches:
        loss(batch).backward(); optimizer.step(); optimizer.zero_grad()
        scheduler.step()                                           # now the lr of the next update

``scheduler.last_epoch`` is the index of the update about to be taken (the number of updates done), so
update t always runs at ``schedule(t)``. ``state_dict()`` holds only numbers and strings (it loads with
``torch.load(weights_only=True)``) and ``load_state_dict()`` restores that exact step and the groups' lrs.

Param groups added later (``optimizer.add_param_group``, e.g. unfreezing a layer mid-run) follow the schedule
from the next ``.step()`` on, with their own lr as their base lr; state dicts round-trip with any number of
groups. torch's resume idiom, ``attach(optimizer, schedule, last_epoch=N)``, continues as an uninterrupted
scheduler would after N + 1 calls of ``.step()``: ``last_epoch`` becomes N + 1 and the lr is
``schedule(N + 1)`` (closed form; torch's recursive schedulers cannot do this). ``initial_lr`` is taken from
the group's lr where the optimizer has none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

__all__ = ["ScheduledLR", "attach"]

StepToLr = Callable[[int], float]

_STATE_KEYS = ("last_epoch", "_step_count", "base_lrs")


class ScheduledLR(LRScheduler):
    """Sets each param group's lr from a ``step -> lr`` schedule.

    The lr for update 0 is applied when it is built; call ``.step()`` after each ``optimizer.step()``.
    ``last_epoch=N`` resumes as torch's schedulers do (the lr becomes ``schedule(N + 1)``; module docstring).

    Modes (``lr_g(t)`` is the lr of group g at update t):

    * default: ``lr_g(t) = schedule(t)`` for every group — the schedule gives absolute learning rates and the
      lr the optimizer was built with is ignored;
    * one schedule per group (``schedule`` a list/tuple as long as ``optimizer.param_groups``):
      ``lr_g(t) = schedule[g](t)``;
    * ``relative=True``: ``lr_g(t) = schedule(t) · base_lr_g / base_lr_0``, where base_lr is each group's lr
      when the scheduler was built — group 0 follows the schedule and the other groups keep their ratio to it
      (e.g. a head trained at 10× the lr of the body).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedule: StepToLr | Sequence[StepToLr],
        *,
        relative: bool = False,
        last_epoch: int = -1,
    ) -> None:
        groups = len(optimizer.param_groups)
        if isinstance(schedule, list | tuple):
            if relative:
                raise ValueError("attach: relative=True takes one schedule, not one per param group")
            if len(schedule) != groups:
                raise ValueError(
                    f"attach: got {len(schedule)} schedules for {groups} param groups; "
                    "pass one, or one per group"
                )
            schedules = list(schedule)
            self._shared: StepToLr | None = None
        else:
            schedules = [schedule] * groups
            self._shared = schedule
        for s in schedules:
            if not callable(s):
                raise TypeError(f"attach: a schedule must be callable step -> lr, got {type(s).__name__}")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"attach: last_epoch must be an integer >= -1, got {last_epoch!r}")
        self.schedules: list[StepToLr] = schedules
        self.relative = bool(relative)
        if last_epoch != -1:  # torch's resume idiom; a fresh optimizer has no initial_lr yet: use its lr
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", _plain(group["lr"]))
        super().__init__(optimizer, last_epoch)

    def _follow_param_groups(self) -> None:
        """Adopt groups added with ``add_param_group`` since the last call: the shared schedule, and the
        group's own lr as its base lr (kept as ``initial_lr``, as torch's schedulers do)."""
        groups = self.optimizer.param_groups
        while len(self.base_lrs) < len(groups):
            group = groups[len(self.base_lrs)]
            self.base_lrs.append(_plain(group.setdefault("initial_lr", _plain(group["lr"]))))
        while len(self.schedules) < len(groups):
            if self._shared is None:
                raise ValueError(
                    f"attach: param group {len(self.schedules)} was added after the scheduler was built with "
                    "one schedule per group; attach again with a schedule for every group"
                )
            self.schedules.append(self._shared)

    def get_lr(self) -> list[float]:  # type: ignore[override]
        self._follow_param_groups()
        step = self.last_epoch
        count = len(self.optimizer.param_groups)
        lrs = [float(schedule(step)) for schedule in self.schedules[:count]]
        if not self.relative:
            return lrs
        reference = float(self.base_lrs[0])
        if reference <= 0.0:
            raise ValueError("attach(relative=True) needs param group 0 to start with an lr > 0")
        # ratio first, so that group 0 gets schedule(t) exactly
        return [lr * (float(base) / reference) for lr, base in zip(lrs, self.base_lrs[:count], strict=True)]

    # the deprecated `step(epoch)` looks for a closed form; ours is always closed-form
    _get_closed_form_lr = get_lr

    def state_dict(self) -> dict[str, Any]:
        """Step counters, base lrs and (for reading only) the schedules' reprs: plain numbers and strings."""
        self._follow_param_groups()
        return {
            "last_epoch": int(self.last_epoch),
            "_step_count": int(self._step_count),
            "base_lrs": [float(lr) for lr in self.base_lrs],
            "relative": self.relative,
            "schedules": [repr(s) for s in self.schedules],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the step and set every group's lr to the schedule's value at that step.

        The saved base lrs replace the current ones group by group; a group the checkpoint does not cover
        keeps its own, and base lrs of groups not added yet wait for them (``add_param_group`` after loading).
        """
        missing = [key for key in _STATE_KEYS if key not in state_dict]
        if missing:
            raise ValueError(f"not a ScheduledLR state_dict: missing {', '.join(missing)}")
        self._follow_param_groups()
        saved = [float(lr) for lr in state_dict["base_lrs"]]
        self.last_epoch = int(state_dict["last_epoch"])
        self._step_count = int(state_dict["_step_count"])
        self.base_lrs = saved + [float(lr) for lr in self.base_lrs[len(saved) :]]
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=False):
            group["initial_lr"] = base
        if self._shared is not None:
            self.schedules = [self._shared] * max(len(self.schedules), len(self.base_lrs))
        # what LRScheduler.step does, without its private helpers (they moved between torch versions)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            if isinstance(group["lr"], Tensor):
                group["lr"].fill_(lr)  # a tensor lr (capturable / fused optimizers) is updated in place
            else:
                group["lr"] = lr
        self._last_lr = [
            g["lr"].clone() if isinstance(g["lr"], Tensor) else g["lr"] for g in self.optimizer.param_groups
        ]

    def __repr__(self) -> str:
        shown = self.schedules[0] if len(set(map(id, self.schedules))) == 1 else self.schedules
        relative = ", relative=True" if self.relative else ""
        return f"ScheduledLR({shown!r}{relative}, last_epoch={self.last_epoch})"


attach = ScheduledLR  # ``attach(optimizer, schedule)``, as a user writes it (like the schedules' builders)


def _plain(lr: float | Tensor) -> float:
    return float(lr.item()) if isinstance(lr, Tensor) else float(lr)
