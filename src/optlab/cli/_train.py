"""The pieces of ``optlab train`` that are not option parsing: flags into a
:class:`~optlab.train.TrainConfig` (defaults < ``--config`` file < flags), the torchrun relaunch of
``--nproc N``, the epoch lines and the closing line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from optlab.errors import ConfigError

# Flags that are TrainConfig fields of the same name and take their value as given.
PLAIN_FLAGS = (
    "dataset",
    "model",
    "optimizer",
    "lr",
    "epochs",
    "max_steps",
    "schedule",
    "warmup_steps",
    "seed",
    "data_dir",
    "device",
    "checkpoint_every",
    "log_steps",
    "sync_bn",
    "no_decay_bias_norm",
    "tensorboard",
    "description",
    "batch_schedule",
    "batch_lr_rule",
    "batch_beta2_rule",
    "flip",
    "translate",
    "label_smoothing",
    "tta",
    "channels_last",
    "precision",
)


def _number_or_full(text: str | None, name: str) -> int | None:
    if text is None or text.lower() == "full":
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"invalid value for {name}: {text!r} (an integer >= 1, or 'full')") from None


def _count_or_fraction(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ConfigError(
            f"invalid value for --validation: {text!r} (a count >= 1 or a fraction in (0, 1))"
        ) from None


def config_from_flags(params: dict[str, Any]) -> Any:
    """The :class:`~optlab.train.TrainConfig` of ``optlab train``'s parameters (``ctx.params``): the
    ``--config`` file's settings, overridden by every flag given."""
    from optlab.train import TrainConfig, parse_hparam

    config = params["config"]
    base = TrainConfig.file_settings(config) if config is not None else {}
    base.update({key: params[key] for key in PLAIN_FLAGS if params[key] is not None})
    if params["batch_size"] is not None:
        base["batch_size"] = _number_or_full(params["batch_size"], "--batch-size")
    if params["validation"] is not None:
        base["validation"] = _count_or_fraction(params["validation"])
    if params["hp"]:
        base["hparams"] = {**base.get("hparams", {}), **dict(parse_hparam(item) for item in params["hp"])}
    if params["schedule_arg"]:
        pairs = dict(parse_hparam(item) for item in params["schedule_arg"])
        base["schedule_kwargs"] = {**base.get("schedule_kwargs", {}), **pairs}
    if params["batch_schedule_arg"]:
        pairs = dict(_batch_schedule_arg(item) for item in params["batch_schedule_arg"])
        base["batch_schedule_kwargs"] = {**base.get("batch_schedule_kwargs", {}), **pairs}
    return TrainConfig.from_dict(base)


def _batch_schedule_arg(text: str) -> tuple[str, Any]:
    """``--batch-schedule-arg KEY=VALUE``, parsed as ``--hp`` is (``sizes=32,64`` → (32, 64))."""
    from optlab.train import parse_hparam

    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or not raw.strip():
        raise ConfigError(
            f"invalid value for --batch-schedule-arg: {text!r} (expected key=value, e.g. start=32)"
        )
    return parse_hparam(text)


class EpochPrinter:
    """A training callback: one line per epoch on stdout."""

    def on_epoch(self, state: Any) -> None:
        row = state.metrics
        eval_name = "val" if "val_acc" in row else "test"
        print(
            f"epoch {row['epoch']:>3}  step {row['step']:>6}  lr {row['lr']:.3g}  "
            f"train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f}  "
            f"{eval_name} loss {row[eval_name + '_loss']:.4f} acc {row[eval_name + '_acc']:.4f}  "
            f"|g| {row['grad_norm']:.3g}  {1e3 * row['time_per_update']:.3g} ms/update",
            flush=True,
        )


