"""The training loop: plain and short, in the style of nanoGPT's ``train.py``.

One update is: set the learning rate from the schedule (a pure function of the step), forward, cross-entropy,
backward, record the gradient norm, optimizer step. Statistics are accumulated on the device and read back
once per epoch (and every ``_CHECK_EVERY`` updates to catch a NaN loss early), so small batches are not slowed
down by host syncs. After every epoch: evaluation (batched, ``no_grad``, eval mode), a row in ``metrics.csv``,
a checkpoint. ``resume=True`` restores model, optimizer, batcher, RNG states and the epoch's partial
statistics from ``checkpoints/last.pt`` so the final parameters equal an uninterrupted run's bit for bit on
CPU.

Data parallel (see :mod:`optlab.train.distributed`): under a process group the model runs inside
DistributedDataParallel, each rank takes its shard of every global batch, the epoch statistics are
all-reduced, and only rank 0 writes files."""

from __future__ import annotations

import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import optlab
from optlab._io import atomic_write_text
from optlab.errors import ConfigError, OptlabError
from optlab.train import distributed, runs
from optlab.train.callbacks import TrainState, hooks
from optlab.train.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    save_tensors,
    set_rng_state,
)
from optlab.train.config import TrainConfig, check_registries
from optlab.train.progress import Progress
from optlab.train.stats import EpochStats, grad_norm_every

_CHECK_EVERY = 50  # updates between host syncs that look for a non-finite loss
clock = time.perf_counter  # times the updates; benchmarks/train_loop.py may swap in time.process_time


@dataclass
class RunResult:
    run_dir: Path
    model: nn.Module
    metrics: list[dict[str, Any]]
    summary: dict[str, Any]


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; an unknown or unavailable device is a
    :class:`ConfigError`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"invalid value for --device: {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"invalid value for --device: {name!r} (CUDA is not available on this machine)")
    return device


_distributed = distributed.world  # (rank, world size): (0, 1) unless a process group is running


