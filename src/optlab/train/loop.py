"""The run shell around the core loop (:func:`optlab.train.core.fit`): ``train(config)`` resolves the config
against the registries, builds data, model, optimizer, schedule and batcher, keeps the run folder
(``config.toml``, ``metrics.csv``, ``steps.csv``, checkpoints, ``final.pt``, ``summary.json``), the runs
index and the progress bar, and resumes: ``resume=True`` restores model, optimizer, batcher, RNG states and
the epoch's partial statistics from ``checkpoints/last.pt``, so the final parameters equal an uninterrupted
run's bit for bit on CPU.

Data parallel (see :mod:`optlab.train.distributed`): under a process group the model runs inside
DistributedDataParallel, each rank takes its shard of every global batch, the epoch statistics are
all-reduced, and only rank 0 writes files."""

from __future__ import annotations

import contextlib
import functools
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import optlab
from optlab._io import atomic_write_text
from optlab.errors import ConfigError, OptlabError
from optlab.train import batch_schedule, core, distributed, runs
from optlab.train.callbacks import TrainState
from optlab.train.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    save_tensors,
    set_rng_state,
)
from optlab.train.config import TrainConfig, check_registries
from optlab.train.device import resolve_device
from optlab.train.loggers import CsvLogger, TensorBoardLogger, require_tensorboard
from optlab.train.progress import Progress
from optlab.train.stats import EpochStats


@dataclass
class RunResult:
    run_dir: Path | None  # None for fit_config (no folder)
    model: nn.Module
    metrics: list[dict[str, Any]]
    summary: dict[str, Any]


