"""``optlab measure timing|noise|critical-batch|sharpness|hessian|landscape`` and ``optlab advise``.

Thin: checks every argument (before anything is created), resolves runs given by folder, id or name, calls
:mod:`optlab.measure`, prints a short summary, and writes every figure with its data (JSON, CSV where tabular)
by the one rule of :mod:`optlab.measure.outputs` (``--out DIR`` or ``./measurements/NAME/``), printing the
paths. Progress bars go to stderr and are off when stderr is not a terminal or with ``--quiet``.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from optlab.cli._device import DEFAULT_DEVICE, DEVICE_HELP
from optlab.errors import ConfigError
from optlab.measure.noise_scale import DEFAULT_BIG_BATCH, DEFAULT_PAIRS, DEFAULT_SMALL_BATCH
from optlab.measure.outputs import OUTPUT_RULE

EXIT_CODES = (
    "Exit codes: 0 ok, 1 the measurement failed (missing data, a checkpoint that does not fit), 2 bad usage "
    "(nothing is written)."
)
EPILOG = f"{OUTPUT_RULE}\n\n{EXIT_CODES}"
RUN_HELP = "a run folder, or a run id or name from `optlab runs list` (as `optlab runs show` takes)"
Quiet = Annotated[bool, typer.Option("--quiet/--no-quiet", "-q", help="No progress bars on stderr.")]
OutDir = Annotated[
    Path | None,
    typer.Option(
        "--out", metavar="DIR", help="Folder for the figure and data files (default: ./measurements/NAME/)."
    ),
]
Threads = Annotated[
    int | None,
    typer.Option(
        metavar="N",
        help="CPU: torch threads while timing (1 is steadier on a machine shared with other jobs) "
        "(default: torch's).",
    ),
]
Statistic = Annotated[
    str,
    typer.Option(help="Time per update: median, or min (steadier on a machine busy with other work)."),
]
Examples = Annotated[
    int,
    typer.Option(
        metavar="N", help="Evaluate on the first N training examples (0: all; curvature costs grow with N)."
    ),
]
Seed = Annotated[int, typer.Option(help="Random seed (directions, starting points, batch sampling).")]
DataDir = Annotated[
    str | None,
    typer.Option(metavar="DIR", help="Where the dataset files are (default: the dataset's own cache)."),
]
ModelName = Annotated[str, typer.Option(metavar="NAME", help="Model name (see `optlab list models`).")]
DatasetName = Annotated[str, typer.Option(metavar="NAME", help="Dataset name (see `optlab list datasets`).")]
OptimizerName = Annotated[
    str, typer.Option(metavar="NAME", help="Optimizer name (see `optlab list optimizers`).")
]
Device = Annotated[str, typer.Option(help=DEVICE_HELP)]
SmallBatch = Annotated[
    int, typer.Option(help="Noise scale: the small batch size, examples (best below the expected B_noise).")
]
BigBatch = Annotated[
    int, typer.Option(help="Noise scale: the big batch size, examples (at most the training set).")
]
Pairs = Annotated[
    int, typer.Option(help="Noise scale: independent (small, big) batch pairs averaged (error ∝ 1/√pairs).")
]
Repeats = Annotated[int, typer.Option(help="Timing: timed updates per batch size, at most.")]
MaxSeconds = Annotated[float, typer.Option(help="Timing: time budget per batch size, seconds.")]


# -- helpers -------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def progress_bars(quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """Yields ``update(task, done, total)``; one rich bar per task name, shown only on a terminal."""
    if quiet or not sys.stderr.isatty():
        yield lambda task, done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    tasks: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:

        def update(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = bar.add_task(task, total=total)
            bar.update(tasks[task], completed=done, total=total)

        yield update


def _task(update: Callable[[str, int, int], None], name: str) -> Callable[[int, int], None]:
    return lambda done, total: update(name, done, total)


def parse_batch_sizes(text: str | None) -> list[int] | None:
    """``"1,2,4"`` → ``[1, 2, 4]``; anything else is a one-line :class:`ConfigError`."""
    if text is None:
        return None
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(
            f"invalid value for --batch-sizes: {text!r} (comma-separated integers, e.g. 1,2,4,8)"
        ) from None
    if not sizes or min(sizes) < 1:
        raise ConfigError(f"invalid value for --batch-sizes: {text!r} (integers >= 1)")
    return sizes


def check_name(flag: str, name: str, valid: list[str]) -> None:
    if name not in valid:
        raise ConfigError(
            f"invalid value for {flag}: unknown name {name!r}; choose one of: {', '.join(valid)}"
        )


def at_least(flag: str, value: float | None, low: float, what: str = "an integer") -> None:
    """``value >= low`` (and finite), else a ConfigError naming the flag, the value and what is valid."""
    if value is not None and not (math.isfinite(value) and value >= low):
        raise ConfigError(f"invalid value for {flag}: {value!r} ({what} >= {low:g})")


def positive(flag: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"invalid value for {flag}: {value!r} (a number > 0)")


def check_out(out: Path | None) -> None:
    """--out must be a folder or not exist yet (it is created only when the files are written)."""
    if out is not None and out.exists() and not out.is_dir():
        raise ConfigError(f"invalid value for --out: {out} exists and is not a folder")


def check_statistic(statistic: str) -> None:
    if statistic not in ("median", "min"):
        raise ConfigError(f"invalid value for --statistic: {statistic!r} (valid: median, min)")


def _load_dataset(name: str, data_dir: str | None) -> Any:
    from optlab import data

    check_name("--dataset", name, data.names())
    return data.load(name, data_dir=data_dir)


def _resolve(key: str) -> Path:
    from optlab.measure.runs import resolve_run

    return resolve_run(key)


def _subset(split: Any, examples: int) -> tuple[Any, Any]:
    x, y = split.x, split.y
    return (x[:examples], y[:examples]) if examples else (x, y)


class Writer:
    """Writes a measurement's files into its folder (created on the first write) and prints the paths."""

    def __init__(self, out: Path | None, name: str):
        from optlab.measure.outputs import output_dir

        self.folder = output_dir(out, name)
        self.paths: list[Path] = []
        self.existed: set[Path] = set()

    def path(self, name: str) -> Path:
        path = self.folder / name
        if path.exists():
            self.existed.add(path)
        self.paths.append(path)
        return path

    def report(self) -> None:
        from optlab.measure.outputs import report_written

        for line in report_written(self.paths, self.existed):
            print(line)