@torch.no_grad()
def evaluate(model: nn.Module, split: Any, batch_size: int) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``split`` (eval mode, batched, one host sync)."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=split.x.device)
    correct = torch.zeros((), device=split.x.device, dtype=torch.long)
    for start in range(0, len(split), batch_size):
        x, y = split.x[start : start + batch_size], split.y[start : start + batch_size]
        logits = model(x)
        loss_sum += F.cross_entropy(logits, y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
    model.train(was_training)
    n = max(len(split), 1)
    loss, hits = torch.stack((loss_sum, correct.to(loss_sum.dtype))).tolist()
    return loss / n, hits / n


def train(
    config: TrainConfig | None = None,
    run_dir: str | Path | None = None,
    *,
    dataset: Any = None,
    callbacks: tuple[Any, ...] | list[Any] = (),
    quiet: bool = False,
    resume: bool = False,
    index: bool | str | Path = True,
    group: str | None = None,
) -> RunResult:
    """Train ``config.model`` on ``config.dataset``; write the run folder; return the model and its metrics.

    ``resume=True`` continues the run in ``run_dir`` with the config saved there (``config`` is ignored).
    ``dataset`` overrides loading by name (an ``optlab.data.Dataset``). ``index`` is the runs index to record
    the run in: ``True`` for ``$OPTLAB_RUNS/index.sqlite``, a path, or ``False`` for none; ``group`` is the
    sweep study the run is a trial of (the index's ``study`` column). Raises
    :class:`ConfigError` for bad settings and :class:`OptlabError` when the run fails (e.g. a NaN loss)."""
    from optlab import data, models, optim, schedules

    rank, world_size = _distributed()
    writer = rank == 0
    checkpoint: dict[str, Any] | None = None
    if resume:
        if run_dir is None:
            raise ConfigError("resume needs the run directory (--resume RUN_DIR)")
        run_dir = Path(run_dir)
        if not (run_dir / "config.toml").is_file():
            raise ConfigError(f"cannot resume {run_dir}: no config.toml there (is it a run directory?)")
        config = TrainConfig.load(run_dir / "config.toml")
        if (run_dir / "checkpoints" / "last.pt").exists():
            checkpoint = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    else:
        if config is None:
            raise ConfigError("train() needs a TrainConfig unless resume=True")
        config.validate()
        # Rank 0 picks the folder (a default name holds the time) and sees whether it is taken; all follow.
        choice = None
        if writer:
            chosen = Path(run_dir) if run_dir is not None else runs.default_run_dir(config)
            choice = (str(chosen), (chosen / "config.toml").exists())
        chosen_dir, taken = distributed.broadcast(choice)
        run_dir = Path(chosen_dir)
        if taken:
            raise ConfigError(
                f"{run_dir} already holds a run: continue it with --resume {run_dir} or pick another"
            )
    check_registries(config, check_dataset=dataset is None)
    device = distributed.rank_device(resolve_device(config.device))
    config = config.replace(device=str(device))

    # -- build: data, model, optimizer, schedule, batcher ----------------------------------------------------
    created = runs.prepare_run_dir(run_dir) if writer else None  # fail before any data is loaded
    try:
        if dataset is None:
            dataset = data.load(
                config.dataset, data_dir=config.data_dir, validation=config.validation, seed=config.seed
            )
        dataset = dataset.to(device)
        torch.manual_seed(config.seed)
        model = models.create(config.model, dataset.input_shape, dataset.num_classes).to(device)
        check_fits(model, dataset, config)
        # DDP on several ranks; `model` is what is saved
        net = distributed.wrap(model, device, config.sync_bn)
        params = (  # --no-decay-bias-norm: biases and norm layers in a group without weight decay
            optim.param_groups(model, weight_decay=None, no_decay=("bias", "norm"))
            if config.no_decay_bias_norm
            else model.parameters()
        )
        optimizer = optim.create(config.optimizer, params, lr=config.lr, **config.hparams)
        batcher = data.Batcher(
            dataset.train,
            config.batch_size,
            shuffle=config.shuffle,
            drop_last=config.drop_last,
            seed=config.seed,
            device=device,
            rank=rank,
            world_size=world_size,
            reuse_buffer=True,  # each batch is done (backward, hooks run) before the next is gathered
        )
        n_epochs = config.epoch_limit(len(batcher))  # --max-steps alone: as many epochs as its updates need
        total_steps = config.total_steps(len(batcher))
        try:
            schedule = schedules.create(
                config.schedule,
                config.lr,
                total_steps,
                warmup_steps=config.warmup_steps,
                **config.schedule_kwargs,
            )
        except (TypeError, ValueError) as error:
            raise ConfigError(f"invalid schedule {config.schedule!r} for this run: {error}") from None
    except BaseException:
        runs.remove_empty_dirs(created)  # settings the data, model or schedule reject leave nothing behind
        raise
    eval_split, eval_name = (dataset.val, "val") if dataset.val is not None else (dataset.test, "test")
    params = [p for p in model.parameters() if p.requires_grad]

    # -- state: fresh or restored ----------------------------------------------------------------------------
    step, epoch, history, elapsed, epoch_time = 0, 0, [], 0.0, 0.0
    stats = EpochStats(device, keep_step_losses=config.log_steps)
    norm_every = grad_norm_every(len(batcher))
    if checkpoint is not None:
        distributed.check_world(checkpoint, world_size)
        try:
            model.load_state_dict(checkpoint["model"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            batcher.load_state_dict(distributed.batcher_state(checkpoint["batcher"], rank))
        except (KeyError, RuntimeError, ValueError) as error:
            raise OptlabError(f"checkpoint in {run_dir} does not fit its config: {error}") from None
        set_rng_state(checkpoint["rng"])
        step, epoch, history = checkpoint["step"], checkpoint["epoch"], list(checkpoint["history"])
        elapsed, epoch_time = checkpoint["elapsed"], checkpoint["epoch_time"]
        distributed.load_stats(stats, checkpoint["stats"])
    run_id = None
    index_db = None
    if writer:
        atomic_write_text(run_dir / "config.toml", config.to_toml())
        runs.write_csv(run_dir / "metrics.csv", history)
        if config.log_steps:
            runs.truncate_steps(run_dir / "steps.csv", step)
        if index is not False:
            index_db = runs.RunIndex(None if index is True else index)
            run_id = index_db.start(run_dir, config, study=group)

    state = TrainState(config, model, optimizer, dataset, device, step=step, epoch=epoch, history=history)
    state.epochs = n_epochs
    on_step, on_epoch = hooks(callbacks, "on_step"), hooks(callbacks, "on_epoch")

    def save(reason: str) -> None:
        """Checkpoint, but only a good state: a non-finite loss or parameter stops the run instead."""
        _check_finite(stats, params, step, epoch, run_dir)
        stats_state = distributed.stats_state(stats)  # a collective: every rank takes part
        if not writer:
            return
        if config.log_steps:
            runs.append_steps(run_dir / "steps.csv", stats.take_step_losses(), step, schedule)
        save_checkpoint(
            run_dir / "checkpoints" / "last.pt",
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "batcher": batcher.state_dict(),
                "rng": rng_state(),
                "schedule": {"name": config.schedule, "step": step},
                "step": step,
                "epoch": epoch,
                "history": history,
                "stats": stats_state,
                "epoch_time": epoch_time,
                "elapsed": elapsed + time.perf_counter() - started,
                "reason": reason,
            },
        )

    started = time.perf_counter()
    lr = schedule(max(step - 1, 0))  # the lr of the last update, until the next one
    bar = Progress(quiet or not writer, n_epochs, len(batcher), epoch, stats.updates)
    status, error_message = "failed", None
    try:
        with bar:
            while epoch < n_epochs and step < total_steps and not state.stop:
                model.train()
                t0 = clock()
                # A checkpoint taken after the epoch's last batch resumes with nothing left of that epoch.
                for x, y in batcher if batcher.position < len(batcher) else ():
                    lr = schedule(step)
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                    logits = net(x)
                    loss = F.cross_entropy(logits, y)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if step % norm_every == 0:
                        stats.record_grad_norm(params)
                    optimizer.step()
                    stats.record(loss, logits, y)  # references only: no kernel, no host sync
                    step += 1
                    if on_step:
                        state.step, state.lr, state.x, state.y, state.loss = step, lr, x, y, loss.detach()
                        for hook in on_step:
                            hook(state)
                    if step % _CHECK_EVERY == 0:
                        _check_finite(stats, None, step, epoch, run_dir)
                        bar.advance(stats)
                    if config.checkpoint_every and step % config.checkpoint_every == 0:
                        epoch_time += clock() - t0
                        save("step")
                        t0 = clock()
                    if step >= total_steps or state.stop:
                        break
                _check_finite(stats, params, step, epoch, run_dir)  # also waits for the last update
                epoch_time += clock() - t0
                t_eval = time.perf_counter()
                eval_loss, eval_acc = evaluate(model, eval_split, config.eval_batch_size)
                row = {
                    "epoch": epoch + 1,
                    "step": step,
                    "lr": lr,
                    **distributed.epoch_means(stats),  # train_loss, train_acc, grad_norm over all ranks
                    f"{eval_name}_loss": eval_loss,
                    f"{eval_name}_acc": eval_acc,
                    "updates": stats.updates,
                    "time_per_update": epoch_time / max(stats.updates, 1),
                    "epoch_time": epoch_time,
                    "eval_time": time.perf_counter() - t_eval,
                }
                epoch += 1
                history.append(row)
                stats.reset()
                epoch_time = 0.0
                state.step, state.epoch, state.metrics = step, epoch, row
                for hook in on_epoch:
                    hook(state)
                if writer:
                    runs.write_csv(run_dir / "metrics.csv", history)
                save("epoch")
                bar.epoch_done(epoch, row, eval_name)
        status = "completed"
    except BaseException as error:
        error_message = str(error) or type(error).__name__  # KeyboardInterrupt: "KeyboardInterrupt"
        raise
    finally:
        wall = elapsed + time.perf_counter() - started
        summary = _summary(
            config, history, step, epoch, wall, device, status, error_message, eval_name, dataset
        )
        summary["stopped_by"] = _stopped_by(config, step, epoch, n_epochs, total_steps, status, state.stop)
        summary.update(distributed.summary_fields(config.batch_size))
        if writer:
            if status == "completed":
                state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
                save_tensors(run_dir / "final.pt", state_dict)
            runs.write_json(run_dir / "summary.json", summary)
            if index_db is not None and run_id is not None:
                index_db.finish(run_id, status, summary)
    return RunResult(run_dir, model, history, summary)


def _check_finite(stats: EpochStats, params: list[torch.Tensor] | None, step: int, epoch: int, run_dir: Path):
    """Stop the run on a non-finite loss or gradient (or parameter, before a checkpoint): one host sync."""
    finite = stats.finite()
    if finite and params is not None:
        finite = bool(torch.stack([p.detach().isfinite().all() for p in params]).all())
    if not finite:
        raise OptlabError(
            f"loss became nan/inf by update {step} (epoch {epoch + 1}); run stopped, the last good "
            f"checkpoint is kept in {run_dir / 'checkpoints' / 'last.pt'} (try a smaller --lr)"
        )


def check_fits(model: nn.Module, dataset: Any, config: TrainConfig) -> None:
    """One eval-mode forward pass on one training example, so that a model that does not fit the data (a 1-D
    model on images) fails as a usage error before anything is written. Eval mode draws no random numbers
    and changes no state, so the run is the same with or without this check."""
    if len(dataset.train) == 0:
        raise ConfigError(f"invalid value for --dataset: {config.dataset!r} has no training examples left")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(dataset.train.x[:1])
    except (RuntimeError, ValueError, TypeError) as error:
        raise ConfigError(
            f"invalid value for --model: {config.model!r} does not fit dataset {config.dataset!r} (inputs "
            f"{tuple(dataset.input_shape)}): {str(error).splitlines()[0]}"
        ) from None
    finally:
        model.train(was_training)


def _stopped_by(
    config: TrainConfig, step: int, epoch: int, n_epochs: int, total_steps: int, status: str, stop: bool
) -> str | None:
    """Which bound ended a completed run: ``max_steps`` (its updates were reached first), ``epochs`` or
    ``callback`` (a callback set ``state.stop``); None for a failed run."""
    if status != "completed":
        return None
    if config.max_steps is not None and step >= config.max_steps:
        return "max_steps"
    if epoch >= n_epochs or step >= total_steps:
        return "epochs"
    return "callback" if stop else None


def _summary(config, history, step, epoch, wall, device, status, error_message, eval_name, dataset) -> dict:
    last = history[-1] if history else {}
    return {
        "status": status,
        "error": error_message,
        "final": last,
        f"final_{eval_name}_acc": last.get(f"{eval_name}_acc"),
        "steps": step,
        "epochs": epoch,
        "seed": config.seed,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "wall_time": wall,
        "optlab_version": optlab.__version__,
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
        "config": config.to_dict(),
        "train_size": len(dataset.train),
    }
