"""Run experiments (independent ones in parallel processes) and write ``results.json`` from their files.

Layout of an output folder::

    DIR/results.json                 every claim: id, sentence, criterion, numbers, n, verdict, figures
    DIR/<ID>/seed-<k>/measurements.json   what run() returned, plus wall time, profile and seed
    DIR/<ID>/seed-<k>/*.png, *.csv   the experiment's figures and data

The verdicts are computed from the measurements *as read back from disk*, so results.json follows from the
files alone; the report then reads only results.json.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import traceback
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optlab
from optlab.experiments import lecture_table, registry
from optlab.experiments.framework import INCONCLUSIVE, SweepPlan, check_profile, write_json

__all__ = [
    "DEFAULT_SEEDS",
    "Estimate",
    "JobResult",
    "check_sweep_options",
    "collect",
    "estimate",
    "format_seconds",
    "run_lecture",
]

DEFAULT_SEEDS = {"smoke": 1, "quick": 3, "full": 5}
TABLE_TIMED_WITH = "B1"  # the lecture table's update timing belongs to B1 (time per update)
ProgressFn = Callable[[int, int, str], None]


@dataclass(frozen=True)
class JobResult:
    experiment_id: str
    seed: int
    wall_time_s: float
    error: str | None = None


def _seed_dir(out_dir: Path, experiment_id: str, seed: int) -> Path:
    return out_dir / experiment_id / f"seed-{seed}"


def run_job(
    experiment_id: str, profile: str, seed: int, out_dir: str, sweep: SweepPlan | None = None
) -> JobResult:
    """Run one experiment for one seed and write its measurements.json (runs in a worker process).

    With ``sweep``, a grid experiment reads its runs from the sweep :func:`run_lecture` ran before."""
    import torch

    # Workers run side by side: one thread each avoids oversubscribing the cores.
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    start = time.perf_counter()
    try:
        module = registry.load(experiment_id)
        seed_dir = _seed_dir(Path(out_dir), experiment_id, seed)
        seed_dir.mkdir(parents=True, exist_ok=True)
        if sweep is not None and hasattr(module, "run_grid"):
            measurements = module.run(profile, seed_dir, seed, sweep=sweep)
        else:
            measurements = module.run(profile, seed_dir, seed)
        wall = time.perf_counter() - start
        record = {
            "experiment": experiment_id,
            "profile": profile,
            "seed": seed,
            "wall_time_s": wall,
            "measurements": measurements,
        }
        write_json(seed_dir / "measurements.json", record)
        return JobResult(experiment_id, seed, wall)
    except Exception as error:  # one failed experiment must not take the others down; reported per claim
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        if os.environ.get("OPTLAB_DEBUG"):
            detail += "\n" + traceback.format_exc()
        return JobResult(experiment_id, seed, time.perf_counter() - start, detail)


def _finished(out_dir: Path, experiment_id: str, profile: str, seed: int) -> JobResult | None:
    """A job already done by an earlier run with the same profile (for ``resume``)."""
    path = _seed_dir(out_dir, experiment_id, seed) / "measurements.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if record.get("profile") != profile or record.get("seed") != seed:
        return None
    return JobResult(experiment_id, seed, float(record.get("wall_time_s", 0.0)))


def _cost(experiment_id: str, profile: str) -> float:
    """Rough seconds of one job (one seed) on the 2-core CPU this was written on (the module's COST)."""
    return float(getattr(registry.load(experiment_id), "COST", {}).get(profile, 1.0))


def seed_list(profile: str, experiment_id: str, n_seeds: int | None = None, first_seed: int = 0) -> list[int]:
    """The seeds one experiment runs: ``first_seed … first_seed + n − 1`` (n: ``n_seeds`` or the profile's
    default) for a seeded experiment; ``[first_seed]`` for a deterministic one (seeds change nothing)."""
    n = DEFAULT_SEEDS[profile] if n_seeds is None else n_seeds
    if not registry.load(experiment_id).SEEDED:
        return [first_seed]
    return list(range(first_seed, first_seed + n))


def _jobs(profile: str, ids: list[str], n_seeds: int, first_seed: int = 0) -> list[tuple[str, int]]:
    """(experiment, seed) pairs, longest first: the slowest experiment is not the one left running alone."""
    jobs = [
        (experiment_id, seed)
        for experiment_id in ids
        for seed in seed_list(profile, experiment_id, n_seeds, first_seed)
    ]
    return sorted(jobs, key=lambda job: -_cost(job[0], profile))


def _default_workers(profile: str) -> int:
    # smoke runs are seconds of work: starting a process (and importing torch in it) would cost more
    return 1 if profile == "smoke" else min(os.cpu_count() or 1, 4)


@dataclass(frozen=True)
class Estimate:
    """What a lecture run will do and roughly how long it takes (from the experiments' COST figures)."""

    jobs: int  # (experiment, seed) jobs still to run
    kept: int  # jobs finished by an earlier run and kept (--resume)
    workers: int
    wall_seconds: float  # the longest worker's share when jobs go longest first to the least-loaded worker
    per_experiment: dict[str, tuple[float, int]]  # id → (seconds of one job, jobs to run), longest first

    def line(self) -> str:
        text = f"{self.jobs} jobs on {self.workers} worker{'s' if self.workers != 1 else ''}"
        if self.kept:
            text += f" ({self.kept} kept from the last run)"
        if self.per_experiment:
            longest, (seconds, _) = next(iter(self.per_experiment.items()))
            text += f"; longest: {longest}, {format_seconds(seconds)} per job"
        return f"expected ≈ {format_seconds(self.wall_seconds)} ({text}; estimated on a 2-core CPU)"


def format_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def estimate(
    profile: str,
    out_dir: Path,
    *,
    only: str | None = None,
    seeds: int | None = None,
    workers: int | None = None,
    resume: bool = False,
    first_seed: int = 0,
) -> Estimate:
    """The expected wall time of :func:`run_lecture` with the same arguments (printed before it starts)."""
    profile = check_profile(profile)
    ids = registry.resolve(only)
    jobs = _jobs(profile, ids, DEFAULT_SEEDS[profile] if seeds is None else seeds, first_seed)
    pending = [j for j in jobs if not (resume and _finished(out_dir, j[0], profile, j[1]))]
    n_workers = min(workers or _default_workers(profile), max(len(pending), 1))
    loads = [0.0] * n_workers
    for experiment_id, _ in pending:  # the runner's order: longest first, to whichever worker is free
        loads[loads.index(min(loads))] += _cost(experiment_id, profile)
    counts = Counter(e for e, _ in pending)
    per_experiment = {e: (_cost(e, profile), n) for e, n in counts.items()}  # pending is longest first
    return Estimate(len(pending), len(jobs) - len(pending), n_workers, max(loads), per_experiment)


def check_sweep_options(sweep: bool, storage: str | None) -> None:
    """``--storage`` only with ``--sweep``; a bad URL or an unreachable server fails here, before any work."""
    if storage is not None and not sweep:
        raise ValueError("--storage is where --sweep keeps its studies: give --sweep too")
    if storage is not None:
        from optlab.sweep import open_storage

        open_storage(storage)


def run_lecture(
    profile: str,
    out_dir: Path,
    *,
    only: str | None = None,
    seeds: int | None = None,
    workers: int | None = None,
    resume: bool = False,
    progress: ProgressFn | None = None,
    sweep: bool = False,
    storage: str | None = None,
    first_seed: int = 0,
) -> dict[str, Any]:
    """Run the selected experiments and write ``out_dir/results.json``; return its content.

    ``seeds`` applies to experiments whose outcome depends on the seed (default per profile: smoke 1, quick 3,
    full 5), numbered ``first_seed …``; deterministic ones run once. ``workers`` processes run jobs side by
    side (default: 1 for smoke,
    else the CPU count, at most 4); 1 runs everything in this process.

    ``sweep``: grid experiments (those with ``run_grid``, e.g. B3) first train their whole grid as Optuna
    studies served by ``workers`` worker processes, in ``storage`` (an SQLAlchemy URL; default
    ``DIR/sweeps.sqlite``) — workers on other machines can join those studies through a shared URL
    (``optlab sweep --study NAME --storage URL``); an interrupted grid continues where it stopped.
    """
    profile = check_profile(profile)
    ids = registry.resolve(only)
    n_seeds = DEFAULT_SEEDS[profile] if seeds is None else seeds
    if n_seeds < 1:
        raise ValueError(f"--seeds must be ≥ 1, got {n_seeds}")
    if first_seed < 0:
        raise ValueError(f"--first-seed must be ≥ 0, got {first_seed}")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be ≥ 1, got {workers}")
    check_sweep_options(sweep, storage)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = _jobs(profile, ids, n_seeds, first_seed)
    started = time.perf_counter()
    results: list[JobResult] = []
    pending = []
    for experiment_id, seed in jobs:
        done = _finished(out_dir, experiment_id, profile, seed) if resume else None
        if done is not None:
            results.append(done)
        else:
            pending.append((experiment_id, seed))
    total = len(jobs)
    if progress:
        progress(len(results), total, "starting")
    default_workers = _default_workers(profile)
    plan = None
    if sweep:
        url = storage or f"sqlite:///{(out_dir / 'sweeps.sqlite').resolve()}"
        plan = SweepPlan(url, workers or default_workers, n_seeds, first_seed)
        failed = _run_grids(profile, plan, pending, progress, lambda: (len(results), total))
        results += [JobResult(e, s, 0.0, failed[e]) for e, s in pending if e in failed]
        pending = [(e, s) for e, s in pending if e not in failed]
    n_workers = min(workers or default_workers, max(len(pending), 1))
    if n_workers == 1:
        for experiment_id, seed in pending:
            if progress:
                progress(len(results), total, f"{experiment_id} seed {seed}")
            results.append(run_job(experiment_id, profile, seed, str(out_dir), plan))
            if progress:
                progress(len(results), total, f"{experiment_id} seed {seed} done")
    else:
        context = multiprocessing.get_context("spawn")  # fork after torch has threads can deadlock
        with ProcessPoolExecutor(max_workers=n_workers, mp_context=context) as pool:
            futures: dict[Future[JobResult], tuple[str, int]] = {
                pool.submit(run_job, experiment_id, profile, seed, str(out_dir), plan): (experiment_id, seed)
                for experiment_id, seed in pending
            }
            remaining = set(futures)
            while remaining:
                finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for future in finished:
                    experiment_id, seed = futures[future]
                    try:
                        results.append(future.result())
                    except Exception as error:  # the worker process itself died
                        results.append(JobResult(experiment_id, seed, 0.0, f"worker failed: {error!r}"))
                    if progress:
                        running = ", ".join(sorted({futures[f][0] for f in remaining}))
                        progress(len(results), total, f"{experiment_id} done; running {running or '-'}")
    if TABLE_TIMED_WITH in ids:
        # In this process, after every job: the all-cores timing must not share the cores with training.
        if progress:
            progress(len(results), total, "timing the lecture's table (1 thread, all cores)")
        lecture_table.write_timing(out_dir, profile)
    wall = time.perf_counter() - started
    return collect(out_dir, profile, ids, results, wall_time_s=wall, seeds=n_seeds, first_seed=first_seed)


def _run_grids(
    profile: str,
    plan: SweepPlan,
    pending: list[tuple[str, int]],
    progress: ProgressFn | None,
    done_total: Callable[[], tuple[int, int]],
) -> dict[str, str]:
    """Run the sweeps of the pending grid experiments; their errors by experiment id (those are not run)."""
    failed: dict[str, str] = {}
    for experiment_id in dict.fromkeys(e for e, _ in pending):
        module = registry.load(experiment_id)
        if not hasattr(module, "run_grid"):
            continue

        def report(label: str, status: Any) -> None:
            if progress:
                progress(*done_total(), f"{label}: {status.line()}")

        try:
            module.run_grid(profile, plan, on_progress=report)
        except Exception as error:  # reported for this experiment's claims; the others still run
            failed[experiment_id] = "".join(traceback.format_exception_only(type(error), error)).strip()
    return failed


def collect(
    out_dir: Path,
    profile: str,
    ids: list[str],
    jobs: list[JobResult],
    *,
    wall_time_s: float,
    seeds: int,
    first_seed: int = 0,
) -> dict[str, Any]:
    """Read every measurements.json back, compute the verdicts and write results.json."""
    experiments: list[dict[str, Any]] = []
    claims: list[dict[str, Any]] = []
    runs_by_id: dict[str, list[dict[str, Any]]] = {}
    for experiment_id in ids:
        module = registry.load(experiment_id)
        own = sorted((j for j in jobs if j.experiment_id == experiment_id), key=lambda j: j.seed)
        errors = [f"seed {j.seed}: {j.error}" for j in own if j.error]
        runs: list[dict[str, Any]] = []
        for job in own:
            if job.error is None:
                path = _seed_dir(out_dir, experiment_id, job.seed) / "measurements.json"
                runs.append(json.loads(path.read_text())["measurements"])
        runs_by_id[experiment_id] = runs
        experiments.append(
            {
                "id": experiment_id,
                "title": module.TITLE,
                "section": module.SECTION,
                "intro": module.INTRO,
                "seeded": bool(module.SEEDED),
                "seeds": [j.seed for j in own],
                "wall_time_s": sum(j.wall_time_s for j in own),
                "errors": errors,
                "module": module.__name__,
            }
        )
        verdicts = {}
        if runs and not errors:
            try:
                verdicts = {r.claim_id: r for r in module.verdict(runs)}
            except Exception as error:
                errors.append(f"verdict failed: {error!r}")
        first_seed = own[0].seed if own else 0
        figures_by_claim: dict[str, list[dict[str, str]]] = {}
        for figure in runs[0].get("figures", []) if runs else []:
            for claim_id in figure.get("claims", []):
                rel = f"{experiment_id}/seed-{first_seed}/{figure['file']}"
                figures_by_claim.setdefault(claim_id, []).append(
                    {"path": rel, "caption": figure.get("caption", "")}
                )
        for claim in module.CLAIMS:
            result = verdicts.get(claim.id)
            entry: dict[str, Any] = {
                "id": claim.id,
                "experiment": experiment_id,
                "section": claim.section,
                "title": claim.title or module.TITLE,
                "sentence": claim.sentence,
                "formulas": list(claim.formulas),
                "differs": claim.differs,
                "mechanism": claim.mechanism,
                "figures": figures_by_claim.get(claim.id, []),
            }
            if result is None:
                reason = "; ".join(errors) or "the experiment produced no verdict for this claim"
                entry.update(
                    criterion="",
                    numbers={},
                    n=len(runs),
                    verdict=INCONCLUSIVE,
                    checks={},
                    note=f"not decided: {reason}",
                )
            else:
                entry.update(
                    criterion=result.criterion,
                    numbers=result.numbers,
                    n=result.n,
                    verdict=result.outcome,
                    checks=result.checks,
                    note=result.note,
                )
            claims.append(entry)
    timing = None
    if TABLE_TIMED_WITH in ids:
        try:
            timing = json.loads((out_dir / lecture_table.FILE).read_text())
        except (OSError, ValueError):
            timing = None
    verdicts = {c["id"]: c["verdict"] for c in claims}
    table = lecture_table.build(timing, runs_by_id, verdicts) if set(ids) & {"B1", "B3", "B4"} else []
    results = {
        "optlab_version": optlab.__version__,
        "profile": profile,
        "seeds": seeds,
        "first_seed": first_seed,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_time_s": wall_time_s,
        "experiments": experiments,
        "claims": claims,
        "lecture_table": table,
    }
    write_json(out_dir / "results.json", results)
    return results