def done_line(result: Any) -> str:
    """The closing line: the run folder, updates, time, what stopped it, the final accuracy."""
    summary = result.summary
    final = summary.get("final", {})
    eval_name = "val" if "val_acc" in final else "test"
    return (
        f"done: {result.run_dir}  {summary['steps']} updates in {summary['wall_time']:.1f} s"
        f"{_stop_note(summary)}, {eval_name} accuracy {final.get(eval_name + '_acc', float('nan')):.4f}"
    )


def _stop_note(summary: dict[str, Any]) -> str:
    """Which bound ended the run, when the user could wonder: both --epochs and --max-steps given."""
    config = summary.get("config", {})
    reason = summary.get("stopped_by")
    if reason == "max_steps":
        if "epochs" in config:
            return f" (--max-steps {config.get('max_steps')} reached before --epochs {config['epochs']})"
        return f" (--max-steps {config.get('max_steps')})"
    if reason == "epochs" and config.get("max_steps") is not None:
        n = summary.get("epochs")
        return f" ({n} epoch{'' if n == 1 else 's'} reached before --max-steps {config['max_steps']})"
    if reason == "callback":
        return " (stopped by a callback)"
    return ""


def same_run(run_dir: Path, config: Any) -> bool:
    """Does ``run_dir`` hold a run started with ``config`` (the saved config has its device resolved)?"""
    from optlab.train import TrainConfig

    if not (run_dir / "config.toml").is_file():
        return False
    saved = TrainConfig.load(run_dir / "config.toml")
    return saved.replace(device=config.device) == config


def resume_point(run_dir: Path) -> str:
    from optlab.train import load_checkpoint

    path = run_dir / "checkpoints" / "last.pt"
    if not path.is_file():
        return f"resuming {run_dir} from the start (no checkpoint yet)"
    return f"resuming {run_dir} from its checkpoint at update {load_checkpoint(path)['step']}"


def launch(params: dict[str, Any], config: Any, nproc: int, max_restarts: int) -> None:
    """``optlab train --nproc N``: check the settings here, then re-run the command (without --nproc) through
    torchrun with an explicit --run-dir, so that every worker and every elastic restart uses one folder."""
    from optlab.train import distributed, resolve_device, runs
    from optlab.train.config import check_registries

    if config is not None:
        check_registries(config)
        device = resolve_device(
            config.device
        )  # e.g. --device cuda without CUDA: one line, not torchrun's trace
        if config.sync_bn and device.type != "cuda":
            raise ConfigError("invalid value for --sync-bn: torch's SyncBatchNorm runs on CUDA devices only")
        if nproc < 1:
            raise ConfigError(f"invalid value for --nproc: {nproc} (an integer >= 1)")
        # Missing data or a model that does not fit it fails here, as one line, not in every worker under
        # torchrun's error report.
        from optlab import data, models
        from optlab.train import check_fits

        dataset = data.load(
            config.dataset, data_dir=config.data_dir, validation=config.validation, seed=config.seed
        )
        check_fits(models.create(config.model, dataset.input_shape, dataset.num_classes), dataset, config)
        run_dir = params["run_dir"] or runs.default_run_dir(config)
        if (run_dir / "config.toml").exists():
            raise ConfigError(
                f"{run_dir} already holds a run: continue it with --resume {run_dir} or pick another"
            )
        params = {**params, "run_dir": run_dir}
    args: list[str] = []
    for name, value in params.items():
        option = "--" + name.replace("_", "-")
        if name in ("nproc", "max_restarts") or value is None or (name == "quiet" and not value):
            continue
        if value is True:
            args.append(option)
        elif value is False:  # --no-NAME given: pass it on, or the workers would take a --config file's value
            args.append("--no-" + name.replace("_", "-"))
        elif isinstance(value, list | tuple):
            args += [arg for item in value for arg in (option, str(item))]
        else:
            args += [option, str(value)]
    if not params["quiet"]:
        print(
            f"launching {nproc} processes with torchrun: {params.get('run_dir') or params['resume']}",
            flush=True,
        )
    code = distributed.launch(args, nproc, max_restarts)
    if code:
        raise typer.Exit(code)
