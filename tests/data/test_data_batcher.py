"""Batcher: epochs, reshuffling, determinism, exact resume, full batch, data-parallel shards."""

from __future__ import annotations

import io
import itertools

import pytest
import torch

from optlab.data import Batcher, Split
from optlab.errors import ConfigError

N = 23


def numbered(n: int = N) -> Split:
    """x[i] = (i, -i), y[i] = i: every batch tells which samples it holds and that x and y stay paired."""
    ids = torch.arange(n)
    return Split(torch.stack([ids, -ids], 1).float(), ids)


def concat(lists) -> list[int]:
    return list(itertools.chain.from_iterable(lists))


def ids_of(batch: tuple[torch.Tensor, torch.Tensor]) -> list[int]:
    x, y = batch
    assert torch.equal(x[:, 0].long(), y) and torch.equal(x[:, 1].long(), -y)
    return y.tolist()


def epochs(batcher: Batcher, count: int) -> list[list[list[int]]]:
    return [[ids_of(b) for b in batcher] for _ in range(count)]


def test_one_epoch_covers_every_sample_once() -> None:
    b = Batcher(numbered(), batch_size=5, seed=0)
    assert len(b) == 5
    (epoch,) = epochs(b, 1)
    assert [len(ids) for ids in epoch] == [5, 5, 5, 5, 3]
    assert sorted(concat(epoch)) == list(range(N))
    assert concat(epoch) != list(range(N))
    assert (b.epoch, b.position) == (1, 0)


def test_drop_last() -> None:
    b = Batcher(numbered(), batch_size=5, drop_last=True, seed=0)
    assert len(b) == 4
    (epoch,) = epochs(b, 1)
    assert [len(ids) for ids in epoch] == [5, 5, 5, 5] and len(set(concat(epoch))) == 20


def test_new_permutation_every_epoch() -> None:
    orders = [concat(e) for e in epochs(Batcher(numbered(), batch_size=4, seed=0), 3)]
    assert all(sorted(o) == list(range(N)) for o in orders)
    assert orders[0] != orders[1] and orders[1] != orders[2]


def test_shuffle_once_reuses_one_permutation() -> None:
    orders = [concat(e) for e in epochs(Batcher(numbered(), batch_size=4, shuffle="once", seed=0), 3)]
    assert orders[0] == orders[1] == orders[2] and orders[0] != list(range(N))
    assert orders[0] == concat(epochs(Batcher(numbered(), batch_size=4, shuffle=True, seed=0), 1)[0])


def test_no_shuffle_keeps_stored_order() -> None:
    for epoch in epochs(Batcher(numbered(), batch_size=4, shuffle=False), 2):
        assert concat(epoch) == list(range(N))


def test_deterministic_given_seed_and_independent_of_global_rng() -> None:
    torch.manual_seed(1)
    first = epochs(Batcher(numbered(), batch_size=3, seed=7), 2)
    torch.manual_seed(2)
    before = torch.get_rng_state()
    second = epochs(Batcher(numbered(), batch_size=3, seed=7), 2)
    assert torch.equal(torch.get_rng_state(), before)  # the global RNG is not consumed
    assert first == second
    assert first != epochs(Batcher(numbered(), batch_size=3, seed=8), 2)


def test_full_batch_and_batch_size_one() -> None:
    full = Batcher(numbered(), batch_size=None, seed=0)
    assert len(full) == 1
    for epoch in epochs(full, 2):
        assert len(epoch) == 1 and sorted(epoch[0]) == list(range(N))
    single = Batcher(numbered(), batch_size=1, seed=0)
    assert len(single) == N
    (epoch,) = epochs(single, 1)
    assert all(len(ids) == 1 for ids in epoch) and sorted(concat(epoch)) == list(range(N))
    assert len(Batcher(numbered(), batch_size=10 * N)) == 1  # a batch larger than the split is the split


def test_iterating_yields_rest_of_current_epoch() -> None:
    b = Batcher(numbered(), batch_size=5, seed=0)
    taken = []
    for batch in b:
        taken.append(ids_of(batch))
        if len(taken) == 2:
            break
    assert (b.epoch, b.position) == (0, 2)
    rest = [ids_of(batch) for batch in b]
    assert len(rest) == 3 and sorted(concat(taken + rest)) == list(range(N))
    assert b.epoch == 1


def test_batches_are_on_the_requested_device() -> None:
    x, y = next(iter(Batcher(numbered(), batch_size=4, device="cpu")))
    assert x.device.type == "cpu" and y.device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_batches_on_cuda() -> None:
    b = Batcher(numbered(), batch_size=4, device="cuda", seed=0)
    cpu = Batcher(numbered(), batch_size=4, device="cpu", seed=0)
    for (xg, yg), (xc, yc) in zip(b, cpu, strict=True):
        assert xg.is_cuda and torch.equal(yg.cpu(), yc) and torch.equal(xg.cpu(), xc)


# --------------------------------------------------------------------------------------------------- resume


