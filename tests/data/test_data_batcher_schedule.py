"""Batcher with a batch-size schedule: each batch has the size the schedule gives at the examples seen before
it, epochs end on a partial batch (or drop it), resume is exact at every batch, ranks split each global batch.
The fixed-size path is checked unchanged."""

from __future__ import annotations

import io
import itertools

import pytest
import torch

from optlab.data import Batcher, Split
from optlab.errors import ConfigError
from optlab.schedules import cbs_driven, piecewise, ramp

N = 23
STEPS = piecewise((3, 5, 8), (10, 30))  # 3 until 10 examples, 5 until 30, then 8


def numbered(n: int = N) -> Split:
    """x[i] = (i, -i), y[i] = i: every batch tells which samples it holds and that x and y stay paired."""
    ids = torch.arange(n)
    return Split(torch.stack([ids, -ids], 1).float(), ids)


def ids_of(batch: tuple[torch.Tensor, torch.Tensor]) -> list[int]:
    x, y = batch
    assert torch.equal(x[:, 0].long(), y) and torch.equal(x[:, 1].long(), -y)
    return y.tolist()


def epochs(batcher: Batcher, count: int) -> list[list[list[int]]]:
    return [[ids_of(b) for b in batcher] for _ in range(count)]


def flat(batcher: Batcher, count: int) -> list[list[int]]:
    """The next `count` batches, across epochs, as the trainer takes them (one `iter` per epoch)."""
    out: list[list[int]] = []
    while len(out) < count:
        for batch in batcher:
            out.append(ids_of(batch))
            if len(out) == count:
                break
    return out


