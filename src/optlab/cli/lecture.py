"""``optlab lecture``: run the lecture's experiments, decide each claim from the numbers, write the HTML "
"report.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from optlab.cli._device import DEFAULT_DEVICE, DEVICE_HELP
from optlab.errors import ConfigError

if TYPE_CHECKING:
    from optlab.experiments.runner import LecturePlan


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
            help="With --sweep: SQLAlchemy URL of the studies; other machines join with "
            "`optlab sweep --study NAME --storage URL` (the study names are printed at the start). Trial "
            "folders go beside an SQLite file, else under --out.",
            show_default="sqlite:///OUT/sweeps.sqlite",
        ),
        device: str = typer.Option(
            DEFAULT_DEVICE,
            "--device",
            help=DEVICE_HELP + " cpu hides the GPUs from the lecture's processes; cuda:N shows only GPU N.",
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Print what would run and its expected runtime, then stop."
        ),
    ) -> None:
        """Run the lecture's claims as experiments. Output: --out DIR (results.json, index.html; with --sweep
        also sweeps.sqlite, the trial folders in sweeps/ and their index.sqlite)."""
        from optlab.experiments import runner
        from optlab.report import render

        plan = runner.plan_lecture(profile, out, only=only, seeds=seeds, first_seed=first_seed,
                                   workers=workers, resume=resume, sweep=sweep, storage=storage)  # fmt: skip
        _use_device(device)
        if sweep and storage is not None and not storage.startswith("sqlite:"):
            os.environ["OPTLAB_RUNS"] = str(out.resolve())  # a server's trial folders: under --out too
        expected = runner.estimate(plan)
        studies = _sweep_lines(plan) if plan.sweep is not None else []
        if dry_run:
            print(f"optlab lecture: profile {profile}, experiments {', '.join(plan.ids)}")
            for experiment_id, (seconds, n) in expected.per_experiment.items():
                print(f"  {experiment_id:<4} {runner.format_seconds(seconds):>8} × {n}")
            print(expected.line())
            for line in studies:
                print(line)
            return
        if not quiet:
            print(f"optlab lecture: profile {profile}, experiments {', '.join(plan.ids)}", file=sys.stderr)
            print(expected.line(), file=sys.stderr)
        for line in studies if not quiet else []:
            print(line, file=sys.stderr)
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

                results = runner.run_lecture(plan, progress=progress)
        else:
            results = runner.run_lecture(plan)
        page = render(out)
        wall = time.perf_counter() - started
        width = max(len(c["id"]) for c in results["claims"])
        for claim in results["claims"]:
            print(f"{claim['id']:<{width}}  {claim['verdict']:<15} {claim['title']}")
        failed = [e["id"] for e in results["experiments"] if e["errors"]]
        print(f"report: {page}  ({wall:.0f} s)")
        for line in studies:
            print(line)
        if failed:
            for experiment in results["experiments"]:
                for error in experiment["errors"]:
                    print(f"error: experiment {experiment['id']}: {error.splitlines()[0]}", file=sys.stderr)
            total = len(results["experiments"])
            print(f"error: {len(failed)} of {total} experiments failed: {', '.join(failed)}", file=sys.stderr)
            raise typer.Exit(1)


def _use_device(device: str) -> None:
    """``--device`` for the lecture's processes, through CUDA_VISIBLE_DEVICES (read when CUDA starts, and
    inherited by worker processes): the experiments keep their own rule, CUDA when visible, else CPU."""
    from optlab.cli._device import resolve

    if device in ("auto", "cuda"):
        resolve(device)  # cuda without CUDA: one line, exit 2
        return
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        return
    if not device.startswith("cuda:") or not device[5:].isdigit():
        raise ConfigError(f"invalid value for --device: {device!r} (use auto, cpu, cuda or cuda:N)")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [part for part in visible.split(",") if part] if visible else None
    index = int(device[5:])
    if ids is not None and index >= len(ids):
        raise ConfigError(f"invalid value for --device: {device!r} (CUDA_VISIBLE_DEVICES shows {len(ids)})")
    os.environ["CUDA_VISIBLE_DEVICES"] = ids[index] if ids is not None else str(index)
    resolve("cuda")  # GPU N absent: no GPU is visible now, and this says so


def _sweep_lines(plan: LecturePlan) -> list[str]:
    """Where --sweep keeps its studies and trials, and the study names another machine needs to join."""
    from optlab.experiments import registry

    assert plan.sweep is not None  # called for --sweep only
    url = plan.sweep.storage_url
    lines = [f"sweep storage: {url}"]
    for experiment_id in plan.ids:
        module = registry.load(experiment_id)
        if not (hasattr(module, "sweep_specs") and hasattr(module, "study_name")):
            continue
        for name, spec in module.sweep_specs(plan.profile, plan.sweep.seed_list).items():
            study = module.study_name(plan.profile, name, spec)
            lines.append(f"  study {study}: join from another machine with "
                         f"`optlab sweep --study {study} --storage URL`")  # fmt: skip
    root = url[len("sqlite:///") :] if url.startswith("sqlite:///") else None
    trials = Path(root).resolve().parent / "sweeps" if root else plan.out_dir.resolve() / "sweeps"
    lines.append(
        f"  trial folders: {trials}/STUDY-ID/trial-NNNN (indexed in {trials.parent / 'index.sqlite'})"
    )
    return lines