def round_trip(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def flat(batcher: Batcher, count: int) -> list[list[int]]:
    """The next `count` batches, crossing epoch boundaries as a training loop does."""
    out: list[list[int]] = []
    while len(out) < count:
        for batch in batcher:
            out.append(ids_of(batch))
            if len(out) == count:
                break
    return out


@pytest.mark.parametrize("shuffle", [True, "once", False])
@pytest.mark.parametrize("batch_size", [1, 5, None])
@pytest.mark.parametrize(
    "where", ["start", "mid_epoch", "last_batch_taken", "epoch_boundary", "second_epoch"]
)
def test_resume_sees_exactly_the_uninterrupted_batches(
    shuffle: bool | str, batch_size: int | None, where: str
) -> None:
    def make() -> Batcher:
        return Batcher(numbered(), batch_size=batch_size, shuffle=shuffle, seed=3)

    per_epoch = len(make())
    total = 3 * per_epoch + 1
    reference = flat(make(), total)
    interrupted = make()
    if where == "epoch_boundary":  # a full epoch consumed to the end, so the batcher rolled over itself
        before = [ids_of(b) for b in interrupted]
        assert (interrupted.epoch, interrupted.position) == (1, 0)
    else:
        cut = {
            "start": 0,
            "mid_epoch": per_epoch // 2,
            "last_batch_taken": per_epoch,
            "second_epoch": per_epoch + per_epoch // 2 + 1,
        }[where]
        before = flat(interrupted, cut) if cut else []
    state = round_trip(interrupted.state_dict())
    resumed = make()
    resumed.load_state_dict(state)
    assert (resumed.epoch, resumed.position) == (interrupted.epoch, interrupted.position)
    after = flat(resumed, total - len(before))
    assert before + after == reference
    # The original, continued, agrees too: saving state has no side effect.
    assert flat(interrupted, total - len(before)) == after


def test_state_for_other_configuration_is_refused() -> None:
    state = Batcher(numbered(), batch_size=5, seed=0).state_dict()
    with pytest.raises(ValueError, match="batch_size=5, this batcher has batch_size=6"):
        Batcher(numbered(), batch_size=6, seed=0).load_state_dict(state)
    with pytest.raises(ValueError, match="num_samples=23"):
        Batcher(numbered(22), batch_size=5, seed=0).load_state_dict(state)


# -------------------------------------------------------------------------------------------- data parallel


@pytest.mark.parametrize("n", [24, 23, 21, 20])
@pytest.mark.parametrize("drop_last", [False, True])
def test_ranks_together_see_what_one_process_sees(n: int, drop_last: bool) -> None:
    world, per_rank = 3, 2
    single = epochs(Batcher(numbered(n), batch_size=world * per_rank, drop_last=drop_last, seed=4), 2)
    ranks = [
        Batcher(numbered(n), batch_size=per_rank, drop_last=drop_last, seed=4, rank=r, world_size=world)
        for r in range(world)
    ]
    assert len({len(b) for b in ranks}) == 1  # every rank takes the same number of steps
    shards = [epochs(b, 2) for b in ranks]
    for e in range(2):
        joined = [concat(shards[r][e][i] for r in range(world)) for i in range(len(ranks[0]))]
        if n % (world * per_rank) >= world or drop_last or n % (world * per_rank) == 0:
            assert joined == single[e]
        else:  # a last global batch smaller than the world is dropped, the rest agree
            assert joined == single[e][:-1]


def test_rank_parts_of_a_partial_batch_are_balanced() -> None:
    # 23 samples, global batch 6: the last global batch has 5 samples -> parts 2, 2, 1 (torch.tensor_split).
    sizes = [
        [len(ids) for ids in epochs(Batcher(numbered(), 2, seed=0, rank=r, world_size=3), 1)[0]]
        for r in range(3)
    ]
    assert [s[-1] for s in sizes] == [2, 2, 1]


# ------------------------------------------------------------------------------------------------ arguments


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size must be an int >= 1 or None"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"batch_size": 4, "shuffle": "yes"}, "shuffle must be True, False or 'once'"),
        ({"batch_size": 30, "drop_last": True}, "gives no batches"),
        ({"batch_size": 4, "rank": 2, "world_size": 2}, r"rank must be in 0\.\.1"),
        ({"batch_size": 4, "world_size": 0}, "world_size"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Batcher(numbered(), **kwargs)


@pytest.mark.parametrize("world_size", [1, 2])
def test_reused_buffer_yields_the_same_batches_and_is_overwritten(world_size: int) -> None:
    split = numbered(53)  # a partial last batch
    for rank in range(world_size):
        fresh = Batcher(split, 8, seed=3, rank=rank, world_size=world_size)
        reused = Batcher(split, 8, seed=3, rank=rank, world_size=world_size, reuse_buffer=True)
        for _ in range(3):
            a, b = list(fresh), []
            for x, y in reused:
                b.append((x.clone(), y))  # copied now: the next batch overwrites x
            assert [ids_of(batch) for batch in a] == [ids_of(batch) for batch in b]
            assert all(torch.equal(xa, xb) for (xa, _), (xb, _) in zip(a, b, strict=True))
    reused = Batcher(split, 8, seed=3, reuse_buffer=True)
    first, _ = next(iter(reused))
    kept = first.clone()
    second, _ = next(iter(reused))
    assert second.data_ptr() == first.data_ptr() and not torch.equal(first, kept)