_distributed = distributed.world  # (rank, world size): (0, 1) unless a process group is running


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
    if config.tensorboard and writer:
        require_tensorboard()  # before the run folder exists
    device = distributed.rank_device(resolve_device(config.device))
    config = config.replace(device=str(device))

    # -- build: data, model, optimizer, schedule, batcher ----------------------------------------------------
    created = runs.prepare_run_dir(run_dir) if writer else None  # fail before any data is loaded
    try:
        parts = build(config, dataset, device, rank, world_size)
    except BaseException:
        runs.remove_empty_dirs(created)  # settings the data, model or schedule reject leave nothing behind
        raise
    model, optimizer, batcher, eval_name = parts.model, parts.optimizer, parts.batcher, parts.evaluation[1]
    net = forward_net(distributed.wrap(model, device, config.sync_bn), config)  # DDP on several ranks
    # (`model` is what is saved)
    params = [p for p in model.parameters() if p.requires_grad]

    # -- state: fresh or restored ----------------------------------------------------------------------------
    state = TrainState(config, model, optimizer, parts.dataset, device, epochs=parts.epochs)
    state.stats = EpochStats(device, keep_step_losses=config.log_steps)
    elapsed = 0.0
    if checkpoint is not None:
        distributed.check_world(checkpoint, world_size)
        try:
            model.load_state_dict(checkpoint["model"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            batcher.load_state_dict(distributed.batcher_state(checkpoint["batcher"], rank))
        except (KeyError, RuntimeError, ValueError) as error:
            raise OptlabError(f"checkpoint in {run_dir} does not fit its config: {error}") from None
        set_rng_state(checkpoint["rng"])
        state.step, state.epoch = checkpoint["step"], checkpoint["epoch"]
        state.history, state.epoch_time = list(checkpoint["history"]), checkpoint["epoch_time"]
        elapsed = checkpoint["elapsed"]
        distributed.load_stats(state.stats, checkpoint["stats"])
    index_db = run_id = None
    if writer:
        atomic_write_text(run_dir / "config.toml", config.to_toml())
        runs.write_csv(run_dir / "metrics.csv", state.history)
        if config.log_steps:
            runs.truncate_steps(run_dir / "steps.csv", state.step)
        if index is not False:
            index_db = runs.RunIndex(None if index is True else index)
            run_id = index_db.start(run_dir, config, study=group)

    started = time.perf_counter()
    lrs = batch_schedule.lrs_used(parts.schedule)  # steps.csv: each update's lr (after any batch-size rule)
    shell = _RunFiles(
        run_dir, config, lrs, batcher, params, writer, lambda: elapsed + time.perf_counter() - started
    )
    bar = Progress(quiet or not writer, parts.epochs, len(batcher), state.epoch, state.stats.updates)
    loggers = [CsvLogger(run_dir / "metrics.csv")] if writer else []
    if writer and config.tensorboard:
        loggers.append(TensorBoardLogger(run_dir / "tensorboard"))
    status, error_message = "failed", None
    try:
        with bar, contextlib.ExitStack() as closing:
            for logger in loggers:
                closing.callback(logger.close)
            parts.fit(config, state, net, [*callbacks, *loggers, shell, _Bar(bar, eval_name)])
        status = "completed"
    except core.Diverged as error:
        error_message = (
            f"{error}; run stopped, the last good checkpoint is kept in "
            f"{run_dir / 'checkpoints' / 'last.pt'} (try a smaller --lr)"
        )
        raise OptlabError(error_message) from None
    except BaseException as error:
        error_message = str(error) or type(error).__name__  # KeyboardInterrupt: "KeyboardInterrupt"
        raise
    finally:
        wall = elapsed + time.perf_counter() - started
        summary = _summary(config, state, parts, device, wall, status, error_message)
        if writer:
            if status == "completed":
                state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
                save_tensors(run_dir / "final.pt", state_dict)
            runs.write_json(run_dir / "summary.json", summary)
            if index_db is not None:
                index_db.finish(run_id, status, summary)
    return RunResult(run_dir, model, state.history, summary)


@dataclass
class Parts:
    """What a :class:`TrainConfig` builds: the data on the device and what :func:`core.fit` takes."""

    dataset: Any
    model: nn.Module
    optimizer: torch.optim.Optimizer
    batcher: Any
    schedule: Any
    epochs: int  # --epochs, or as many as --max-steps needs
    total_steps: int  # the schedule's horizon: min(epochs × batches per epoch, --max-steps)
    transform: Any = None  # the batches' augmentation (--flip, --translate), or None
    loss_fn: Any = None  # the training loss (cross-entropy with --label-smoothing), or None: cross-entropy

    @property
    def evaluation(self) -> tuple[Any, str]:
        """The split evaluated after each epoch and its name: the validation split if held out, else test."""
        return (self.dataset.val, "val") if self.dataset.val is not None else (self.dataset.test, "test")

    def fit(
        self, config: TrainConfig, state: TrainState, net: nn.Module, callbacks: Sequence[Any]
    ) -> core.FitResult:
        """:func:`core.fit` over these parts for ``config``'s run, forward passes through ``net``."""
        split, name = self.evaluation
        return core.fit(
            self.model, self.optimizer, self.batcher, self.schedule, epochs=self.epochs,
            max_steps=self.total_steps, callbacks=callbacks, state=state, net=net,
            evaluate=core.evaluator(config.eval_batch_size, tta=config.tta, **{name: split}),
            transform=self.transform, loss_fn=self.loss_fn,
        )  # fmt: skip


def build(
    config: TrainConfig, dataset: Any, device: torch.device, rank: int = 0, world_size: int = 1
) -> Parts:
    """Data (loaded by name unless given), model (initialised from ``config.seed``), optimizer, batcher,
    schedule, augmentation and training loss for ``config`` on ``device``. Raises :class:`ConfigError` for
    a model that does not fit the data or a schedule the run's length rejects."""
    from optlab import data, models, optim, schedules
    from optlab.data.augment import Augment

    if dataset is None:
        dataset = data.load(
            config.dataset, data_dir=config.data_dir, validation=config.validation, seed=config.seed
        )
    dataset = dataset.to(device)
    torch.manual_seed(config.seed)
    model = models.create(config.model, dataset.input_shape, dataset.num_classes).to(device)
    check_fits(model, dataset, config)
    if config.channels_last:  # 4-D weights in NHWC, oneDNN's fast convolution layout (no-op for others)
        model = model.to(memory_format=torch.channels_last)
    params = (  # --no-decay-bias-norm: biases and norm layers in a group without weight decay
        optim.param_groups(model, weight_decay=None, no_decay=("bias", "norm"))
        if config.no_decay_bias_norm
        else model.parameters()
    )
    optimizer = optim.create(config.optimizer, params, lr=config.lr, **config.hparams)
    sizes = batch_schedule.create(config)  # a batch-size schedule replaces the fixed batch size
    batcher = data.Batcher(
        dataset.train,
        config.batch_size if sizes is None else sizes,
        shuffle=config.shuffle,
        drop_last=config.drop_last,
        seed=config.seed,
        device=device,
        rank=rank,
        world_size=world_size,
        reuse_buffer=True,  # each batch is done (backward, hooks run) before the next is gathered
    )
    if sizes is None:
        n_epochs = config.epoch_limit(len(batcher))
        total_steps = config.total_steps(len(batcher))
    else:  # epochs of different lengths
        n_epochs, total_steps = batch_schedule.run_length(config, batcher)
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
    # --batch-lr-rule, --batch-beta2-rule: the lr and β₂ follow the batch size the batcher just drew
    schedule = batch_schedule.follow(schedule, config, batcher, optimizer)
    augment = Augment(config.flip, config.translate)
    loss_fn = (
        functools.partial(F.cross_entropy, label_smoothing=config.label_smoothing)
        if config.label_smoothing
        else None
    )
    return Parts(
        dataset, model, optimizer, batcher, schedule, n_epochs, total_steps, augment or None, loss_fn
    )


def forward_net(net: nn.Module, config: TrainConfig) -> nn.Module:
    """What the training forward pass calls: ``net``, under bfloat16 autocast for ``precision="bf16"``."""
    if config.precision == "bf16":
        device_type = next(net.parameters()).device.type
        return core.Autocast(net, device_type, torch.bfloat16)
    return net


def fit_config(config: TrainConfig, *, dataset: Any = None, callbacks: Sequence[Any] = ()) -> RunResult:
    """``train(config)`` without a run folder, index or progress bar: the same model, updates and history
    (bit for bit, given the seed), for experiments and tools that train many short runs and keep only numbers.
    ``RunResult.run_dir`` is None and ``summary`` holds steps, epochs and why the run ended. Raises
    :class:`ConfigError` for bad settings and :class:`core.Diverged` on a non-finite loss."""
    config.validate()
    check_registries(config, check_dataset=dataset is None)
    device = resolve_device(config.device)
    config = config.replace(device=str(device))
    parts = build(config, dataset, device)
    state = TrainState(config, parts.model, parts.optimizer, parts.dataset, device)
    result = parts.fit(config, state, forward_net(parts.model, config), callbacks)
    summary = {"steps": result.steps, "epochs": state.epoch, "stopped": result.stopped, "seed": config.seed}
    return RunResult(None, parts.model, result.history, summary)


class _RunFiles:
    """The run folder's per-step and per-epoch writes: steps.csv and the checkpoint (a good state only: a
    non-finite loss or parameter stops the run instead of overwriting the last good checkpoint)."""

    def __init__(self, run_dir, config, schedule, batcher, params, writer, elapsed):
        self.run_dir, self.config, self.schedule, self.batcher = run_dir, config, schedule, batcher
        self.params, self.writer, self.elapsed = params, writer, elapsed

    def on_step(self, state: TrainState) -> None:
        if self.config.checkpoint_every and state.step % self.config.checkpoint_every == 0:
            self.save(state, "step")

    def on_epoch(self, state: TrainState) -> None:
        self.save(state, "epoch")

    def save(self, state: TrainState, reason: str) -> None:
        if not core.finite(state.stats, self.params):
            raise core.Diverged(state.step, state.epoch)
        stats_state = distributed.stats_state(state.stats)  # a collective: every rank takes part
        if not self.writer:
            return
        if self.config.log_steps:
            runs.append_steps(
                self.run_dir / "steps.csv", state.stats.take_step_losses(), state.step, self.schedule
            )
        save_checkpoint(
            self.run_dir / "checkpoints" / "last.pt",
            {
                "model": state.model.state_dict(),
                "optimizer": state.optimizer.state_dict(),
                "batcher": self.batcher.state_dict(),
                "rng": rng_state(),
                "schedule": {"name": self.config.schedule, "step": state.step},
                "step": state.step,
                "epoch": state.epoch,
                "history": state.history,
                "stats": stats_state,
                "epoch_time": state.epoch_time,
                "elapsed": self.elapsed(),
                "reason": reason,
            },
        )


class _Bar:
    """Feeds the progress bar: the running loss every CHECK_EVERY updates, the evaluation after each epoch."""

    def __init__(self, bar: Progress, eval_name: str):
        self.bar, self.eval_name = bar, eval_name
        if bar.disabled:  # no per-update call when nothing is drawn
            self.on_step = None  # type: ignore[assignment]

    def on_step(self, state: TrainState) -> None:
        if state.step % core.CHECK_EVERY == 0:
            self.bar.advance(state.stats)

    def on_epoch(self, state: TrainState) -> None:
        self.bar.epoch_done(state.epoch, state.metrics, self.eval_name)


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


def _stopped_by(config: TrainConfig, state: TrainState, parts: Parts, status: str) -> str | None:
    """Which bound ended a completed run: ``max_steps`` (its updates were reached first), ``epochs`` or
    ``callback`` (a callback set ``state.stop``); None for a failed run."""
    if status != "completed":
        return None
    if config.max_steps is not None and state.step >= config.max_steps:
        return "max_steps"
    if state.epoch >= parts.epochs or state.step >= parts.total_steps:
        return "epochs"
    return "callback" if state.stop else None


def _summary(config, state, parts, device, wall, status, error_message) -> dict:
    last, eval_name = (state.history[-1] if state.history else {}), parts.evaluation[1]
    return {
        "status": status,
        "error": error_message,
        "final": last,
        f"final_{eval_name}_acc": last.get(f"{eval_name}_acc"),
        "steps": state.step,
        "epochs": state.epoch,
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
        "train_size": len(parts.dataset.train),
        "stopped_by": _stopped_by(config, state, parts, status),
        **distributed.summary_fields(config.batch_size),
    }