def round_trip(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_each_batch_has_the_scheduled_size_and_epochs_end_on_a_partial_batch() -> None:
    b = Batcher(numbered(), STEPS, seed=0)
    assert b.global_batch_size is None and b.current_batch_size == 3  # before any batch: the first size
    sizes, scheduled, seen = [], [], []
    for _ in range(3):
        epoch_sizes = []
        assert b.examples_seen == N * b.epoch
        for _x, y in b:
            epoch_sizes.append(len(y))
            scheduled.append(b.current_batch_size)
            seen.append(b.examples_seen)
        sizes.append(epoch_sizes)
    # epoch 1: e = 0, 3, 6, 9 -> 3; 12, 17 -> 5; at 22 a 5 with 1 sample left -> partial 1.
    # epoch 2 (from 23): 23, 28 -> 5; 33 -> 8; 41 -> 8 with 5 left. epoch 3 (from 46): 8, 8, 7 left.
    assert sizes == [[3, 3, 3, 3, 5, 5, 1], [5, 5, 8, 5], [8, 8, 7]]
    assert scheduled == [3, 3, 3, 3, 5, 5, 5, 5, 5, 8, 8, 8, 8, 8]  # the partial batch keeps its B
    assert seen == list(itertools.accumulate(itertools.chain.from_iterable(sizes)))
    assert b.epoch_lengths(3) == [7, 4, 3]
    assert b.epoch_lengths(None, max_steps=12) == [7, 4, 3]  # 11 < 12 after two epochs: a third
    assert b.epoch_lengths(5, max_steps=7) == [7]


def test_every_epoch_covers_every_sample_once_and_reshuffles() -> None:
    b = Batcher(numbered(), ramp(2, 16, 40), seed=1)
    orders = [list(itertools.chain.from_iterable(e)) for e in epochs(b, 4)]
    assert all(sorted(order) == list(range(N)) for order in orders)
    assert orders[0] != orders[1]


def test_len_is_the_current_epochs_batches() -> None:
    b = Batcher(numbered(), STEPS, seed=0)
    for expected in [7, 4, 3, 3]:
        assert len(b) == expected
        assert len(list(b)) == expected


def test_drop_last_keeps_every_update_at_the_scheduled_size() -> None:
    b = Batcher(numbered(), STEPS, drop_last=True, seed=0)
    sizes = [[len(ids) for ids in epoch] for epoch in epochs(b, 3)]
    # epoch 1: 3·4 + 5·2 = 22 seen, 1 dropped; epoch 2 from 22: 5, 5 (to 32) then 8 (to 40), 3 dropped ...
    assert sizes == [[3, 3, 3, 3, 5, 5], [5, 5, 8], [8, 8]]
    assert b.examples_seen == 22 + 18 + 16  # dropped samples are not seen
    assert b.epoch_lengths(3) == [6, 3, 2]


def test_no_shuffle_keeps_stored_order() -> None:
    (epoch,) = epochs(Batcher(numbered(), STEPS, shuffle=False), 1)
    assert list(itertools.chain.from_iterable(epoch)) == list(range(N))


@pytest.mark.parametrize("shuffle", [True, "once", False])
@pytest.mark.parametrize("drop_last", [False, True])
def test_resume_at_every_batch_sees_exactly_the_uninterrupted_batches(shuffle, drop_last) -> None:
    schedule = cbs_driven("0:2,30:9,60:40", 2, 16)  # sizes change mid-epoch and at epoch ends

    def make() -> Batcher:
        return Batcher(numbered(), schedule, shuffle=shuffle, drop_last=drop_last, seed=3, reuse_buffer=True)

    total = sum(make().epoch_lengths(4))
    reference = flat(make(), total)
    for cut in range(total):
        interrupted = make()
        before = flat(interrupted, cut)
        state = round_trip(interrupted.state_dict())
        resumed = make()
        resumed.load_state_dict(state)
        assert (resumed.epoch, resumed.position, resumed.examples_seen, resumed.current_batch_size) == (
            interrupted.epoch,
            interrupted.position,
            interrupted.examples_seen,
            interrupted.current_batch_size,
        )
        assert before + flat(resumed, total - cut) == reference, cut


def test_resume_after_an_epoch_rolled_over() -> None:
    interrupted = Batcher(numbered(), STEPS, seed=0)
    first = epochs(interrupted, 1)  # the generator ran to its end: epoch 1, position 0
    state = round_trip(interrupted.state_dict())
    resumed = Batcher(numbered(), STEPS, seed=0)
    resumed.load_state_dict(state)
    assert (resumed.epoch, resumed.position, resumed.examples_seen) == (1, 0, N)
    assert resumed.current_batch_size == 5  # the last batch's scheduled size, for the lr rules
    assert first + epochs(resumed, 2) == epochs(Batcher(numbered(), STEPS, seed=0), 3)


def test_state_for_another_schedule_or_a_fixed_size_is_refused() -> None:
    state = Batcher(numbered(), STEPS, seed=0).state_dict()
    assert state["batch_size"] == "piecewise(sizes=(3, 5, 8), boundaries=(10, 30))"
    with pytest.raises(ValueError, match="batcher state was saved with batch_size='piecewise"):
        Batcher(numbered(), piecewise((3, 5, 8), (10, 31)), seed=0).load_state_dict(state)
    with pytest.raises(ValueError, match="batch_size="):
        Batcher(numbered(), 5, seed=0).load_state_dict(state)


@pytest.mark.parametrize("n", [23, 24, 19])
@pytest.mark.parametrize("drop_last", [False, True])
def test_ranks_together_see_what_one_process_sees(n: int, drop_last: bool) -> None:
    schedule, world = piecewise((3, 6, 9), (8, 20)), 3  # B is the global batch
    single = epochs(Batcher(numbered(n), schedule, drop_last=drop_last, seed=4), 3)
    ranks = [
        Batcher(numbered(n), schedule, drop_last=drop_last, seed=4, rank=r, world_size=world)
        for r in range(world)
    ]
    shards = [epochs(b, 3) for b in ranks]
    for e in range(3):
        assert len({len(shards[r][e]) for r in range(world)}) == 1  # every rank takes the same steps
        joined = [
            list(itertools.chain.from_iterable(shards[r][e][i] for r in range(world)))
            for i in range(len(shards[0][e]))
        ]
        # one process keeps a last partial batch smaller than the world; the ranks drop it
        assert joined == single[e] or (joined == single[e][:-1] and len(single[e][-1]) < world)


def test_reused_buffer_yields_the_same_batches() -> None:
    fresh = Batcher(numbered(53), ramp(2, 32, 60), seed=3)
    reused = Batcher(numbered(53), ramp(2, 32, 60), seed=3, reuse_buffer=True)
    for _ in range(3):
        a = list(fresh)
        b = [(x.clone(), y) for x, y in reused]  # copied now: the next batch overwrites x
        assert [ids_of(batch) for batch in a] == [ids_of(batch) for batch in b]
        assert all(torch.equal(xa, xb) for (xa, _), (xb, _) in zip(a, b, strict=True))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": piecewise(30), "drop_last": True}, "gives 30 at 0 examples seen, more than the 23"),
        ({"batch_size": lambda e: 0}, "the batch schedule gave 0 at 0 examples seen; a batch size must be"),
        ({"batch_size": lambda e: 2.5}, "gave 2.5"),
        ({"batch_size": piecewise(2), "world_size": 3}, r"must be an integer >= 3 \(one sample per rank\)"),
    ],
)
def test_bad_schedules(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Batcher(numbered(), **kwargs).epoch_lengths(2)


# ------------------------------------------------------------------------------- the fixed path, unchanged


@pytest.mark.parametrize(
    ("batch_size", "drop_last", "world_size"), [(5, False, 1), (5, True, 1), (None, False, 1), (2, False, 3)]
)
def test_fixed_size_state_and_clock(batch_size, drop_last, world_size) -> None:
    b = Batcher(numbered(), batch_size, drop_last=drop_last, seed=0, world_size=world_size)
    assert b.batch_schedule is None
    keys = {"epoch", "position", "generator_state", "num_samples", "batch_size", "shuffle", "drop_last"}
    assert set(b.state_dict()) == keys | {"seed", "rank", "world_size"}  # nothing added
    seen = 0
    for _ in range(2):
        in_epoch = 0
        for _x, y in b:
            size = min(len(y) * world_size, N - in_epoch)  # the global batch: this rank's part × ranks
            seen, in_epoch = seen + size, in_epoch + size
            assert b.examples_seen == seen
    assert b.epoch_lengths(3) == [len(b)] * 3 and b.epoch_lengths(None, max_steps=len(b) + 1) == [len(b)] * 2
