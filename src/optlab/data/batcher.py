"""`Batcher`: mini-batches as slices of a per-epoch permutation, with exactly resumable state.

The whole split lives on the training device; each epoch draws one permutation (on the CPU, from the batcher's
own seeded `torch.Generator`, so the order is the same on every device) and moves it to the device once; batch
`i` is `x[perm[i*b:(i+1)*b]]`. There is no per-sample Python work and no DataLoader worker machinery, which is
what makes it as fast as a hand-written loop at batch size 1 (airbench / modded-nanogpt do the same).

State. `epoch` is the index of the current epoch and `position` the number of its batches already handed out.
`state_dict()` stores them with the generator state *from before the current epoch's permutation was drawn*;
`load_state_dict()` restores that state and redraws the same permutation, so a resumed batcher yields exactly
the batches an uninterrupted one would, whether it was interrupted mid-epoch or at an epoch boundary.

Data parallel. With `world_size` W > 1, `batch_size` b is the per-rank size: the global batch is W·b samples
of the permutation (the same on every rank, since every rank seeds alike) and rank r takes its r-th part (the
parts of the last, smaller global batch are as equal as `torch.tensor_split` makes them; a last global batch
smaller than W is dropped so that every rank takes the same number of steps). So W ranks × b see exactly what
1 process × W·b sees.

Batch-size schedules. `batch_size` may be a schedule `examples_seen -> B` (:mod:`optlab.schedules.batch`,
e.g. `ramp(32, 256, examples=50_000)`): each batch then has the size B the schedule gives at the examples
handed out before it (counted over the whole run, all ranks; B is the global batch, split over the ranks as
above). Batches stay within an epoch: where B is more than what is left of the permutation, the epoch ends on
a partial batch of the rest (dropped under `drop_last`, which keeps every update at the schedule's size), as
a fixed batch size does, rather than carrying the batch over into the next epoch; so an epoch is still one
pass over the data and the examples seen at an epoch's end are a whole number of passes. The sizes do not
depend on the permutation, so the batches of each epoch are planned when it starts (`_plan`), and a run's
length in updates is known before it starts (`epoch_lengths`). The state adds the examples seen before the
current epoch and the scheduled size of the last batch (`current_batch_size`, which the trainer's lr and β₂
rules read): a resumed batcher again yields exactly the uninterrupted batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

import torch

from optlab.errors import ConfigError

from ._common import Split

Shuffle = bool | Literal["once"]


class Batcher:
    """Iterate `(x, y)` mini-batches of `split` for the rest of the current epoch; see the module docstring.

    Args:
        split: the data (anything with tensors `x` and `y` of equal length).
        batch_size: samples per batch (per rank); `None` for full batch (the whole split each step); or a
            batch-size schedule, a callable `examples_seen -> B` giving the global batch (module docstring;
            use an optlab schedule, whose repr identifies it in the state, for exact resume).
        shuffle: `True` a new permutation every epoch; `"once"` one permutation reused every epoch;
            `False` the stored order.
        drop_last: drop the last batch of an epoch if it is smaller than `batch_size`.
        seed: seeds the batcher's own generator (the global torch RNG is never touched).
        device: where batches are produced; the split is moved there once, here.
        rank, world_size: this process's shard of each global batch (data-parallel training).
        reuse_buffer: gather every batch's `x` into one buffer, which the next batch overwrites. For loops
            that are done with a batch before they take the next (optlab's trainer): it saves allocating,
            and on the CPU page-faulting, a fresh batch-sized tensor every step.

    Example:
        >>> b = Batcher(split, batch_size=128, seed=0)
        >>> for x, y in b: ...          # one epoch
        >>> state = b.state_dict()      # later: Batcher(split, 128).load_state_dict(state) continues exactly
    """

    def __init__(
        self,
        split: Split,
        batch_size: int | Callable[[int], int] | None,
        shuffle: Shuffle = True,
        drop_last: bool = False,
        seed: int = 0,
        device: torch.device | str | None = None,
        rank: int = 0,
        world_size: int = 1,
        reuse_buffer: bool = False,
    ) -> None:
        n = len(split.y)
        if n == 0:
            raise ConfigError("cannot batch an empty split")
        if shuffle not in (True, False, "once"):
            raise ConfigError(f"shuffle must be True, False or 'once', got {shuffle!r}")
        if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
            raise ConfigError(f"world_size must be an int >= 1, got {world_size!r}")
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
            raise ConfigError(f"rank must be in 0..{world_size - 1}, got {rank!r}")
        # A batch-size schedule gives the global batch size batch by batch (_plan); no fixed size then.
        self.batch_schedule = batch_size if callable(batch_size) else None
        if batch_size is None or self.batch_schedule is not None:
            global_batch = n
        elif isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be an int >= 1 or None (full batch), got {batch_size!r}")
        else:
            global_batch = batch_size * world_size
        self.num_samples = n
        self.batch_size = batch_size
        self.global_batch_size = global_batch
        self.shuffle: Shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.device = torch.device(device) if device is not None else split.x.device
        self.x = split.x.to(self.device)
        self.y = split.y.to(self.device)

        full, rest = divmod(n, global_batch)
        # A partial last global batch is kept unless drop_last, or unless it cannot give every rank a sample.
        self._num_batches = full + (1 if rest and not drop_last and rest >= world_size else 0)
        if self._num_batches == 0:
            raise ConfigError(
                f"batch_size={batch_size} with drop_last=True gives no batches for {n} samples"
                + (f" and world_size={world_size}" if world_size > 1 else "")
            )
        # One full-size batch per epoch on one process: the permutation cannot change a mean loss, so we hand
        # out the split itself instead of gathering a permuted copy of the whole dataset every step.
        self._whole = global_batch >= n and world_size == 1
        self._uses_permutation = shuffle is not False and not self._whole
        # With a schedule: examples handed out in all (over all ranks), and before the current epoch; the
        # current epoch's batches (start, size, scheduled size), planned when it starts.
        self._examples = self._epoch_examples = 0
        self._epoch_plan: list[tuple[int, int, int]] | None = None
        if self.batch_schedule is not None:
            self.global_batch_size = None  # type: ignore[assignment]
            self._whole, self._uses_permutation, self._num_batches = False, shuffle is not False, -1
        #: the (global) batch size the schedule gave for the batch last handed out (for the first batch
        #: before any is): what lr and β₂ rules scale by. The last batch of an epoch may be smaller.
        self.current_batch_size: int = (
            global_batch if self.batch_schedule is None else self._scheduled_size(0)
        )

        self._generator = torch.Generator(device="cpu")
        self._generator.manual_seed(seed)
        self.epoch = 0
        self.position = 0
        self._perm: torch.Tensor | None = None
        self._epoch_generator_state: torch.Tensor | None = None  # generator state that draws self._perm
        self.reuse_buffer = reuse_buffer
        self._buffer: torch.Tensor | None = None

    def __len__(self) -> int:
        """Batches per epoch (per rank); with a batch-size schedule, in the current epoch."""
        if self.batch_schedule is not None:
            return len(self._plan())
        return self._num_batches

    @property
    def examples_seen(self) -> int:
        """Examples handed out so far (over all ranks) since the start: the batch-size schedule's clock."""
        if self.batch_schedule is not None:
            return self._examples
        per_epoch = min(self._num_batches * self.global_batch_size, self.num_samples)
        return self.epoch * per_epoch + min(self.position * self.global_batch_size, self.num_samples)

    def _draw_permutation(self) -> None:
        """Draw the current epoch's permutation if it has not been drawn (lazily, so state stays minimal)."""
        if self._perm is not None or not self._uses_permutation:
            return
        self._epoch_generator_state = self._generator.get_state()
        self._perm = torch.randperm(self.num_samples, generator=self._generator).to(self.device)

    def _next_epoch(self) -> None:
        self.epoch += 1
        self.position = 0
        if self.shuffle is True:
            self._perm = None  # "once" keeps its single permutation
        if self.batch_schedule is not None:
            self._epoch_examples, self._epoch_plan = self._examples, None

    def _part(self, start: int, size: int) -> tuple[int, int]:
        """[lo, hi) of this rank's part of the global batch of ``size`` examples from position ``start``."""
        base, extra = divmod(size, self.world_size)  # torch.tensor_split's partition
        lo = start + self.rank * base + min(self.rank, extra)
        return lo, lo + base + (1 if self.rank < extra else 0)

    def _take(self, perm: torch.Tensor | None, lo: int, hi: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Examples lo..hi-1 of the epoch: a slice of the stored order, or gathered through ``perm``."""
        if perm is None:
            return self.x[lo:hi], self.y[lo:hi]
        idx = perm[lo:hi]
        return self._gather(idx), self.y.index_select(0, idx)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.position >= len(self):  # the previous epoch was fully handed out but not closed
            self._next_epoch()
        self._draw_permutation()
        if self.batch_schedule is not None:
            yield from self._scheduled_batches()
            return
        x, y, perm, n_batches = self.x, self.y, self._perm, self._num_batches
        if self._whole:
            if self.position == 0:
                self.position = 1
                yield x, y
        elif self.world_size == 1:
            # The hot loop: one slice and two gathers per batch. index_select skips the general
            # advanced-indexing dispatch of x[idx] (same result for a 1-D index): ~5 us less per batch here.
            b = self.global_batch_size
            while (i := self.position) < n_batches:
                self.position = i + 1
                if perm is None:
                    yield x[i * b : (i + 1) * b], y[i * b : (i + 1) * b]
                else:
                    idx = perm[i * b : (i + 1) * b]
                    yield self._gather(idx), y.index_select(0, idx)
        else:
            b = self.global_batch_size
            while (i := self.position) < n_batches:
                self.position = i + 1
                yield self._take(perm, *self._part(i * b, min(b, self.num_samples - i * b)))
        self._next_epoch()

    def _gather(self, idx: torch.Tensor) -> torch.Tensor:
        if not self.reuse_buffer:
            return self.x.index_select(0, idx)
        if self._buffer is None:
            rows = min(self.batch_size or self.num_samples, self.num_samples)
            self._buffer = self.x.new_empty((rows, *self.x.shape[1:]))
        return torch.index_select(self.x, 0, idx, out=self._buffer[: len(idx)])

    # ---------------------------------------------------------------------------------- batch-size schedule

    def _scheduled_size(self, examples: int) -> int:
        size = self.batch_schedule(examples)  # type: ignore[misc]
        if isinstance(size, bool) or not isinstance(size, int) or size < self.world_size:
            raise ConfigError(
                f"the batch schedule gave {size!r} at {examples} examples seen; a batch size must be an "
                f"integer >= {self.world_size}" + (" (one sample per rank)" if self.world_size > 1 else "")
            )
        return size

    def _plan_from(self, examples: int) -> list[tuple[int, int, int]]:
        """(start, size, scheduled size) of the global batches of an epoch that starts after `examples`:
        batch k takes the size the schedule gives at the examples seen before it, the last may be cut short
        by the end of the permutation (and is then dropped under drop_last, or if it cannot give every rank
        a sample)."""
        plan, start, n = [], 0, self.num_samples
        while start < n:
            scheduled = self._scheduled_size(examples + start)
            size = min(scheduled, n - start)
            if size < scheduled and (self.drop_last or size < self.world_size):
                break
            plan.append((start, size, scheduled))
            start += size
        if not plan:
            raise ConfigError(
                f"the batch schedule gives {scheduled} at {examples} examples seen, more than the {n} "
                "samples, and drop_last=True drops that batch: the epoch would have no batches"
            )
        return plan

    def _plan(self) -> list[tuple[int, int, int]]:
        """The current epoch's batches (planned once per epoch)."""
        if self._epoch_plan is None:
            self._epoch_plan = self._plan_from(self._epoch_examples)
        return self._epoch_plan

    def epoch_lengths(self, epochs: int | None, max_steps: int | None = None) -> list[int]:
        """Batches in each epoch from the start of the run: for `epochs` epochs, or fewer if `max_steps`
        batches are reached first (`epochs=None`: as many epochs as `max_steps` batches take)."""
        if epochs is None and max_steps is None:
            raise ValueError("epoch_lengths needs epochs or max_steps")
        lengths: list[int] = []
        total = examples = 0
        while (epochs is None or len(lengths) < epochs) and (max_steps is None or total < max_steps):
            if self.batch_schedule is None:
                count = self._num_batches
            else:
                plan = self._plan_from(examples)
                count, examples = len(plan), examples + plan[-1][0] + plan[-1][1]
            lengths.append(count)
            total += count
        return lengths

    def _scheduled_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """`__iter__` with a batch-size schedule: this rank's part of each planned global batch."""
        perm, plan, first = self._perm, self._plan(), self._epoch_examples
        if self.reuse_buffer and perm is not None:  # one buffer for the epoch's largest part
            rows = -(-max(size for _, size, _ in plan) // self.world_size)
            if self._buffer is None or len(self._buffer) < rows:
                self._buffer = self.x.new_empty((rows, *self.x.shape[1:]))
        while (i := self.position) < len(plan):
            start, size, scheduled = plan[i]
            self.position = i + 1
            self._examples, self.current_batch_size = first + start + size, scheduled
            yield self._take(perm, *self._part(start, size))
        self._next_epoch()

    # ------------------------------------------------------------------------------------------------ state

    def _config(self) -> dict[str, Any]:
        return {
            "num_samples": self.num_samples,
            "batch_size": self.batch_size if self.batch_schedule is None else repr(self.batch_schedule),
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
            "seed": self.seed,
            "rank": self.rank,
            "world_size": self.world_size,
        }

    def state_dict(self) -> dict[str, Any]:
        """Epoch, position and generator state (plus the configuration, checked on load). Loadable with
        `torch.load(weights_only=True)`."""
        if self._perm is not None:
            generator_state = self._epoch_generator_state  # redraws this epoch's permutation on load
        else:
            generator_state = self._generator.get_state()  # the permutation is not drawn yet (or never is)
        state = {
            "epoch": self.epoch,
            "position": self.position,
            "generator_state": generator_state.clone(),
            **self._config(),
        }
        if self.batch_schedule is not None:  # where the schedule's clock stands
            state["epoch_examples"] = self._epoch_examples
            state["current_batch_size"] = self.current_batch_size
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue exactly where the batcher that wrote `state` stood. The configuration must match."""
        for key, value in self._config().items():
            if state.get(key) != value:
                raise ValueError(
                    f"batcher state was saved with {key}={state.get(key)!r}, this batcher has {key}={value!r}"
                )
        if self.batch_schedule is not None:
            self._epoch_examples, self._epoch_plan = int(state["epoch_examples"]), None
        position = int(state["position"])
        if not 0 <= position <= len(self):
            raise ValueError(f"batcher state has position {position}, outside 0..{len(self)}")
        self.epoch = int(state["epoch"])
        self.position = position
        if self.batch_schedule is not None:
            self._examples = self._epoch_examples + sum(size for _, size, _ in self._plan()[:position])
            self.current_batch_size = int(state["current_batch_size"])
        self._generator.set_state(state["generator_state"])
        self._perm = None
        self._epoch_generator_state = None
        self._draw_permutation()