def _final_lr(run: Any) -> tuple[float, str]:
    """The lr of the run's last update (metrics.csv; a schedule may have changed it), else the config's."""
    from optlab import optim
    from optlab.train import read_csv

    metrics = run.run_dir / "metrics.csv"
    if metrics.is_file():
        rows = read_csv(metrics)
        if rows and isinstance(rows[-1].get("lr"), int | float) and rows[-1]["lr"] > 0:
            return float(rows[-1]["lr"]), "the lr of the run's last update"
    if run.config.lr:
        return float(run.config.lr), "the run's lr"
    return float(optim.info(run.config.optimizer).defaults["lr"]), f"{run.config.optimizer}'s default lr"


def register(app: typer.Typer) -> None:
    measure_app = typer.Typer(
        help="What decides batch size and optimizer: timing, noise scale, sharpness, Hessian, landscape. "
        + OUTPUT_RULE,
        no_args_is_help=True,
    )
    app.add_typer(measure_app, name="measure")

    @measure_app.command(epilog=EPILOG)
    def timing(
        model: ModelName,
        dataset: DatasetName,
        batch_sizes: Annotated[
            str | None,
            typer.Option(
                metavar="B1,B2,...",
                help="Comma-separated batch sizes (default: powers of two up to min(N, 4096)).",
            ),
        ] = None,
        optimizer: OptimizerName = "sgd",
        device: Device = DEFAULT_DEVICE,
        threads: Threads = None,
        statistic: Statistic = "median",
        repeats: Repeats = 30,
        max_seconds: MaxSeconds = 3.0,
        data_dir: DataDir = None,
        out: OutDir = None,
        quiet: Quiet = False,
    ) -> None:
        """Time per update and per epoch against batch size, and where it stops being flat."""
        from optlab import models, optim
        from optlab._io import write_json
        from optlab.cli._device import resolve
        from optlab.cli._tables import print_table
        from optlab.measure._common import write_csv
        from optlab.measure.advise import default_batch_sizes
        from optlab.measure.outputs import output_name
        from optlab.measure.timing import NOISY_SPREAD, plot_timing, time_per_update, timing_spread

        check_name("--model", model, models.names())
        check_name("--optimizer", optimizer, optim.names())
        sizes = parse_batch_sizes(batch_sizes)
        at_least("--threads", threads, 1)
        at_least("--repeats", repeats, 3)  # quartiles need three
        positive("--max-seconds", max_seconds)
        check_statistic(statistic)
        check_out(out)
        torch_device = resolve(device)  # fail before loading data
        ds = _load_dataset(dataset, data_dir)
        with progress_bars(quiet) as update:
            result = time_per_update(
                lambda: models.create(model, ds.input_shape, ds.num_classes),
                ds,
                sizes or default_batch_sizes(len(ds.train)),
                optimizer,
                str(torch_device),
                repeats=repeats,
                max_seconds=max_seconds,
                threads=threads,
                statistic=statistic,
                progress=_task(update, "timing rounds"),
            )
        print_table(
            ["B", "ms/update", "s/epoch", "examples/s"],
            [
                (r.batch_size, f"{1e3 * r.update_s:.4g}", f"{r.epoch_s:.4g}", f"{r.examples_per_s:.0f}")
                for r in result.rows
            ],
            justify=dict.fromkeys(["ms/update", "s/epoch", "examples/s"], "right"),
            title=f"time per update ({statistic}), {model} on {dataset}, {optimizer}, {result.device}",
        )
        for size, why in result.skipped.items():
            print(f"  skipped B={size}: {why}")
        knee = (
            f"exceeds {2:g}× from B = {result.knee_batch_size}"
            if result.knee_batch_size
            else "never exceeds 2×"
        )
        print(f"time per update is flat up to B = {result.flat_up_to} and {knee} (on {result.device})")
        if timing_spread(result) > NOISY_SPREAD:
            print(
                f"caution: update times vary {timing_spread(result):.2g}× between quartiles "
                "(other load on this machine?); re-run on an idle machine, or with --threads 1 on CPU"
            )
        files = Writer(out, output_name("timing", dataset, model, optimizer, torch_device.type))
        plot_timing(
            result, files.path("timing.png"), title=f"{model} on {dataset}, {optimizer}, {result.device}"
        )
        write_json(files.path("timing.json"), {"model": model, "dataset": dataset, **result.to_dict()})
        write_csv(files.path("timing.csv"), [vars(row) for row in result.rows])
        files.report()

    @measure_app.command(epilog=EPILOG)
    def noise(
        run: Annotated[
            str | None,
            typer.Argument(
                metavar="RUN",
                help=f"The run to measure at its final weights: {RUN_HELP}; omit for --model.",
            ),
        ] = None,
        model: Annotated[
            str | None,
            typer.Option(
                metavar="NAME",
                help="Without RUN: a model (see `optlab list models`), measured at init from --seed.",
            ),
        ] = None,
        dataset: Annotated[
            str | None,
            typer.Option(metavar="NAME", help="Without RUN: the dataset (see `optlab list datasets`)."),
        ] = None,
        small_batch: SmallBatch = DEFAULT_SMALL_BATCH,
        big_batch: BigBatch = DEFAULT_BIG_BATCH,
        pairs: Pairs = DEFAULT_PAIRS,
        seed: Annotated[
            int, typer.Option(help="Seed of the batch sampling (and of the init without RUN).")
        ] = 0,
        data_dir: DataDir = None,
        out: OutDir = None,
        quiet: Quiet = False,
    ) -> None:
        """Gradient noise scale B_simple = tr Σ / |G|² (McCandlish et al. 2018, two-batch estimator).

        `optlab advise` measures B_noise with this same estimator, batch sizes, pairs and seed.
        """
        from torch import nn

        from optlab import models
        from optlab._io import write_json
        from optlab.measure.noise_scale import (
            model_at_init,
            noise_batches,
            noise_scale,
            plot_noise_scale,
        )
        from optlab.measure.outputs import output_name
        from optlab.measure.runs import load_run, run_label

        at_least("--small-batch", small_batch, 1)
        at_least("--big-batch", big_batch, 1)
        at_least("--pairs", pairs, 1)
        noise_batches(small_batch, big_batch, big_batch)  # small < big
        check_out(out)
        if run is not None:
            if model is not None or dataset is not None:
                raise ConfigError("give either RUN or --model and --dataset, not both")
            loaded = load_run(_resolve(run))
            net, ds, label = loaded.model, loaded.dataset, str(loaded.run_dir)
            name = output_name("noise", run_label(loaded.run_dir), f"seed{seed}")
        else:
            if model is None or dataset is None:
                raise ConfigError("give a RUN, or --model and --dataset to measure at initialisation")
            check_name("--model", model, models.names())
            ds = _load_dataset(dataset, data_dir)
            net, label = model_at_init(model, ds, seed), f"{model} on {dataset} at init (seed {seed})"
            name = output_name("noise", dataset, model, "init", f"seed{seed}")
        small, big = noise_batches(small_batch, big_batch, len(ds.train))
        with progress_bars(quiet) as update:
            result = noise_scale(
                net, nn.CrossEntropyLoss(), ds, small, big, pairs, seed, progress=_task(update, "noise pairs")
            )
        if (small, big) != (small_batch, big_batch):
            print(f"  batch sizes {small_batch}, {big_batch} → {small}, {big} ({len(ds.train)} examples)")
        print(f"{label}: B_simple = {result.b_simple:.4g} ± {result.b_simple_stderr:.2g}")
        print(
            f"  |G|² = {result.grad_norm_sq:.4g} ± {result.grad_norm_sq_stderr:.2g}, "
            f"tr Σ = {result.trace_sigma:.4g} ± {result.trace_sigma_stderr:.2g}, loss {result.loss:.4g} "
            f"(small {small}, big {big}, {pairs} pairs, seed {seed})"
        )
        files = Writer(out, name)
        plot_noise_scale(result, files.path("noise_scale.png"), title=f"{label}: B_simple = "
                         f"{result.b_simple:.3g} ± {result.b_simple_stderr:.2g}")  # fmt: skip
        write_json(files.path("noise_scale.json"), {"source": label, **result.to_dict()})
        files.report()

    @measure_app.command("critical-batch", epilog=EPILOG)
    def critical_batch(
        runs: Annotated[
            list[str],
            typer.Argument(metavar="RUN...", help=f"Runs at different batch sizes: each {RUN_HELP}."),
        ],
        target: Annotated[float, typer.Option(help="The value of --metric every run must reach (≤).")],
        metric: Annotated[
            str, typer.Option(help="Column of metrics.csv compared with --target (a loss: lower is better).")
        ] = "train_loss",
        out: OutDir = None,
    ) -> None:
        """Fit (S/S_min − 1)(E/E_min − 1) = 1 to steps-to-target of runs at several batch sizes → B_crit."""
        from optlab._io import write_json
        from optlab.measure.noise_scale import fit_critical_batch, plot_critical_batch
        from optlab.measure.outputs import output_name, runs_digest
        from optlab.train import TrainConfig, read_csv

        if not math.isfinite(target):
            raise ConfigError(f"invalid value for --target: {target!r} (a finite number)")
        check_out(out)
        folders = [_resolve(key) for key in runs]
        batch_sizes, steps, rows = [], [], []
        for run_dir in folders:
            config = TrainConfig.load(run_dir / "config.toml")
            if not (run_dir / "metrics.csv").is_file():
                raise ConfigError(f"{run_dir} has no metrics.csv (did the run finish an epoch?)")
            metrics = read_csv(run_dir / "metrics.csv")
            if metrics and metric not in metrics[0]:
                raise ConfigError(
                    f"invalid value for --metric: {metric!r}; metrics.csv has {', '.join(metrics[0])}"
                )
            reached = next((r for r in metrics if r.get(metric) is not None and r[metric] <= target), None)
            batch = config.batch_size
            rows.append(
                {"run": str(run_dir), "batch_size": batch, "steps": reached["step"] if reached else None}
            )
            if reached is None or batch is None:
                print(f"  {run_dir}: never reached {metric} <= {target:g} (or full batch); left out")
                continue
            batch_sizes.append(batch)
            steps.append(reached["step"])
        fit = fit_critical_batch(batch_sizes, steps)
        print(
            f"S_min = {fit.s_min:.4g} steps, E_min = {fit.e_min:.4g} examples, B_crit = {fit.b_crit:.4g} "
            f"(relative rms misfit {fit.relative_rms_error:.2%})"
        )
        name = output_name(
            "critical-batch", f"{len(folders)}runs", f"{metric}{target:g}", runs_digest(folders)
        )
        files = Writer(out, name)
        plot_critical_batch(fit, files.path("critical_batch.png"))
        write_json(
            files.path("critical_batch.json"),
            {"target": target, "metric": metric, "runs": rows, **fit.to_dict()},
        )
        files.report()

    @measure_app.command(epilog=EPILOG)
    def sharpness(
        run: Annotated[str, typer.Argument(metavar="RUN", help=f"The run: {RUN_HELP}.")],
        epsilon: Annotated[
            list[float],
            typer.Option(
                help="Box size ε, relative to each weight (repeatable; Keskar et al. use 1e-3, 5e-4)."
            ),
        ] = [1e-3, 5e-4],  # noqa: B006
        subspace_dim: Annotated[
            int,
            typer.Option(metavar="P", help="Also measure in a random P-dimensional subspace (0: no)."),
        ] = 100,
        iterations: Annotated[int, typer.Option(help="L-BFGS-B iterations of the inner maximisation.")] = 10,
        examples: Examples = 0,
        seed: Seed = 0,
        out: OutDir = None,
        quiet: Quiet = False,
    ) -> None:
        """Keskar et al.'s sharpness (Metric 2.1) of a run's final weights, full space and random subspace.

        φ is the largest rise of the training loss in a box around the weights, in % of 1 + loss.
        """
        from torch import nn

        from optlab._io import write_json
        from optlab.measure.outputs import output_name
        from optlab.measure.runs import load_run, run_label
        from optlab.measure.sharpness import SPACES_NOTE, compare_spaces, plot_sharpness
        from optlab.measure.sharpness import sharpness as measure_sharpness

        for eps in epsilon:
            positive("--epsilon", eps)
        at_least("--subspace-dim", subspace_dim, 0)
        at_least("--iterations", iterations, 1)
        at_least("--examples", examples, 0)
        check_out(out)
        loaded = load_run(_resolve(run))
        x, y = _subset(loaded.dataset.train, examples)
        results = []
        with progress_bars(quiet) as update:
            for eps in epsilon:
                for dim in [None] + ([subspace_dim] if subspace_dim else []):
                    where = "full space" if dim is None else f"subspace {dim}"
                    result = measure_sharpness(
                        loaded.model,
                        nn.CrossEntropyLoss(),
                        x,
                        y,
                        eps,
                        dim,
                        iterations,
                        seed,
                        progress=_task(update, f"ε={eps:g}, {where}"),
                    )
                    results.append(result)
                    print(
                        f"ε = {eps:g}, {where}: φ = {result.value:.4g} "
                        f"(loss {result.loss:.4g} → {result.max_loss:.4g})"
                    )
        comparison = compare_spaces(results)
        if comparison:
            print("  " + "; ".join(comparison) + ".")
            print(f"  Why they differ: {SPACES_NOTE}")
        files = Writer(out, output_name("sharpness", run_label(loaded.run_dir)))
        config = loaded.config
        plot_sharpness(
            results,
            files.path("sharpness.png"),
            title=f"{config.model} on {config.dataset}, {config.optimizer}, batch {config.batch_size} "
            f"({len(x)} examples)",
        )
        write_json(
            files.path("sharpness.json"),
            {
                "run": str(loaded.run_dir),
                "examples": len(x),
                "results": [r.to_dict() for r in results],
                "comparison": comparison,
                "spaces_note": SPACES_NOTE,
            },
        )
        files.report()

    @measure_app.command(epilog=EPILOG)
    def hessian(
        run: Annotated[str, typer.Argument(metavar="RUN", help=f"The run: {RUN_HELP}.")],
        k: Annotated[int, typer.Option("--k", "-k", help="How many of the largest eigenvalues.")] = 5,
        trace_samples: Annotated[
            int, typer.Option(help="Hutchinson samples for the trace (0: skip the trace).")
        ] = 50,
        max_iterations: Annotated[
            int, typer.Option(help="Lanczos steps (Hessian-vector products) at most.")
        ] = 100,
        examples: Examples = 2048,
        seed: Seed = 0,
        out: OutDir = None,
        quiet: Quiet = False,
    ) -> None:
        """Top-k Hessian eigenvalues (Lanczos) and trace (Hutchinson) at a run's final weights.

        With the optimizer's stability limit, labelled by its rule: 2/η for gradient descent, (2+2β)/η for
        heavy-ball momentum β, (2+2β)/((1+2β)η) for Nesterov; none for adaptive methods (Adam, RMSProp, ...)
        and LARS, whose step is preconditioned. η is the lr of the run's last update. For Adam and AdamW also
        the preconditioned sharpness λ_max(P⁻¹H) at the run's final P, against (2+2β₁)/((1−β₁)η).
        """
        from torch import nn

        from optlab._io import write_json
        from optlab.errors import OptlabError
        from optlab.measure.hessian import (
            adam_stability_limit,
            hessian_eigenvalues,
            hessian_trace,
            plot_hessian,
            preconditioned_eigenvalues,
            run_preconditioner,
            stability_limit,
        )
        from optlab.measure.outputs import output_name
        from optlab.measure.runs import load_run, run_label

        at_least("--k", k, 1)
        at_least("--trace-samples", trace_samples, 0)
        at_least("--max-iterations", max_iterations, 1)
        at_least("--examples", examples, 0)
        check_out(out)
        loaded = load_run(_resolve(run))
        x, y = _subset(loaded.dataset.train, examples)
        with progress_bars(quiet) as update:
            values = hessian_eigenvalues(
                loaded.model,
                nn.CrossEntropyLoss(),
                x,
                y,
                k=k,
                max_iterations=max_iterations,
                seed=seed,
                progress=_task(update, "Lanczos"),
            )
            trace = (
                hessian_trace(
                    loaded.model,
                    nn.CrossEntropyLoss(),
                    x,
                    y,
                    samples=trace_samples,
                    seed=seed,
                    progress=_task(update, "Hutchinson"),
                )
                if trace_samples
                else None
            )
        config = loaded.config
        lr, lr_source = _final_lr(loaded)
        limit = stability_limit(config.optimizer, lr, config.hparams)
        print(f"top {len(values)} eigenvalues: " + ", ".join(f"{v:.4g}" for v in values))
        if limit.value is not None:
            side = "above" if values[0] > limit.value else "below"
            print(
                f"stability limit {limit.rule} = {limit.value:.4g} for {config.optimizer} at η = {lr:.4g} "
                f"({lr_source}); λ_max = {values[0]:.4g} is {side} it"
            )
            print(f"  ({limit.note})")
        else:
            print(f"no stability line: {limit.note}")
        preconditioned = None
        if config.optimizer in ("adam", "adamw"):
            try:
                diagonal, settings = run_preconditioner(loaded.run_dir, loaded.model)
            except OptlabError as why:
                print(f"  no preconditioned sharpness: {why}")
            else:
                pre_values = preconditioned_eigenvalues(
                    loaded.model, nn.CrossEntropyLoss(), x, y, diagonal, k=k,
                    max_iterations=max_iterations, seed=seed,
                )  # fmt: skip
                pre_limit = adam_stability_limit(settings["lr"], settings["beta1"])
                preconditioned = (pre_values, pre_limit)
                side = "above" if pre_values[0] > pre_limit.value else "below"
                print(
                    f"preconditioned sharpness λ_max(P⁻¹H) = {pre_values[0]:.4g} with the optimizer's final "
                    f"P = √v̂ + ε; stability limit {pre_limit.rule} = {pre_limit.value:.4g} at η = "
                    f"{settings['lr']:.4g}: it is {side} it"
                )
                print(f"  ({pre_limit.note})")
        if trace is not None:
            print(f"trace ≈ {trace.value:.4g} ± {trace.standard_error:.2g} ({trace.samples} samples)")
        files = Writer(out, output_name("hessian", run_label(loaded.run_dir)))
        plot_hessian(
            values,
            limit,
            files.path("hessian.png"),
            title=f"{config.model} on {config.dataset}, {config.optimizer} ({len(x)} examples)",
            trace=trace,
            preconditioned=preconditioned,
        )
        write_json(
            files.path("hessian.json"),
            {
                "run": str(loaded.run_dir),
                "examples": len(x),
                "eigenvalues": values,
                "lr": lr,
                "lr_source": lr_source,
                "stability_limit": limit.to_dict(),
                "preconditioned_eigenvalues": None if preconditioned is None else preconditioned[0],
                "preconditioned_stability_limit": None
                if preconditioned is None
                else preconditioned[1].to_dict(),
                "trace": None if trace is None else vars(trace),
            },
        )
        files.report()

    @measure_app.command(epilog=EPILOG)
    def landscape(
        run_a: Annotated[
            str,
            typer.Argument(
                metavar="RUN_A", help=f"The centre of the 2-D plot and α = 0 of the 1-D one: {RUN_HELP}."
            ),
        ],
        run_b: Annotated[
            str | None,
            typer.Argument(metavar="RUN_B", help="A second run of the same model and data: α = 1."),
        ] = None,
        points: Annotated[int, typer.Option(help="Points of the 1-D plot over α ∈ [−1, 2].")] = 31,
        steps: Annotated[int, typer.Option(help="Grid points per side of the 2-D plot (0: skip it).")] = 21,
        span: Annotated[
            float, typer.Option(help="The 2-D grid covers [−span, span]² in filter-normalised units.")
        ] = 1.0,
        bn: Annotated[
            str | None,
            typer.Option(
                help="BatchNorm statistics: recompute, interpolate, keep (default: 1-D recompute, 2-D keep)."
            ),
        ] = None,
        examples: Examples = 2048,
        seed: Seed = 0,
        out: OutDir = None,
        quiet: Quiet = False,
    ) -> None:
        """1-D interpolation between runs (Keskar et al.), 2-D filter-normalised contours (Li et al.).

        The files go to landscape-RUN_A-vs-RUN_B (or landscape-RUN_A with one run), so comparing A with B
        and A with C keeps both.
        """
        import numpy as np
        from torch import nn

        from optlab._io import write_json
        from optlab.measure._common import write_csv
        from optlab.measure.landscape import (
            BN_MODES,
            direction_1d,
            interpolation_1d,
            plot_interpolation,
            plot_surface,
            surface_2d,
        )
        from optlab.measure.outputs import output_name
        from optlab.measure.runs import load_run, run_label

        if bn is not None and bn not in BN_MODES:
            raise ConfigError(f"invalid value for --bn: {bn!r} (valid: {', '.join(BN_MODES)})")
        at_least("--points", points, 2)
        at_least("--steps", steps, 0)
        if steps == 1:
            raise ConfigError("invalid value for --steps: 1 (0 to skip the 2-D plot, or an integer >= 2)")
        positive("--span", span)
        at_least("--examples", examples, 0)
        check_out(out)
        a = load_run(_resolve(run_a))
        b = None
        if run_b is not None:
            b = load_run(_resolve(run_b), dataset=a.dataset)
            if (b.config.model, b.config.dataset) != (a.config.model, a.config.dataset):
                raise ConfigError(
                    f"{b.run_dir} trains {b.config.model} on {b.config.dataset}, {a.run_dir} trains "
                    f"{a.config.model} on {a.config.dataset}: interpolation needs the same model and data"
                )
        train, test = _subset(a.dataset.train, examples), _subset(a.dataset.test, examples)
        loss_fn = nn.CrossEntropyLoss()
        surface = None
        with progress_bars(quiet) as update:
            if b is not None:
                line = interpolation_1d(
                    a.model,
                    a.model.state_dict(),
                    b.model.state_dict(),
                    loss_fn,
                    train,
                    test,
                    np.linspace(-1, 2, points),
                    bn=bn or "recompute",
                    progress=_task(update, "1-D interpolation"),
                )
                title = (
                    f"A = {run_label(a.run_dir)}: {a.config.optimizer}, batch {a.config.batch_size}\n"
                    f"B = {run_label(b.run_dir)}: {b.config.optimizer}, batch {b.config.batch_size}"
                )
                xlabel = "α  (0: run A, 1: run B)"
                name = "interpolation"
            else:
                line = direction_1d(
                    a.model,
                    loss_fn,
                    train,
                    test,
                    np.linspace(-1, 1, points),
                    seed=seed,
                    bn="keep" if bn in (None, "interpolate") else bn,
                    progress=_task(update, "1-D direction"),
                )
                title = f"{run_label(a.run_dir)}: along one filter-normalised direction"
                xlabel, name = "α", "direction"
            if steps:
                surface = surface_2d(
                    a.model,
                    loss_fn,
                    *train,
                    steps=steps,
                    span=span,
                    seed=seed,
                    bn="keep" if bn in (None, "interpolate") else bn,  # Li et al. keep the solution's
                    progress=_task(update, "2-D surface"),
                )
        keys = [key for key, value in line.items() if isinstance(value, list)]
        summary = ", ".join(
            f"{key} {min(line[key]):.3g}–{max(line[key]):.3g}" for key in keys if key.endswith("_loss")
        )
        print(f"1-D ({name}, BatchNorm: {line['bn']}): {summary}")
        labels = [run_label(a.run_dir)] + ([f"vs-{run_label(b.run_dir)}"] if b is not None else [])
        files = Writer(out, output_name("landscape", *labels))
        plot_interpolation(line, files.path(f"{name}.png"), title=title, xlabel=xlabel)
        write_json(files.path(f"{name}.json"), line)
        write_csv(
            files.path(f"{name}.csv"), [{k: line[k][i] for k in keys} for i in range(len(line["alpha"]))]
        )
        if surface is not None:
            grid = np.asarray(surface["loss"])
            centre = grid[steps // 2, steps // 2]
            print(
                f"2-D around A ({steps}×{steps}, BatchNorm: {surface['bn']}): loss at the centre "
                f"{centre:.3g}, max on the grid {np.nanmax(grid):.3g}"
            )
            plot_surface(
                surface,
                files.path("surface.png"),
                title=f"{run_label(a.run_dir)}: train loss around the solution\n(BatchNorm: {surface['bn']})",
            )
            write_json(files.path("surface.json"), surface)
        files.report()

    @app.command(epilog=EPILOG)
    def advise(
        model: ModelName,
        dataset: DatasetName,
        optimizer: OptimizerName = "sgd",
        reference_lr: Annotated[
            float | None,
            typer.Option(
                help="A learning rate known to work (default: the optimizer's, `optlab list optimizers`)."
            ),
        ] = None,
        reference_batch: Annotated[
            int, typer.Option(help="The batch size that learning rate was found at, examples.")
        ] = 128,
        batch_sizes: Annotated[
            str | None,
            typer.Option(
                metavar="B1,B2,...",
                help="Comma-separated batch sizes to time (default: powers of two up to min(N, 4096)).",
            ),
        ] = None,
        run: Annotated[
            str | None,
            typer.Option(metavar="RUN", help=f"Measure B_noise at this run's final weights: {RUN_HELP}."),
        ] = None,
        warm_epochs: Annotated[
            int, typer.Option(help="Without --run: epochs trained at the reference before measuring B_noise.")
        ] = 1,
        small_batch: SmallBatch = DEFAULT_SMALL_BATCH,
        big_batch: BigBatch = DEFAULT_BIG_BATCH,
        pairs: Pairs = DEFAULT_PAIRS,
        repeats: Repeats = 30,
        max_seconds: MaxSeconds = 3.0,
        device: Device = DEFAULT_DEVICE,
        threads: Threads = None,
        statistic: Statistic = "median",
        data_dir: DataDir = None,
        seed: Annotated[
            int, typer.Option(help="Seed of the init, the warm-up run and the batch sampling.")
        ] = 0,
        out: OutDir = None,
        quiet: Quiet = False,
    ) -> None:
        """Recommend batch sizes, learning rate and warm-up from timing and the gradient noise scale.

        B_noise is measured at initialisation and after training, with the estimator, batch sizes, pairs and
        seed of `optlab measure noise`; the warm-up run is kept in the output folder (warm-up-run/) and the
        commands that reproduce both values are printed.
        """
        from optlab import data, models, optim
        from optlab._io import write_json
        from optlab.cli._device import resolve
        from optlab.measure.advise import advise as run_advise
        from optlab.measure.advise import plot_advice, reproduce_commands, scaling_rule
        from optlab.measure.noise_scale import noise_batches
        from optlab.measure.outputs import output_name
        from optlab.measure.runs import run_label

        check_name("--model", model, models.names())
        check_name("--dataset", dataset, data.names())
        check_name("--optimizer", optimizer, optim.names())
        try:
            scaling_rule(optimizer)
        except ConfigError:
            raise ConfigError(
                f"invalid value for --optimizer: advise has no lr scaling rule for {optimizer!r}"
            ) from None
        if reference_lr is not None:
            positive("--reference-lr", reference_lr)
        at_least("--reference-batch", reference_batch, 1)
        at_least("--warm-epochs", warm_epochs, 1)
        at_least("--small-batch", small_batch, 1)
        at_least("--big-batch", big_batch, 1)
        at_least("--pairs", pairs, 1)
        noise_batches(small_batch, big_batch, big_batch)
        at_least("--repeats", repeats, 3)  # quartiles need three
        positive("--max-seconds", max_seconds)
        at_least("--threads", threads, 1)
        check_statistic(statistic)
        sizes = parse_batch_sizes(batch_sizes)
        check_out(out)
        torch_device = resolve(device)
        run_dir = _resolve(run) if run is not None else None
        parts = [dataset, model, optimizer, torch_device.type]
        if run_dir is not None:
            parts.append(f"at-{run_label(run_dir)}")
        with progress_bars(quiet) as update, tempfile.TemporaryDirectory(prefix="optlab-advise-") as tmp:
            warm = None if run_dir is not None else Path(tmp) / "warm-up-run"
            result = run_advise(
                model,
                dataset,
                optimizer,
                reference_lr=reference_lr,
                reference_batch=reference_batch,
                batch_sizes=sizes,
                device=str(torch_device),
                threads=threads,
                statistic=statistic,
                repeats=repeats,
                max_seconds=max_seconds,
                run_dir=run_dir,
                warm_epochs=warm_epochs,
                small_batch=small_batch,
                big_batch=big_batch,
                n_pairs=pairs,
                data_dir=data_dir,
                seed=seed,
                keep_warmup=warm,
                progress=update,
            )
            files = Writer(out, output_name("advise", *parts))
            if warm is not None:
                kept = files.folder / "warm-up-run"
                if kept.exists():
                    files.existed.add(kept)
                    shutil.rmtree(kept)
                shutil.move(str(warm), str(kept))
                files.paths.append(kept)
        _print_advice(result)
        from optlab.measure.noise_scale import NoiseScale

        at_init, trained = NoiseScale(**result.noise_at_init), NoiseScale(**result.noise)
        trained_at = run_dir if run_dir is not None else files.folder / "warm-up-run"
        print("reproduce B_noise (at init, after training) with:")
        for command in reproduce_commands(model, dataset, trained_at, at_init, trained, data_dir):
            print(f"  {command}")
        plot_advice(result, files.path("advice.png"))
        write_json(files.path("advice.json"), result.to_dict())
        files.report()


def _print_advice(advice: Any) -> None:
    """The options table (never cut: plain full-width text in a pipe), the recommendation and its reasons."""
    from optlab.cli._tables import print_table

    low, high = advice.batch_range
    rows = []
    for o in advice.options:
        choice = (
            "best"
            if o.batch_size == advice.recommended_batch
            else ("range" if low <= o.batch_size <= high else "")
        )
        rows.append(
            (
                o.batch_size,
                choice,
                f"{1e3 * o.update_s:.4g}",
                f"{o.epoch_s:.4g}",
                f"{o.steps_factor:.4g}",
                f"{o.examples_factor:.4g}",
                f"{o.relative_time:.3f}×",
                f"{o.lr:.4g}",
                o.warmup_steps,
            )
        )
    columns = [
        "B",
        "",
        "ms/update",
        "s/epoch",
        "steps/S_min",
        "examples/E_min",
        "time to target",
        "lr",
        "warm-up",
    ]
    print_table(
        columns,
        rows,
        title=f"optlab advise: {advice.model} on {advice.dataset}, {advice.optimizer}, {advice.device} "
        "(best: recommended, range: within the tolerance)",
        justify={**dict.fromkeys(columns, "right"), "": "left"},
    )
    print(
        f"recommendation: batch size {advice.recommended_batch} "
        + (f"(range {low}–{high}), " if low != high else "(no other size within the tolerance), ")
        + f"lr {advice.recommended_lr:.4g}, warm-up {advice.recommended_warmup_steps} updates"
    )
    for line in advice.reasoning:
        print(f"  - {line}")
