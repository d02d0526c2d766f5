"""``optlab train``, ``optlab runs list|show|compare``, ``optlab plot`` and ``optlab data download``.

Thin: parses flags into a :class:`~optlab.train.TrainConfig` (defaults < ``--config`` file < flags), checks
names against the registries, calls :func:`optlab.train.train`. Learning curves are drawn from ``metrics.csv``
files only."""

import io
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from optlab.cli._device import DEFAULT_DEVICE, DEVICE_HELP
from optlab.errors import ConfigError
from optlab.train.config import DEFAULT_EPOCHS

ROOT_OPTION = typer.Option(help="Runs folder holding index.sqlite.", show_default="$OPTLAB_RUNS, else ./runs")
EXIT_CODES = "Exit codes: 0 ok, 1 the run failed (NaN loss, missing data, corrupt checkpoint), 2 bad usage."
WHERE = (
    "Writes: a run folder RUNS/<UTC time>-<description>/ (or --run-dir) indexed in RUNS/index.sqlite, "
    "where RUNS is $OPTLAB_RUNS, else ./runs; nothing is created when a setting is invalid."
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


def _epoch_printer() -> Any:
    class EpochPrinter:
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

    return EpochPrinter()


def register(app: typer.Typer) -> None:
    @app.command(epilog=EXIT_CODES + " " + WHERE)
    def train(
        ctx: typer.Context,
        dataset: Annotated[
            str | None, typer.Option(help="Dataset (`optlab list datasets`).", show_default="mnist1d")
        ] = None,
        model: Annotated[
            str | None, typer.Option(help="Model (`optlab list models`).", show_default="mlp")
        ] = None,
        optimizer: Annotated[
            str | None, typer.Option(help="Optimizer (`optlab list optimizers`).", show_default="adam")
        ] = None,
        lr: Annotated[
            float | None,
            typer.Option(
                help="Base learning rate.",
                show_default="the optimizer's, as `optlab list optimizers` shows: sgd 0.1, adam 0.001, ...",
            ),
        ] = None,
        batch_size: Annotated[
            str | None,
            typer.Option(
                help="Examples per update, or 'full' for full batch. Per process with --nproc/torchrun.",
                show_default="128",
            ),
        ] = None,
        epochs: Annotated[
            int | None,
            typer.Option(
                help="Passes over the training set; with --max-steps the first reached stops the run.",
                show_default=f"{DEFAULT_EPOCHS}, or as many as --max-steps needs",
            ),
        ] = None,
        max_steps: Annotated[
            int | None,
            typer.Option(
                help="Train this many updates (overrides the default epochs, as in Lightning/HF Trainer).",
                show_default="none",
            ),
        ] = None,
        schedule: Annotated[
            str | None,
            typer.Option(help="Learning-rate schedule (`optlab list schedules`).", show_default="constant"),
        ] = None,
        warmup_steps: Annotated[
            int | None, typer.Option(help="Linear warm-up, in updates.", show_default="0")
        ] = None,
        hp: Annotated[
            list[str] | None,
            typer.Option(
                help="Optimizer hyperparameter KEY=VALUE (repeatable), e.g. momentum=0.9; "
                "a bad key lists the valid ones with their defaults.",
                show_default="the optimizer's defaults (`optlab list optimizers`)",
            ),
        ] = None,
        schedule_arg: Annotated[
            list[str] | None,
            typer.Option(help="Schedule option KEY=VALUE (repeatable), e.g. gamma=0.5.", show_default="none"),
        ] = None,
        seed: Annotated[
            int | None, typer.Option(help="Random seed (init, shuffling, dropout).", show_default="0")
        ] = None,
        validation: Annotated[
            str | None,
            typer.Option(
                help="Hold out this many training examples (count) or this fraction of them for validation.",
                show_default="0: evaluate on the test split",
            ),
        ] = None,
        data_dir: Annotated[
            str | None,
            typer.Option(help="Folder to look for dataset files first.", show_default="~/.cache/optlab"),
        ] = None,
        device: Annotated[str | None, typer.Option(help=DEVICE_HELP, show_default=DEFAULT_DEVICE)] = None,
        checkpoint_every: Annotated[
            int | None,
            typer.Option(help="Also checkpoint every N updates (0: once per epoch only).", show_default="0"),
        ] = None,
        log_steps: Annotated[
            bool | None,
            typer.Option(
                "--log-steps/--no-log-steps",
                help="Write steps.csv (loss and lr per update).",
                show_default="no",
            ),
        ] = None,
        description: Annotated[
            str | None,
            typer.Option(
                help="Short description (names the run folder).", show_default="dataset-model-optimizer"
            ),
        ] = None,
        config: Annotated[
            Path | None,
            typer.Option(
                help="TOML file with any of these settings (flags override it).", show_default="none"
            ),
        ] = None,
        run_dir: Annotated[
            Path | None,
            typer.Option(help="Run folder.", show_default="RUNS/<UTC time>-<description>"),
        ] = None,
        resume: Annotated[
            Path | None,
            typer.Option(help="Continue the run in this folder with its saved config.", show_default="none"),
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or epoch lines.")] = False,
        nproc: Annotated[
            int | None,
            typer.Option(
                help="Data parallel: run on N local processes through torchrun (DDP, gloo/nccl).",
                show_default="1, no torchrun",
            ),
        ] = None,
        max_restarts: Annotated[
            int | None,
            typer.Option(
                help="With --nproc: restarts torchrun may make after a worker dies.", show_default="0"
            ),
        ] = None,
        sync_bn: Annotated[
            bool | None,
            typer.Option(
                "--sync-bn/--no-sync-bn",
                help="Data parallel: BatchNorm over the global batch (CUDA only).",
                show_default="no",
            ),
        ] = None,
        no_decay_bias_norm: Annotated[
            bool | None,
            typer.Option(
                "--no-decay-bias-norm",
                help="No weight decay on biases and norm-layer parameters (optlab.optim.param_groups).",
                show_default="no",
            ),
        ] = None,
    ) -> None:
        """Train a model and record the run. Output: RUNS/<UTC time>-<description>/ (or --run-dir) with
        config.toml, metrics.csv, summary.json, checkpoints, final.pt, indexed in RUNS/index.sqlite (RUNS:
        $OPTLAB_RUNS, else ./runs).

        Under torchrun (or with --nproc N) it trains data-parallel: --batch-size per process."""
        from optlab.train import TrainConfig, distributed, parse_hparam, resolve_device
        from optlab.train import train as run_training

        if max_restarts is not None and nproc is None:
            raise ConfigError(
                "--max-restarts needs --nproc N (under torchrun, use torchrun's own --max-restarts)"
            )
        rank0 = distributed.env_rank() == 0
        callbacks = () if quiet or not rank0 else (_epoch_printer(),)
        train_config = None
        if resume is None:
            base = TrainConfig.file_settings(config) if config is not None else {}
            flags = {
                "dataset": dataset,
                "model": model,
                "optimizer": optimizer,
                "lr": lr,
                "epochs": epochs,
                "max_steps": max_steps,
                "schedule": schedule,
                "warmup_steps": warmup_steps,
                "seed": seed,
                "data_dir": data_dir,
                "device": device,
                "checkpoint_every": checkpoint_every,
                "log_steps": log_steps,
                "sync_bn": sync_bn,
                "no_decay_bias_norm": no_decay_bias_norm,
                "description": description,
            }
            base.update({key: value for key, value in flags.items() if value is not None})
            if batch_size is not None:
                base["batch_size"] = _number_or_full(batch_size, "--batch-size")
            if validation is not None:
                base["validation"] = _count_or_fraction(validation)
            if hp:
                base["hparams"] = {**base.get("hparams", {}), **dict(parse_hparam(item) for item in hp)}
            if schedule_arg:
                pairs = dict(parse_hparam(item) for item in schedule_arg)
                base["schedule_kwargs"] = {**base.get("schedule_kwargs", {}), **pairs}
            train_config = TrainConfig.from_dict(base)
            if run_dir is not None and distributed.restart_count() > 0 and _same_run(run_dir, train_config):
                resume = run_dir  # torchrun restarted the workers: continue this run from its checkpoint
                if rank0:
                    print(f"restart {distributed.restart_count()}: {_resume_point(run_dir)}", flush=True)
        if nproc is not None:
            _launch(ctx.params, train_config, nproc, max_restarts or 0)
            return
        saved = (
            TrainConfig.load(resume / "config.toml")
            if resume and (resume / "config.toml").is_file()
            else None
        )
        device = resolve_device((saved or train_config).device if saved or train_config else "auto")
        with distributed.process_group(device):
            if resume is not None:
                result = run_training(None, resume, resume=True, quiet=quiet, callbacks=callbacks)
            else:
                result = run_training(train_config, run_dir, quiet=quiet, callbacks=callbacks)
        if not rank0:
            return
        summary = result.summary
        final = summary.get("final", {})
        eval_name = "val" if "val_acc" in final else "test"
        print(
            f"done: {result.run_dir}  {summary['steps']} updates in {summary['wall_time']:.1f} s"
            f"{_stop_note(summary)}, {eval_name} accuracy {final.get(eval_name + '_acc', float('nan')):.4f}"
        )

    runs_app = typer.Typer(
        help="List, show and compare recorded runs. Reads RUNS/index.sqlite (RUNS: --root, $OPTLAB_RUNS, "
        "else ./runs); writes nothing.",
        no_args_is_help=True,
    )
    app.add_typer(runs_app, name="runs")

    def _index(root: Path | None) -> Any:
        from optlab.train.runs import INDEX_NAME, RunIndex

        return RunIndex(root / INDEX_NAME if root is not None else None)

    @runs_app.command("list")
    def runs_list(root: Annotated[Path | None, ROOT_OPTION] = None) -> None:
        """One line per recorded run: id, status, study (for sweep trials), settings, final accuracies.
        val_acc is on the held-out validation split (sweep trials, --validation), test_acc on the test
        split."""
        from optlab.cli._tables import print_table

        rows = [_flat(row) for row in _index(root).list()]
        if not rows:
            print(f"no runs recorded in {_index(root).path}")
            return
        columns = ["id", "status", "name", "study", "dataset", "model", "optimizer", "lr", "batch_size"]
        print_table([*columns, "epochs", "steps", "val_acc", "test_acc", "wall_time"], rows)

    @runs_app.command("show")
    def runs_show(
        run: Annotated[
            str, typer.Argument(help="Run id, folder name or path (as `optlab runs list` shows).")
        ],
        root: Annotated[Path | None, ROOT_OPTION] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print everything recorded, as JSON (for programs).")
        ] = False,
    ) -> None:
        """One run: folder, status, settings and results, readable (or --json: everything recorded)."""
        row = _index(root).get(run)
        if as_json:
            print(json.dumps(row, indent=2, sort_keys=True, default=str))
            return
        print(_describe(row))

    @runs_app.command("compare")
    def runs_compare(
        runs: Annotated[list[str], typer.Argument(help="Two or more run ids, names or paths.")],
        root: Annotated[Path | None, ROOT_OPTION] = None,
    ) -> None:
        """Side by side: the settings that differ between the runs and their final metrics."""
        from optlab.cli._tables import print_table

        if len(runs) < 2:
            raise ConfigError("runs compare needs at least two runs")
        index = _index(root)
        rows = [index.get(key) for key in runs]
        keys = sorted({k for row in rows for k in row["config"]})
        differing = [k for k in keys if len({json.dumps(row["config"].get(k)) for row in rows}) > 1]
        flat = [{**_flat(row), **{k: row["config"].get(k) for k in differing}} for row in rows]
        columns = ["id", "name", "study", "status", *differing, "steps", "val_acc", "test_acc", "wall_time"]
        print_table(list(dict.fromkeys(columns)), flat)

    @app.command(epilog=EXIT_CODES)
    def plot(
        run_dirs: Annotated[list[Path], typer.Argument(help="Run folders (their metrics.csv are overlaid).")],
        out: Annotated[
            Path | None,
            typer.Option(
                help="PNG to write.", show_default="RUN_DIR/curves.png for one run, else ./curves.png"
            ),
        ] = None,
        x: Annotated[str, typer.Option(help="Horizontal axis: epoch or step (updates).")] = "epoch",
    ) -> None:
        """Learning curves (loss, accuracy, lr, gradient norm per epoch) of one or more runs, to a PNG.
        Output: --out, else RUN_DIR/curves.png for one run, ./curves.png for several. Legends name the
        settings in which the runs differ."""
        if out is None:
            out = run_dirs[0] / "curves.png" if len(run_dirs) == 1 else Path("curves.png")
        plot_runs(run_dirs, out, x_axis=x)
        print(f"wrote {out}")

    data_app = typer.Typer(
        help="Datasets: fetch the official files on a machine that is online.", no_args_is_help=True
    )
    app.add_typer(data_app, name="data")

    @data_app.command("download")
    def data_download(
        name: Annotated[str, typer.Argument(help="fashion-mnist or mnist.")],
        dest: Annotated[Path | None, typer.Option(help="Folder (default: ~/.cache/optlab/NAME).")] = None,
    ) -> None:
        """Fetch the official IDX files over HTTPS and check their checksums (needs network)."""
        from optlab.data import download

        print(f"{name}: files in {download(name, dest)}")


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


def _same_run(run_dir: Path, config: Any) -> bool:
    """Does ``run_dir`` hold a run started with ``config`` (the saved config has its device resolved)?"""
    from optlab.train import TrainConfig

    if not (run_dir / "config.toml").is_file():
        return False
    saved = TrainConfig.load(run_dir / "config.toml")
    return saved.replace(device=config.device) == config


def _resume_point(run_dir: Path) -> str:
    from optlab.train import load_checkpoint

    path = run_dir / "checkpoints" / "last.pt"
    if not path.is_file():
        return f"resuming {run_dir} from the start (no checkpoint yet)"
    return f"resuming {run_dir} from its checkpoint at update {load_checkpoint(path)['step']}"


def _launch(params: dict[str, Any], config: Any, nproc: int, max_restarts: int) -> None:
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
        if name in ("nproc", "max_restarts") or value is None or value is False:
            continue
        if value is True:
            args.append(option)
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


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """An index row for a table: one column per meaning (val_acc, test_acc), never one name for both."""
    summary = row.get("summary", {}) or {}
    final = summary.get("final", {}) or {}
    return {
        **{k: v for k, v in row.items() if k not in ("config", "summary")},
        "epochs": row.get("epochs") if row.get("epochs") is not None else summary.get("epochs"),
        "steps": summary.get("steps"),
        "val_acc": final.get("val_acc"),
        "test_acc": final.get("test_acc", summary.get("test_acc")),
        "wall_time": summary.get("wall_time"),
    }


def _default_config() -> dict[str, Any]:
    import dataclasses

    from optlab.train.config import TrainConfig

    return {
        f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING
    }


def _describe(row: dict[str, Any]) -> str:
    """``optlab runs show``: the run as a person reads it."""
    summary = row.get("summary", {}) or {}
    config = row.get("config", {}) or {}
    final = summary.get("final", {}) or {}
    lines = [
        f"run {row['id']}: {row['name']}" + (f"  (sweep study {row['study']})" if row.get("study") else "")
    ]
    lines.append(f"  folder    {row['path']}")
    lines.append(f"  status    {row['status']}" + (f": {summary['error']}" if summary.get("error") else ""))
    lines.append(f"  started   {row['created']}   updated {row['updated']}")
    settings = [
        "dataset",
        "model",
        "optimizer",
        "lr",
        "batch_size",
        "epochs",
        "max_steps",
        "schedule",
        "seed",
    ]
    shown = "  ".join(f"{k}={config[k]}" for k in settings if k in config)
    lines.append(f"  settings  {shown}")
    defaults = _default_config()
    extra = {
        k: v
        for k, v in config.items()
        if k not in settings and k != "device" and defaults.get(k) != v and v not in ({}, None, "")
    }
    for key in ("hparams", "schedule_kwargs"):
        if config.get(key):
            lines.append(f"  {key:<9} " + ", ".join(f"{k}={v}" for k, v in config[key].items()))
            extra.pop(key, None)
    if extra:
        lines.append("  other     " + "  ".join(f"{k}={v}" for k, v in sorted(extra.items())))
    if summary.get("steps") is not None:
        stop = f", stopped by {summary['stopped_by']}" if summary.get("stopped_by") else ""
        wall = summary.get("wall_time") or 0.0
        steps, epochs = summary.get("steps"), summary.get("epochs")
        lines.append(
            f"  trained   {steps} updates, {epochs} epochs in {wall:.1f} s{stop} on {summary.get('device')}"
        )
    for split in ("train", "val", "test"):
        if final.get(f"{split}_acc") is not None:
            acc, loss = final[f"{split}_acc"], final.get(f"{split}_loss", float("nan"))
            note = "   (training mode, over the last epoch)" if split == "train" else ""
            lines.append(f"  {split + '_acc':<9} {acc:.4f}   {split}_loss {loss:.4f}{note}")
    lines.append("  files     metrics.csv, summary.json, config.toml in the folder; all fields: --json")
    return "\n".join(lines)


_NOT_SETTINGS = ("description", "device", "data_dir", "checkpoint_every", "log_steps", "eval_batch_size")


def run_labels(run_dirs: list[Path]) -> list[str]:
    """Legend labels that tell the runs apart: the settings in which their config.toml differ
    (``batch_size=32 lr=0.01``), else the folder names."""
    import tomllib

    configs = []
    for run_dir in run_dirs:
        try:
            configs.append(tomllib.loads((Path(run_dir) / "config.toml").read_text()))
        except (OSError, tomllib.TOMLDecodeError):
            configs.append(None)
    names = [Path(run_dir).name for run_dir in run_dirs]
    if len(run_dirs) < 2 or any(config is None for config in configs):
        return names
    keys = sorted({key for config in configs for key in config if key not in _NOT_SETTINGS})
    differing = [k for k in keys if len({json.dumps(c.get(k), sort_keys=True) for c in configs}) > 1]
    if not differing:
        return names
    labels = [" ".join(f"{k}={_short(c.get(k, 'default'))}" for k in differing) for c in configs]
    if len(set(labels)) < len(labels):  # same settings (e.g. a rerun): keep the folders apart
        return [f"{label} ({name})" for label, name in zip(labels, names, strict=True)]
    return labels


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}={_short(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def plot_runs(run_dirs: list[Path], out: Path, x_axis: str = "epoch") -> None:
    """Draw the runs' curves from their ``metrics.csv`` files (nothing else is read) and write ``out``
    atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from optlab._io import atomic_write_bytes
    from optlab.train.runs import read_csv

    if x_axis not in ("epoch", "step"):
        raise ConfigError(f"invalid value for --x: {x_axis!r} (epoch or step)")
    histories = []
    for run_dir in run_dirs:
        path = Path(run_dir) / "metrics.csv"
        if not path.is_file():
            raise ConfigError(f"no metrics.csv in {run_dir} (is it a run folder?)")
        histories.append(read_csv(path))
    histories = list(zip(run_labels(run_dirs), histories, strict=True))
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    panels = [("loss", axes[0, 0], True), ("acc", axes[0, 1], False)]
    for i, (label, rows) in enumerate(histories):
        color = f"C{i % 10}"
        epochs = [row[x_axis] for row in rows]
        for metric, ax, log in panels:
            for split, style in (("train", "-"), ("val", "--"), ("test", ":")):
                values = [row.get(f"{split}_{metric}") for row in rows]
                if any(v is not None for v in values):
                    marker = "." if len(rows) < 30 else None  # a one-epoch run is a point, not a line
                    ax.plot(epochs, values, style, color=color, marker=marker, label=f"{label} {split}")
            ax.set_yscale("log" if log else "linear")
        axes[1, 0].plot(epochs, [row.get("lr") for row in rows], color=color, label=label)
        axes[1, 1].plot(epochs, [row.get("grad_norm") for row in rows], color=color, label=label)
    titles = [
        "loss (cross-entropy)",
        "accuracy",
        "learning rate (last update of the epoch)",
        "mean gradient norm",
    ]
    for ax, title in zip(axes.flat, titles, strict=True):
        ax.set_title(title)
        ax.set_xlabel("epoch" if x_axis == "epoch" else "update")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[1, 1].set_yscale("log")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, buffer.getvalue())
