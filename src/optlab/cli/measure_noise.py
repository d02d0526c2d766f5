"""``optlab measure noise`` and ``optlab measure critical-batch``: the gradient noise scale of a model and the
critical batch size from runs at several batch sizes (:mod:`optlab.measure.noise_scale`). Registered by
:mod:`optlab.cli.measure`."""

from __future__ import annotations

import math
from typing import Annotated

import typer

from optlab.cli import _measure
from optlab.errors import ConfigError
from optlab.measure.noise_scale import DEFAULT_BIG_BATCH, DEFAULT_PAIRS, DEFAULT_SMALL_BATCH
from optlab.measure.runs import load_run, resolve_run, run_label


def noise(
    run: Annotated[
        str | None,
        typer.Argument(
            metavar="RUN",
            help=f"The run to measure at its final weights: {_measure.RUN_HELP}; omit for --model.",
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
    small_batch: _measure.SmallBatch = DEFAULT_SMALL_BATCH,
    big_batch: _measure.BigBatch = DEFAULT_BIG_BATCH,
    pairs: _measure.Pairs = DEFAULT_PAIRS,
    seed: Annotated[int, typer.Option(help="Seed of the batch sampling (and of the init without RUN).")] = 0,
    data_dir: _measure.DataDir = None,
    out: _measure.OutDir = None,
    quiet: _measure.Quiet = False,
) -> None:
    """Gradient noise scale B_simple = tr Σ / |G|² (McCandlish et al. 2018, two-batch estimator).

    `optlab advise` measures B_noise with this same estimator, batch sizes, pairs and seed.
    """
    from torch import nn

    from optlab import models
    from optlab.measure._common import for_task
    from optlab.measure.noise_scale import model_at_init, noise_batches, noise_scale, plot_noise_scale

    _measure.at_least("--small-batch", small_batch, 1)
    _measure.at_least("--big-batch", big_batch, 1)
    _measure.at_least("--pairs", pairs, 1)
    noise_batches(small_batch, big_batch, big_batch)  # small < big
    _measure.check_out(out)
    if run is not None:
        if model is not None or dataset is not None:
            raise ConfigError("give either RUN or --model and --dataset, not both")
        loaded = load_run(resolve_run(run))
        net, ds, label = loaded.model, loaded.dataset, str(loaded.run_dir)
        parts = [run_label(loaded.run_dir), f"seed{seed}"]
    else:
        if model is None or dataset is None:
            raise ConfigError("give a RUN, or --model and --dataset to measure at initialisation")
        _measure.check_name("--model", model, models.names())
        ds = _measure.load_dataset(dataset, data_dir)
        net, label = model_at_init(model, ds, seed), f"{model} on {dataset} at init (seed {seed})"
        parts = [dataset, model, "init", f"seed{seed}"]
    small, big = noise_batches(small_batch, big_batch, len(ds.train))
    with _measure.progress_bars(quiet) as update:
        result = noise_scale(
            net, nn.CrossEntropyLoss(), ds, small, big, pairs, seed, progress=for_task(update, "noise pairs")
        )
    if (small, big) != (small_batch, big_batch):
        print(f"  batch sizes {small_batch}, {big_batch} → {small}, {big} ({len(ds.train)} examples)")
    print(f"{label}: B_simple = {result.b_simple:.4g} ± {result.b_simple_stderr:.2g}")
    print(
        f"  |G|² = {result.grad_norm_sq:.4g} ± {result.grad_norm_sq_stderr:.2g}, "
        f"tr Σ = {result.trace_sigma:.4g} ± {result.trace_sigma_stderr:.2g}, loss {result.loss:.4g} "
        f"(small {small}, big {big}, {pairs} pairs, seed {seed})"
    )
    files = _measure.Writer(out, "noise", *parts)
    plot_noise_scale(result, files.path("noise_scale.png"), title=f"{label}: B_simple = "
                     f"{result.b_simple:.3g} ± {result.b_simple_stderr:.2g}")  # fmt: skip
    files.json("noise_scale.json", {"source": label, **result.to_dict()})
    files.report()


def critical_batch(
    runs: Annotated[
        list[str],
        typer.Argument(metavar="RUN...", help=f"Runs at different batch sizes: each {_measure.RUN_HELP}."),
    ],
    target: Annotated[float, typer.Option(help="The value of --metric every run must reach (≤).")],
    metric: Annotated[
        str, typer.Option(help="Column of metrics.csv compared with --target (a loss: lower is better).")
    ] = "train_loss",
    three_ways: Annotated[
        bool,
        typer.Option(
            "--three-ways",
            help="Also retrain the smallest-batch run for B_simple over training and branch it at k·B "
            "(Merrill et al. 2025): the three estimates side by side, with three_ways.png.",
        ),
    ] = False,
    ks: Annotated[
        str, typer.Option(help="With --three-ways: the branches' batch multiples k.")
    ] = "1,2,4,8,16,32",
    window: Annotated[
        int, typer.Option(help="With --three-ways: examples per branch (0: 4 updates of the largest).")
    ] = 0,
    eps: Annotated[
        float, typer.Option(help="With --three-ways: a branch is within if its loss ≤ (1 + eps)·k=1's.")
    ] = 0.02,
    cooldown: Annotated[
        float,
        typer.Option(
            help="With --three-ways: the last fraction of each branch's updates in a linear cool-down to 0, "
            "so that no branch is judged at its constant-lr noise floor (0: none; 0.5 as "
            "Merrill et al.'s branches end a WSD run)."
        ),
    ] = 0.0,
    out: _measure.OutDir = None,
) -> None:
    """Fit (S/S_min − 1)(E/E_min − 1) = 1 to steps-to-target of runs at several batch sizes → B_crit.

    With --three-ways, also B_simple at the target (McCandlish et al. 2018), Zhang et al.'s batch (steps 20 %
    above linear scaling) and CBS(t) from branches of the smallest-batch run (Merrill et al. 2025)."""
    from optlab.measure.noise_scale import fit_critical_batch, plot_critical_batch, steps_to_target
    from optlab.measure.outputs import runs_digest

    if not math.isfinite(target):
        raise ConfigError(f"invalid value for --target: {target!r} (a finite number)")
    _measure.check_out(out)
    multiples = _check_three_ways(metric, ks, window, eps, cooldown) if three_ways else ()
    folders = [resolve_run(key) for key in runs]
    reached = steps_to_target(folders, metric, target)
    for run_dir in reached.left_out:
        print(f"  {run_dir}: never reached {metric} <= {target:g} (or full batch); left out")
    fit = fit_critical_batch(reached.batch_sizes, reached.steps)
    print(
        f"S_min = {fit.s_min:.4g} steps, E_min = {fit.e_min:.4g} examples, B_crit = {fit.b_crit:.4g} "
        f"(relative rms misfit {fit.relative_rms_error:.2%})"
    )
    files = _measure.Writer(
        out, "critical-batch", f"{len(folders)}runs", f"{metric}{target:g}", runs_digest(folders)
    )
    plot_critical_batch(fit, files.path("critical_batch.png"))
    files.json(
        "critical_batch.json",
        {"target": target, "metric": metric, "runs": reached.rows, **fit.to_dict()},
    )
    if three_ways:
        _three_ways(reached, fit, target, metric, multiples, window, eps, cooldown, files)
    files.report()


def _check_three_ways(metric: str, ks: str, window: int, eps: float, cooldown: float) -> tuple[int, ...]:
    """The --three-ways flags, checked before any training; returns the multiples k."""
    from optlab.measure.critical_batch import check_ks

    if metric != "train_loss":
        raise ConfigError("--three-ways needs --metric train_loss (B_simple is read at a training loss)")
    try:
        multiples = tuple(int(k) for k in ks.split(","))
    except ValueError:
        raise ConfigError(f"invalid value for --ks: {ks!r} (integers, comma-separated)") from None
    check_ks(multiples)
    _measure.at_least("--window", window, 0)
    _measure.at_least("--eps", eps, 0, "a number")
    if not (math.isfinite(cooldown) and 0 <= cooldown <= 1):
        raise ConfigError(f"invalid value for --cooldown: {cooldown!r} (a fraction in [0, 1])")
    return multiples


def _three_ways(reached, fit, target, metric, multiples, window, eps, cooldown, files) -> None:
    """--three-ways: retrain and branch the smallest-batch run; print and write the three estimates."""
    from pathlib import Path

    from optlab.measure.critical_batch import plot_three_ways, three_ways_from_run
    from optlab.train.config import TrainConfig

    base = min(reached.reached, key=lambda row: row["batch_size"])
    config = TrainConfig.load(Path(base["run"]) / "config.toml")
    result = three_ways_from_run(
        config, fit, target, base["steps"], ks=multiples, window=window, eps=eps, cooldown=cooldown
    )
    print(f"three ways (base: {base['run']}, batch {base['batch_size']}):")
    print(f"  (a) B_simple at {metric} <= {target:g}: {result.b_simple:.4g}  (McCandlish et al. 2018)")
    print(f"  (b) B_crit = E_min/S_min: {result.b_crit:.4g};  Zhang et al. 2024 (20 % over linear "
          f"scaling): {result.zhang_fit:.4g} (fit), {result.zhang_points:.4g} (runs)")  # fmt: skip
    cbs = ", ".join(f"t={c['step']}: {'≥' if c['capped'] else ''}{c['cbs']}" for c in result.cbs)
    cool = f", cool-down {cooldown:g}" if cooldown else ""
    print(f"  (c) CBS(t), branched (Merrill et al. 2025, ε = {eps:g}{cool}): {cbs}")
    plot_three_ways(result, files.path("three_ways.png"))
    files.json("three_ways.json", {"target": target, "base": base, **result.to_dict()})
