"""``optlab lecture``: run the lecture's experiments, decide each claim from the numbers, write the HTML "
"report.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from optlab.errors import ConfigError


def register(app: typer.Typer) -> None:
    @app.command()
    def lecture(
        profile: str = typer.Option(
            "quick", "--profile", "-p", help="smoke (< 1 min), quick (≤ 10 min) or full."
        ),
        only: str = typer.Option(None, "--only", help="Comma-separated experiment or claim ids, e.g. S1,S3."),
        out: Path = typer.Option(Path("lecture-report"), "--out", "-o", help="Output folder."),
        seeds: int = typer.Option(
            None, "--seeds", help="Seeds for seed-dependent experiments (default 1/3/5)."
        ),
        first_seed: int = typer.Option(
            0,
            "--first-seed",
            min=0,
            help="Seed-dependent experiments run seeds S … S+n−1 (n = --seeds); recorded in results.json.",
        ),
        workers: int = typer.Option(
            None, "--workers", help="Parallel processes (default: 1 for smoke, else CPU count, max 4)."
        ),
        resume: bool = typer.Option(False, "--resume", help="Keep finished experiments of the same profile."),
        sweep: bool = typer.Option(
            False,
            "--sweep",
            help="Train the batch-size grid (B3) as Optuna sweeps served by --workers processes; resumable.",
        ),
        storage: str = typer.Option(
            None,
            "--storage",
            help="With --sweep: SQLAlchemy URL of the studies (default: sqlite in the output folder); "
            "other machines join with `optlab sweep --study NAME --storage URL`.",
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Print what would run and its expected runtime, then stop."
        ),
    ) -> None:
        """Run the lecture's claims as experiments and write DIR/results.json and DIR/index.html."""
        from optlab.experiments import registry, runner
        from optlab.experiments.framework import PROFILES
        from optlab.report import render

        if profile not in PROFILES:
            raise ConfigError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
        ids = registry.resolve(only)  # unknown ids fail here, before anything runs
        runner.check_sweep_options(sweep, storage)
        selection = {
            "only": ",".join(ids),
            "seeds": seeds,
            "workers": workers,
            "resume": resume,
            "first_seed": first_seed,
        }
        expected = runner.estimate(profile, out, **selection)
        if dry_run:
            print(f"optlab lecture: profile {profile}, experiments {', '.join(ids)}")
            for experiment_id, (seconds, n) in expected.per_experiment.items():
                print(f"  {experiment_id:<4} {runner.format_seconds(seconds):>8} × {n}")
            print(expected.line())
            return
        if not quiet:
            print(f"optlab lecture: profile {profile}, experiments {', '.join(ids)}", file=sys.stderr)
            print(expected.line(), file=sys.stderr)
        show = not quiet and sys.stderr.isatty()
        started = time.perf_counter()
        if show:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(
                TextColumn("[bold]lecture[/bold]"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                transient=True,
            ) as bar:
                task = bar.add_task("starting", total=None)

                def progress(done: int, total: int, what: str) -> None:
                    bar.update(task, completed=done, total=total, description=what)

                results = runner.run_lecture(
                    profile, out, progress=progress, sweep=sweep, storage=storage, **selection
                )
        else:
            results = runner.run_lecture(profile, out, sweep=sweep, storage=storage, **selection)
        page = render(out)
        wall = time.perf_counter() - started
        width = max(len(c["id"]) for c in results["claims"])
        for claim in results["claims"]:
            print(f"{claim['id']:<{width}}  {claim['verdict']:<15} {claim['title']}")
        failed = [e["id"] for e in results["experiments"] if e["errors"]]
        print(f"report: {page}  ({wall:.0f} s)")
        if failed:
            for experiment in results["experiments"]:
                for error in experiment["errors"]:
                    print(f"error: experiment {experiment['id']}: {error.splitlines()[0]}", file=sys.stderr)
            raise typer.Exit(1)
