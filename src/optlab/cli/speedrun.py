"""``optlab speedrun DATASET``: the dataset's speed-run recipe for N seeds, test accuracy and training
seconds per seed and as mean ± std, ``speedrun.json``; ``--record`` applies the record protocol. Thin: the
work is in :mod:`optlab.speedrun`."""

from __future__ import annotations

import statistics
from pathlib import Path

import typer

EPILOG = (
    "Exit codes: 0 ran (whether or not the target was reached: see the last lines), 1 a run failed "
    "(missing data, NaN loss), 2 bad usage (nothing is created then). Writes OUT/speedrun.json, "
    "OUT/speedrun.png and one run folder per seed (OUT/seed-N); --record also RECORDS/speedruns.json and "
    "RECORDS/SPEEDRUNS.md."
)


def register(app: typer.Typer) -> None:
    app.command(epilog=EPILOG)(speedrun)


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def speedrun(
    dataset: str = typer.Argument(
        ..., help="A recipe name (`fashion-mnist`, `mnist1d`) or a recipe .toml file.", show_default=False
    ),
    seeds: int | None = typer.Option(None, help="Seeds to run.", show_default="the recipe's (5)"),
    first_seed: int = typer.Option(0, help="The first seed; the others follow it."),
    target: float | None = typer.Option(
        None, help="Mean test accuracy to reach, a fraction (0.91).", show_default="the recipe's"
    ),
    record: bool = typer.Option(
        False, "--record", help="Judge the run against the last record (Welch t-test, p < 0.05) and keep it."
    ),
    records: Path = typer.Option(Path("records"), help="Folder of the record history (with --record)."),
    change: str | None = typer.Option(
        None, help="What changed in the recipe, for the records table.", show_default="the recipe's line"
    ),
    out: Path | None = typer.Option(
        None, help="Output folder.", show_default="RUNS/speedruns/<UTC time>-NAME"
    ),
    threads: int | None = typer.Option(
        None, help="torch's intra-op threads.", show_default="the recipe's, else the number of cores"
    ),
) -> None:
    """Time to accuracy: train DATASET's recipe (optlab/speedrun/recipes/DATASET.toml) for N seeds through
    optlab's engine; print test accuracy and training seconds (first update to last; data loading and the
    one-off warm-up apart) per seed and as mean ± std; write speedrun.json."""
    from optlab import speedrun as sr
    from optlab.errors import ConfigError
    from optlab.speedrun.recipe import check_seeds, check_target, check_threads
    from optlab.train.config import check_registries

    recipe = sr.load_recipe(dataset)
    if seeds is not None:
        check_seeds(seeds)
    if target is not None:
        check_target(target)
    if first_seed < 0:
        raise ConfigError(f"invalid value for --first-seed: {first_seed} (an integer >= 0)")
    if threads is not None:
        check_threads(threads)
    check_registries(recipe.config)
    out = out if out is not None else sr.default_out_dir(recipe)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"invalid value for --out: {out} is a file")
    if (out / "speedrun.json").exists():
        raise ConfigError(f"invalid value for --out: {out} already holds a speed run; pick another folder")
    if record:
        sr.records.load_history(records)  # a damaged history fails now, not after the runs

    goal = recipe.target if target is None else target
    print(
        f"speedrun {recipe.name}: {recipe.source}; target {100 * goal:.1f} % mean test accuracy, "
        f"{seeds or recipe.seeds} seeds",
        flush=True,
    )

    def on_seed(run: sr.SeedRun) -> None:
        print(
            f"seed {run.seed}: test accuracy {100 * run.accuracy:.2f} %, training {run.train_seconds:.2f} s "
            f"({run.steps} updates)",
            flush=True,
        )

    result = sr.run(
        recipe, out, seeds=seeds, first_seed=first_seed, target=target, threads=threads, on_seed=on_seed
    )
    acc, acc_std = _mean_std(result.accuracy)
    sec, sec_std = _mean_std(result.train_seconds)
    print(
        f"mean of {len(result.runs)}: test accuracy {100 * acc:.2f} ± {100 * acc_std:.2f} %, training "
        f"{sec:.2f} ± {sec_std:.2f} s on {result.device}"
    )
    print(
        f"apart: data loading {result.load_seconds:.2f} s, one-off warm-up {result.warmup_seconds:.2f} s "
        "(no compilation: torch.compile is not used)"
    )
    before, after = (" ".join(f"{v:.2f}" for v in load) for load in result.load_average)
    print(f"load average (1, 5, 15 min) before: {before}, after: {after}")
    print(
        f"target {100 * goal:.1f} %: " + ("reached" if result.reached else f"NOT reached ({100 * acc:.2f} %)")
    )
    print(f"wrote {out / 'speedrun.json'} and {out / 'speedrun.png'} (learning curves against training time)")
    if record:
        import json

        verdict = sr.record(
            records, json.loads((out / "speedrun.json").read_text()), change or recipe.description
        )
        if verdict.claimed:
            print(f"new record: {verdict.reason}; written to {records / 'SPEEDRUNS.md'}")
        else:
            print(f"no record: {verdict.reason}")
