"""Data-parallel training on ``torch.distributed``: the process group, DDP, and the ``--nproc`` launcher.

Launched by ``torchrun`` (env ``WORLD_SIZE`` > 1), ``optlab train`` runs one process per rank: gloo on CPU,
nccl on CUDA (rank ``r`` uses ``cuda:LOCAL_RANK``). What each piece does:

* **Data.** ``--batch-size b`` is the per-rank batch. :class:`optlab.data.Batcher` cuts each global batch of
  ``N·b`` samples out of one epoch permutation that every rank draws alike and gives rank ``r`` its ``r``-th
  part, so ``N`` ranks × ``b`` see exactly the samples one process at ``N·b`` sees.
* **Gradients.** The model is wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`, which
  all-reduces and averages the gradients during ``backward``: with equal shards each rank's ``p.grad`` is
  then the mean gradient over the global batch, the same as one process at ``N·b`` (Goyal et al. 2017,
  "Accurate, Large Minibatch SGD", §3). The optimizer only ever sees that averaged gradient, so LARS's
  and LAMB's trust ratios ``||w|| / ||update||`` (You et al. 2017, 2019) use the full all-reduced gradient,
  not a per-rank one.
* **BatchNorm.** Per-rank batch statistics by default (each rank normalises its ``b`` samples; running
  statistics are rank 0's, which are the ones saved). ``--sync-bn`` converts the model to
  :class:`~torch.nn.SyncBatchNorm` (statistics over the global batch); torch implements it for CUDA only.
* **Files.** Only rank 0 writes the run folder; rank 0 chooses it and broadcasts the choice. Checkpoints hold
  rank 0's state, which every rank can load: the batcher's epoch, position and generator are the same on all
  ranks, and the epoch's statistics are saved summed over ranks.
* **Restarts.** ``torchrun --max-restarts R`` restarts all workers when one dies; a restarted worker (env
  ``TORCHELASTIC_RESTART_COUNT`` > 0) whose ``--run-dir`` holds this run continues it as ``--resume`` would.

:func:`launch` is ``optlab train --nproc N``: the same command re-run through ``torchrun --standalone``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from optlab.errors import ConfigError


def env_world_size() -> int:
    """The world size torchrun announces (``WORLD_SIZE``), 1 outside torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def env_rank() -> int:
    """This process's rank as torchrun announces it (``RANK``), 0 outside torchrun."""
    return int(os.environ.get("RANK", "0"))


def restart_count() -> int:
    """How many times torchrun has restarted the workers (``TORCHELASTIC_RESTART_COUNT``)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))


def world() -> tuple[int, int]:
    """(rank, world size): (0, 1) unless a process group is running."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def rank_device(device: torch.device) -> torch.device:
    """The device of this rank: ``cuda:LOCAL_RANK`` for a CUDA run under torchrun, else ``device``."""
    if device.type == "cuda" and env_world_size() > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


@contextmanager
def process_group(device: torch.device) -> Iterator[None]:
    """Initialise the default process group when launched by torchrun with ``WORLD_SIZE`` > 1 (nccl for
    CUDA, gloo otherwise) and destroy it on exit. Does nothing outside torchrun or when a group exists."""
    if env_world_size() <= 1 or not dist.is_available() or dist.is_initialized():
        yield
        return
    device = rank_device(device)
    # torchrun keeps one TCPStore across elastic restarts, so a restarted group could read the previous
    # attempt's (dead) peer addresses and fail with "connection refused" (seen here with gloo, and reported
    # as pytorch/pytorch#167288): give every attempt its own key prefix.
    store, rank, world_size = next(dist.rendezvous("env://"))
    store = dist.PrefixStore(f"optlab/attempt_{restart_count()}/", store)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", store=store, rank=rank, world_size=world_size, device_id=device)
    else:
        dist.init_process_group("gloo", store=store, rank=rank, world_size=world_size)
    try:
        yield
    finally:
        dist.destroy_process_group()


