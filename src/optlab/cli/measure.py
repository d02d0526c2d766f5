"""``optlab measure timing|noise|critical-batch|sharpness|hessian|landscape`` and ``optlab advise``.

Thin: parses flags, loads runs/datasets by name, calls :mod:`optlab.measure`, prints a short summary and
writes every figure with its data (JSON, CSV where tabular) beside it. Progress bars go to stderr and are off
when stderr is not a terminal or with ``--quiet``.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from optlab.errors import ConfigError

EXIT_CODES = (
    "Exit codes: 0 ok, 1 the measurement failed (missing data, a checkpoint that does not fit), 2 bad usage."
)
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
OutDir = Annotated[Path | None, typer.Option("--out", help="Folder for the figures and data files.")]
Threads = Annotated[
    int | None,
    typer.Option(help="CPU: torch threads while timing (1 is steadier on a machine shared with other jobs)."),
]
Statistic = Annotated[
    str, typer.Option(help="Time per update: median, or min (steadier on a machine busy with other work).")
]
Examples = Annotated[
    int, typer.Option(help="Evaluate on the first N training examples (0: all; curvature costs grow with N).")
]


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


def out_dir(given: Path | None, default: Path) -> Path:
    path = given or default
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        from optlab.errors import OptlabError

        raise OptlabError(f"cannot create output folder {path}: {error.strerror or error}") from None
    return path


def _subset(split: Any, examples: int) -> tuple[Any, Any]:
    x, y = split.x, split.y
    if examples < 0:
        raise ConfigError(f"invalid value for --examples: {examples} (an integer >= 0; 0 means all)")
    return (x[:examples], y[:examples]) if examples else (x, y)


def _load_dataset(name: str, data_dir: str | None) -> Any:
    from optlab import data

    check_name("--dataset", name, data.names())
    return data.load(name, data_dir=data_dir)


def _written(*paths: Path) -> None:
    for path in paths:
        print(f"  wrote {path}")


def _momentum(config: Any) -> float:
    """The run's momentum coefficient (its hparams, else the optimizer registry's default), 0 if none."""
    from optlab import optim

    if "momentum" in config.hparams:
        return float(config.hparams["momentum"])
    try:
        return float(optim.info(config.optimizer).defaults.get("momentum", 0.0))
    except ConfigError:
        return 0.0


def register(app: typer.Typer) -> None:
    measure_app = typer.Typer(
        help="What decides batch size and optimizer: timing, noise scale, sharpness, Hessian, landscape.",
        no_args_is_help=True,
    )
    app.add_typer(measure_app, name="measure")

    @measure_app.command(epilog=EXIT_CODES)
    def timing(
        model: Annotated[str, typer.Option(help="Model name (optlab.models.names()).")],
        dataset: Annotated[str, typer.Option(help="Dataset name (optlab.data.names()).")],
        batch_sizes: Annotated[
            str | None,
            typer.Option(help="Comma-separated batch sizes (default: powers of two up to min(N, 4096))."),
        ] = None,
        optimizer: Annotated[str, typer.Option(help="Optimizer name (optlab.optim.names()).")] = "sgd",
        device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
        threads: Threads = None,
        statistic: Statistic = "median",
        repeats: Annotated[int, typer.Option(help="Timed updates per batch size (at most).")] = 30,
        max_seconds: Annotated[float, typer.Option(help="Time budget per batch size.")] = 3.0,
        data_dir: Annotated[str | None, typer.Option(help="Where the dataset files are.")] = None,
        out: OutDir = None,
        quiet: Quiet = False,
    ) -> None:
        """Time per update and per epoch against batch size, and where it stops being flat."""
        from optlab import models, optim
        from optlab._io import write_json
        from optlab.measure._common import write_csv
        from optlab.measure.advise import default_batch_sizes
        from optlab.measure.timing import (
            NOISY_SPREAD,
            plot_timing,
            resolve_device,
            time_per_update,
            timing_spread,
        )

        check_name("--model", model, models.names())
        check_name("--optimizer", optimizer, optim.names())
        sizes = parse_batch_sizes(batch_sizes)
        resolve_device(device)  # fail before loading data
        ds = _load_dataset(dataset, data_dir)
        folder = out_dir(out, Path("measurements") / f"timing-{dataset}-{model}-{optimizer}")
        with progress_bars(quiet) as update:
            result = time_per_update(
                lambda: models.create(model, ds.input_shape, ds.num_classes),
                ds,
                sizes or default_batch_sizes(len(ds.train)),
                optimizer,
                device,
                repeats=repeats,
                max_seconds=max_seconds,
                threads=threads,
                statistic=statistic,
                progress=_task(update, "timing rounds"),
            )
        print(f"{'B':>6} {'ms/update':>10} {'s/epoch':>9} {'examples/s':>11}")
        for row in result.rows:
            print(
                f"{row.batch_size:>6} {1e3 * row.update_s:>10.3g} {row.epoch_s:>9.3g} "
                f"{row.examples_per_s:>11.4g}"
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
        write_json(folder / "timing.json", {"model": model, "dataset": dataset, **result.to_dict()})
        write_csv(folder / "timing.csv", [vars(row) for row in result.rows])
        plot_timing(
            result, folder / "timing.png", title=f"{model} on {dataset}, {optimizer}, {result.device}"
        )
        _written(folder / "timing.png", folder / "timing.json", folder / "timing.csv")

    @measure_app.command(epilog=EXIT_CODES)
    def noise(
        run_dir: Annotated[
            Path | None, typer.Argument(help="A run folder (its final weights); omit for --model at init.")
        ] = None,
        model: Annotated[
            str | None, typer.Option(help="Model name, measured at initialisation (without RUN_DIR).")
        ] = None,
        dataset: Annotated[str | None, typer.Option(help="Dataset name (without RUN_DIR).")] = None,
        small_batch: Annotated[
            int, typer.Option(help="The small batch size (best below the expected B_noise).")
        ] = 8,
        big_batch: Annotated[int, typer.Option(help="The big batch size.")] = 1024,
        pairs: Annotated[int, typer.Option(help="Independent (small, big) pairs averaged.")] = 50,
        seed: Annotated[
            int, typer.Option(help="Seed of the batch sampling (and of the init without RUN_DIR).")
        ] = 0,
        data_dir: Annotated[str | None, typer.Option(help="Where the dataset files are.")] = None,
        out: OutDir = None,
        quiet: Quiet = False,
    ) -> None:
        """Gradient noise scale B_simple = tr Σ / |G|² (McCandlish et al. 2018, two-batch estimator)."""
        import torch
        from torch import nn

        from optlab import models
        from optlab._io import write_json
        from optlab.measure.noise_scale import noise_scale
        from optlab.measure.runs import load_run

        if run_dir is not None:
            run = load_run(run_dir)
            net, ds, label = run.model, run.dataset, str(run_dir)
            default = Path(run_dir) / "measure"
        else:
            if model is None or dataset is None:
                raise ConfigError("give a RUN_DIR, or --model and --dataset to measure at initialisation")
            check_name("--model", model, models.names())
            ds = _load_dataset(dataset, data_dir)
            torch.manual_seed(seed)
            net, label = models.create(model, ds.input_shape, ds.num_classes), f"{model} on {dataset} at init"
            default = Path("measurements") / f"noise-{dataset}-{model}"
        folder = out_dir(out, default)
        big = min(big_batch, len(ds.train))
        with progress_bars(quiet) as update:
            result = noise_scale(
                net,
                nn.CrossEntropyLoss(),
                ds,
                small_batch,
                big,
                pairs,
                seed,
                progress=_task(update, "noise pairs"),
            )
        print(f"{label}: B_simple = {result.b_simple:.4g} ± {result.b_simple_stderr:.2g}")
        print(
            f"  |G|² = {result.grad_norm_sq:.4g} ± {result.grad_norm_sq_stderr:.2g}, "
            f"tr Σ = {result.trace_sigma:.4g} ± {result.trace_sigma_stderr:.2g}, loss {result.loss:.4g}"
        )
        write_json(folder / "noise_scale.json", {"source": label, **result.to_dict()})
        _written(folder / "noise_scale.json")

    @measure_app.command("critical-batch", epilog=EXIT_CODES)
    def critical_batch(
        run_dirs: Annotated[list[Path], typer.Argument(help="Run folders trained at different batch sizes.")],
        target: Annotated[float, typer.Option(help="The loss every run must reach.")],
        metric: Annotated[
            str, typer.Option(help="Column of metrics.csv compared with --target.")
        ] = "train_loss",
        out: OutDir = None,
    ) -> None:
        """Fit (S/S_min − 1)(E/E_min − 1) = 1 to steps-to-target of runs at several batch sizes → B_crit."""
        from optlab._io import write_json
        from optlab.measure.noise_scale import fit_critical_batch, plot_critical_batch
        from optlab.train import TrainConfig, read_csv

        batch_sizes, steps, rows = [], [], []
        for run_dir in run_dirs:
            if not (run_dir / "config.toml").is_file():
                raise ConfigError(f"{run_dir} is not a run directory (no config.toml there)")
            config = TrainConfig.load(run_dir / "config.toml")
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
        folder = out_dir(out, Path("measurements") / "critical-batch")
        print(
            f"S_min = {fit.s_min:.4g} steps, E_min = {fit.e_min:.4g} examples, B_crit = {fit.b_crit:.4g} "
            f"(relative rms misfit {fit.relative_rms_error:.2%})"
        )
        write_json(
            folder / "critical_batch.json",
            {"target": target, "metric": metric, "runs": rows, **fit.to_dict()},
        )
        plot_critical_batch(fit, folder / "critical_batch.png")
        _written(folder / "critical_batch.png", folder / "critical_batch.json")

    @measure_app.command(epilog=EXIT_CODES)
    def sharpness(
        run_dir: Annotated[Path, typer.Argument(help="A run folder (config.toml + final.pt).")],
        epsilon: Annotated[
            list[float], typer.Option(help="Box size ε (repeatable; Keskar et al. use 1e-3, 5e-4).")
        ] = [1e-3, 5e-4],  # noqa: B006
        subspace_dim: Annotated[
            int, typer.Option(help="Also measure in a random subspace of this dimension (0: no).")
        ] = 100,
        iterations: Annotated[int, typer.Option(help="L-BFGS-B iterations.")] = 10,
        examples: Examples = 0,
        seed: int = 0,
        out: OutDir = None,
        quiet: Quiet = False,
    ) -> None:
        """Keskar et al.'s sharpness (Metric 2.1) of a run's final weights, full space and random subspace."""
        from torch import nn

        from optlab._io import write_json
        from optlab.measure.runs import load_run
        from optlab.measure.sharpness import sharpness as measure_sharpness

        run = load_run(run_dir)
        x, y = _subset(run.dataset.train, examples)
        folder = out_dir(out, Path(run_dir) / "measure")
        results = []
        with progress_bars(quiet) as update:
            for eps in epsilon:
                for dim in [None] + ([subspace_dim] if subspace_dim else []):
                    where = "full space" if dim is None else f"subspace {dim}"
                    result = measure_sharpness(
                        run.model,
                        nn.CrossEntropyLoss(),
                        x,
                        y,
                        eps,
                        dim,
                        iterations,
                        seed,
                        progress=_task(update, f"ε={eps:g}, {where}"),
                    )
                    results.append(result.to_dict())
                    print(
                        f"ε = {eps:g}, {where}: φ = {result.value:.4g} "
                        f"(loss {result.loss:.4g} → {result.max_loss:.4g})"
                    )
        write_json(folder / "sharpness.json", {"run": str(run_dir), "examples": len(x), "results": results})
        _written(folder / "sharpness.json")

    @measure_app.command(epilog=EXIT_CODES)
    def hessian(
        run_dir: Annotated[Path, typer.Argument(help="A run folder (config.toml + final.pt).")],
        k: Annotated[int, typer.Option("--k", "-k", help="How many of the largest eigenvalues.")] = 5,
        trace_samples: Annotated[int, typer.Option(help="Hutchinson samples for the trace (0: skip).")] = 50,
        max_iterations: Annotated[int, typer.Option(help="Lanczos steps at most.")] = 100,
        examples: Examples = 2048,
        seed: int = 0,
        out: OutDir = None,
        quiet: Quiet = False,
    ) -> None:
        """Top-k Hessian eigenvalues (Lanczos) and trace (Hutchinson) at a run's final weights, with 2/lr."""
        import numpy as np
        from torch import nn

        from optlab._io import write_json
        from optlab.measure._common import new_figure, save_figure
        from optlab.measure.hessian import hessian_eigenvalues, hessian_trace
        from optlab.measure.runs import load_run

        run = load_run(run_dir)
        x, y = _subset(run.dataset.train, examples)
        folder = out_dir(out, Path(run_dir) / "measure")
        with progress_bars(quiet) as update:
            values = hessian_eigenvalues(
                run.model,
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
                    run.model,
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
        two_over_lr = 2 / run.config.lr
        print(f"top {k} eigenvalues: " + ", ".join(f"{v:.4g}" for v in values))
        print(f"2/lr = {two_over_lr:.4g} (lr {run.config.lr:g}, {run.config.optimizer})")
        momentum = _momentum(run.config)
        if momentum:  # heavy ball on a quadratic is stable up to λ < 2(1 + β)/η (Polyak 1964)
            print(f"  with momentum β = {momentum:g} the quadratic stability limit is 2(1+β)/lr = "
                  f"{2 * (1 + momentum) / run.config.lr:.4g}")  # fmt: skip
        if trace is not None:
            print(f"trace ≈ {trace.value:.4g} ± {trace.standard_error:.2g} ({trace.samples} samples)")
        data = {
            "run": str(run_dir),
            "examples": len(x),
            "eigenvalues": values,
            "lr": run.config.lr,
            "two_over_lr": two_over_lr,
            "momentum": _momentum(run.config),
            "trace": None if trace is None else vars(trace),
        }
        write_json(folder / "hessian.json", data)
        figure, axes = new_figure(figsize=(5.5, 4))
        axes.bar(np.arange(1, len(values) + 1), values, color="C0", label="eigenvalue")
        axes.axhline(two_over_lr, color="C3", ls="--", label=f"2/lr = {two_over_lr:.3g}")
        axes.set_yscale("symlog")
        axes.set_xlabel("rank")
        axes.set_ylabel("Hessian eigenvalue")
        axes.set_title(f"{run.config.model} on {run.config.dataset} ({len(x)} examples)")
        axes.legend(fontsize=8)
        save_figure(figure, folder / "hessian.png")
        _written(folder / "hessian.png", folder / "hessian.json")

    @measure_app.command(epilog=EXIT_CODES)
    def landscape(
        run_a: Annotated[
            Path, typer.Argument(help="A run folder: the centre of the 2-D plot, α = 0 of the 1-D one.")
        ],
        run_b: Annotated[Path | None, typer.Argument(help="A second run of the same model: α = 1.")] = None,
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
        seed: int = 0,
        out: OutDir = None,
        quiet: Quiet = False,
    ) -> None:
        """1-D interpolation between runs (Keskar et al.), 2-D filter-normalised contours (Li et al.)."""
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
        from optlab.measure.runs import load_run

        if bn is not None and bn not in BN_MODES:
            raise ConfigError(f"invalid value for --bn: {bn!r} (valid: {', '.join(BN_MODES)})")
        a = load_run(run_a)
        train, test = _subset(a.dataset.train, examples), _subset(a.dataset.test, examples)
        folder = out_dir(out, Path(run_a) / "measure")
        loss_fn = nn.CrossEntropyLoss()
        written = []
        with progress_bars(quiet) as update:
            if run_b is not None:
                b = load_run(run_b, dataset=a.dataset)
                if (b.config.model, b.config.dataset) != (a.config.model, a.config.dataset):
                    raise ConfigError(
                        f"{run_b} trains {b.config.model} on {b.config.dataset}, {run_a} trains "
                        f"{a.config.model} on {a.config.dataset}: interpolation needs the same model and data"
                    )
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
                    f"A: {a.config.optimizer}, batch {a.config.batch_size}; "
                    f"B: {b.config.optimizer}, batch {b.config.batch_size}"
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
                title, xlabel, name = "along one filter-normalised direction", "α", "direction"
            write_json(folder / f"{name}.json", line)
            keys = [key for key, value in line.items() if isinstance(value, list)]
            write_csv(
                folder / f"{name}.csv", [{k: line[k][i] for k in keys} for i in range(len(line["alpha"]))]
            )
            plot_interpolation(line, folder / f"{name}.png", title=title, xlabel=xlabel)
            written += [folder / f"{name}.png", folder / f"{name}.json", folder / f"{name}.csv"]
            summary = ", ".join(
                f"{key} {min(line[key]):.3g}–{max(line[key]):.3g}" for key in keys if key.endswith("_loss")
            )
            print(f"1-D ({name}, BatchNorm: {line['bn']}): {summary}")
            if steps:
                surface_bn = "keep" if bn in (None, "interpolate") else bn  # Li et al. keep the solution's
                surface = surface_2d(
                    a.model,
                    loss_fn,
                    *train,
                    steps=steps,
                    span=span,
                    seed=seed,
                    bn=surface_bn,
                    progress=_task(update, "2-D surface"),
                )
                write_json(folder / "surface.json", surface)
                plot_surface(surface, folder / "surface.png")
                written += [folder / "surface.png", folder / "surface.json"]
                grid = np.asarray(surface["loss"])
                centre = grid[steps // 2, steps // 2]
                print(
                    f"2-D ({steps}×{steps}, BatchNorm: {surface['bn']}): loss at the centre {centre:.3g}, "
                    f"max on the grid {np.nanmax(grid):.3g}"
                )
        _written(*written)

    @app.command(epilog=EXIT_CODES)
    def advise(
        model: Annotated[str, typer.Option(help="Model name (optlab.models.names()).")],
        dataset: Annotated[str, typer.Option(help="Dataset name (optlab.data.names()).")],
        optimizer: Annotated[str, typer.Option(help="Optimizer name (optlab.optim.names()).")] = "sgd",
        reference_lr: Annotated[
            float | None, typer.Option(help="A learning rate known to work (default: the optimizer's).")
        ] = None,
        reference_batch: Annotated[
            int, typer.Option(help="The batch size that learning rate was found at.")
        ] = 128,
        batch_sizes: Annotated[str | None, typer.Option(help="Comma-separated batch sizes to time.")] = None,
        run: Annotated[
            Path | None, typer.Option(help="Measure the noise scale at this run's weights instead.")
        ] = None,
        warm_epochs: Annotated[
            int, typer.Option(help="Epochs trained at the reference before measuring B_noise.")
        ] = 1,
        pairs: Annotated[int, typer.Option(help="Noise-scale pairs.")] = 20,
        device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
        threads: Threads = None,
        statistic: Statistic = "median",
        data_dir: Annotated[str | None, typer.Option(help="Where the dataset files are.")] = None,
        seed: int = 0,
        out: OutDir = None,
        quiet: Quiet = False,
    ) -> None:
        """Recommend batch sizes, learning rate and warm-up from timing and the gradient noise scale."""
        from optlab import data, models, optim
        from optlab._io import write_json
        from optlab.measure.advise import advise as run_advise
        from optlab.measure.advise import plot_advice

        check_name("--model", model, models.names())
        check_name("--dataset", dataset, data.names())
        check_name("--optimizer", optimizer, optim.names())
        if reference_lr is not None and not (reference_lr > 0 and math.isfinite(reference_lr)):
            raise ConfigError(f"invalid value for --reference-lr: {reference_lr!r} (a number > 0)")
        if reference_batch < 1:
            raise ConfigError(f"invalid value for --reference-batch: {reference_batch!r} (an integer >= 1)")
        if warm_epochs < 1:
            raise ConfigError(f"invalid value for --warm-epochs: {warm_epochs!r} (an integer >= 1)")
        from optlab.measure.timing import resolve_device

        resolve_device(device)
        folder = out_dir(out, Path("measurements") / f"advise-{dataset}-{model}-{optimizer}")
        with progress_bars(quiet) as update:
            result = run_advise(
                model,
                dataset,
                optimizer,
                reference_lr=reference_lr,
                reference_batch=reference_batch,
                batch_sizes=parse_batch_sizes(batch_sizes),
                device=device,
                threads=threads,
                statistic=statistic,
                run_dir=run,
                warm_epochs=warm_epochs,
                n_pairs=pairs,
                data_dir=data_dir,
                seed=seed,
                progress=update,
            )
        _print_advice(result)
        write_json(folder / "advice.json", result.to_dict())
        plot_advice(result, folder / "advice.png")
        _written(folder / "advice.png", folder / "advice.json")


def _print_advice(advice: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    table = Table(
        title=f"optlab advise: {advice.model} on {advice.dataset}, {advice.optimizer}, {advice.device}"
    )
    for column in (
        "B",
        "ms/update",
        "s/epoch",
        "steps ×S_min",
        "examples ×E_min",
        "time to target",
        "lr",
        "warm-up",
    ):
        table.add_column(column, justify="right")
    low, high = advice.batch_range
    for o in advice.options:
        mark = (
            " ★"
            if o.batch_size == advice.recommended_batch
            else (" •" if low <= o.batch_size <= high else "")
        )
        table.add_row(
            f"{o.batch_size}{mark}",
            f"{1e3 * o.update_s:.3g}",
            f"{o.epoch_s:.3g}",
            f"{o.steps_factor:.3g}",
            f"{o.examples_factor:.3g}",
            f"{o.relative_time:.2f}×",
            f"{o.lr:.3g}",
            str(o.warmup_steps),
        )
    console.print(table)
    console.print(
        f"recommendation: batch size {advice.recommended_batch} (range {low}–{high}), "
        f"lr {advice.recommended_lr:.3g}, warm-up {advice.recommended_warmup_steps} updates"
    )
    for line in advice.reasoning:
        console.print(f"  - {line}")