def broadcast(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (any picklable object); ``value`` itself without a process group."""
    if world()[1] == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def wrap(model: nn.Module, device: torch.device, sync_bn: bool) -> nn.Module:
    """``model`` for the forward pass: itself on one process, else inside ``DistributedDataParallel`` (which
    broadcasts rank 0's parameters and buffers now and averages gradients in every ``backward``).
    ``sync_bn`` swaps BatchNorm layers for SyncBatchNorm in place (same parameters and buffers)."""
    if world()[1] == 1:
        return model
    if sync_bn:
        if device.type != "cuda":
            raise ConfigError("invalid value for --sync-bn: torch's SyncBatchNorm runs on CUDA devices only")
        for name, child in list(model.named_children()):
            setattr(model, name, nn.SyncBatchNorm.convert_sync_batchnorm(child))
    return nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def check_world(checkpoint: dict[str, Any], world_size: int) -> None:
    """A checkpoint resumes only on as many ranks as wrote it (each rank's shard depends on the count)."""
    saved = checkpoint.get("batcher", {}).get("world_size", 1)
    if saved != world_size:
        how = f"--nproc {saved}" if saved > 1 else "one process (without --nproc or torchrun)"
        raise ConfigError(
            f"this run was trained on {saved} process(es), not {world_size}: resume it with {how}"
        )


def batcher_state(state: dict[str, Any], rank: int) -> dict[str, Any]:
    """Rank 0's batcher state for this rank: epoch, position and generator are equal on every rank."""
    return {**state, "rank": rank}


def _summed_totals(stats: Any) -> torch.Tensor:
    """The epoch's running sums (loss, hits, examples, gradient norms, count) added over all ranks."""
    stats.fold()
    totals = stats.totals.clone()
    if world()[1] > 1:
        dist.all_reduce(totals)
    return totals


def stats_state(stats: Any) -> dict[str, Any]:
    """The epoch statistics to checkpoint: summed over ranks, so a restart of every rank loses nothing."""
    return {"totals": _summed_totals(stats).cpu(), "updates": stats.updates}


def load_stats(stats: Any, state: dict[str, Any]) -> None:
    """Load checkpointed statistics: each of the N ranks takes 1/N of the sums, so they add up again."""
    world_size = world()[1]
    stats.load_state_dict({**state, "totals": state["totals"] / world_size})


def epoch_means(stats: Any) -> dict[str, float]:
    """The epoch's train loss, train accuracy and gradient norm over all ranks (one all-reduce per epoch).

    train_loss is the mean over updates and ranks of the per-rank minibatch loss: with equal shards, the mean
    loss of the global batch. DDP gives every rank the same (averaged) gradient, so grad_norm is its norm."""
    loss_sum, hits, seen, norm_sum, norm_count = _summed_totals(stats).tolist()
    return {
        "train_loss": loss_sum / max(stats.updates * world()[1], 1),
        "train_acc": hits / max(seen, 1),
        "grad_norm": norm_sum / max(norm_count, 1),
    }


def summary_fields(batch_size: int | None) -> dict[str, Any]:
    """What the summary records about the data-parallel layout."""
    _, world_size = world()
    return {
        "world_size": world_size,
        "backend": dist.get_backend() if world_size > 1 else None,
        "global_batch_size": batch_size * world_size if batch_size is not None else None,
    }


# -- optlab train --nproc N: re-run the command through torchrun --------------------------------------------


def _without(args: list[str], options: tuple[str, ...]) -> list[str]:
    """``args`` without ``--option VALUE`` and ``--option=VALUE`` for each of ``options``."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in options:
            skip = True
        elif not any(arg.startswith(option + "=") for option in options):
            out.append(arg)
    return out


def torchrun_command(train_args: list[str], nproc: int, max_restarts: int) -> list[str]:
    """``python -m torch.distributed.run --standalone ... -m optlab train ARGS`` (``--nproc`` and
    ``--max-restarts`` removed from ``train_args``)."""
    args = _without(train_args, ("--nproc", "--max-restarts"))
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        f"--max-restarts={max_restarts}",
        "-m",
        "optlab",
        "train",
        *args,
    ]


def launch(train_args: list[str], nproc: int, max_restarts: int) -> int:
    """Run ``optlab train ARGS`` on ``nproc`` local processes through torchrun; torchrun's exit code."""
    if nproc < 1:
        raise ConfigError(f"invalid value for --nproc: {nproc} (an integer >= 1)")
    if max_restarts < 0:
        raise ConfigError(f"invalid value for --max-restarts: {max_restarts} (an integer >= 0)")
    return subprocess.run(torchrun_command(train_args, nproc, max_restarts), check=False).returncode
