"""Run experiments (independent ones in parallel processes) and write ``results.json`` from their files.

Layout of an output folder::

    DIR/results.json                 every claim: id, sentence, criterion, numbers, n, verdict, figures
    DIR/<ID>/seed-<k>/measurements.json   what run() returned, plus wall time, profile and seed (the one copy)
    DIR/<ID>/seed-<k>/*.png, *.csv   the experiment's figures and data

The verdicts are computed from the measurements *as read back from disk*, so results.json follows from the
files alone; the report then reads only results.json.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optlab
from optlab._io import write_json
from optlab.errors import ConfigError
from optlab.experiments import lecture_table, registry
from optlab.experiments.framework import INCONCLUSIVE, PROFILES, ClaimResult, Profile, SweepPlan

__all__ = [
    "DEFAULT_SEEDS",
    "Estimate",
    "JobResult",
    "LecturePlan",
    "collect",
    "estimate",
    "format_seconds",
    "plan_lecture",
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


@dataclass(frozen=True)
class LecturePlan:
    """One lecture run, checked and resolved once (:func:`plan_lecture`): what the CLI prints, estimates and
    hands to :func:`run_lecture`."""

    profile: Profile
    out_dir: Path
    ids: tuple[str, ...]  # experiments, in the lecture's order
    seeds: int  # seeds of each seeded experiment: first_seed … first_seed + seeds − 1
    first_seed: int
    workers: int  # processes: --workers, else the profile's default
    jobs: tuple[tuple[str, int], ...]  # every (experiment, seed), dearest first
    kept: tuple[JobResult, ...]  # jobs an earlier run of the same profile finished (resume)
    sweep: SweepPlan | None  # grid experiments train through Optuna studies (--sweep)

    @property
    def pending(self) -> list[tuple[str, int]]:
        """The jobs still to run, dearest first."""
        done = {(job.experiment_id, job.seed) for job in self.kept}
        return [job for job in self.jobs if job not in done]


def _seed_dir(out_dir: Path, experiment_id: str, seed: int) -> Path:
    return out_dir / experiment_id / f"seed-{seed}"


def run_job(
    experiment_id: str, profile: str, seed: int, out_dir: str, sweep: SweepPlan | None = None
) -> JobResult:
    """Run one experiment for one seed and write its measurements.json, the one file of its measurements
    (runs in a worker process).

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
    """Rough seconds of one job (one seed) on the 2-core CPU, from the experiment's profile table."""
    return float(registry.load(experiment_id).PROFILES[profile].seconds)


def seed_list(profile: str, experiment_id: str, n_seeds: int | None = None, first_seed: int = 0) -> list[int]:
    """The seeds one experiment runs: ``first_seed … first_seed + n − 1`` (n: ``n_seeds`` or the profile's
    default) for a seeded experiment; ``[first_seed]`` for a deterministic one (seeds change nothing)."""
    n = DEFAULT_SEEDS[profile] if n_seeds is None else n_seeds
    if not registry.load(experiment_id).SEEDED:
        return [first_seed]
    return list(range(first_seed, first_seed + n))


def _jobs(profile: str, ids: Sequence[str], n_seeds: int, first_seed: int = 0) -> list[tuple[str, int]]:
    """(experiment, seed) pairs, longest first: the slowest experiment is not the one left running alone."""
    jobs = [
        (experiment_id, seed)
        for experiment_id in ids
        for seed in seed_list(profile, experiment_id, n_seeds, first_seed)
    ]
    return sorted(jobs, key=lambda job: -_cost(job[0], profile))


def plan_lecture(
    profile: str,
    out_dir: Path,
    *,
    only: str | None = None,
    seeds: int | None = None,
    first_seed: int = 0,
    workers: int | None = None,
    resume: bool = False,
    sweep: bool = False,
    storage: str | None = None,
) -> LecturePlan:
    """Check the options of a lecture run and resolve them, once; any bad value is a
    :class:`~optlab.errors.ConfigError` whose message names it, raised before anything runs or is written.

    ``seeds`` applies to experiments whose outcome depends on the seed (default per profile: smoke 1, quick 3,
    full 5), numbered ``first_seed …``; deterministic ones run once. ``workers`` processes run jobs side by
    side (default: 1 for smoke, else the CPU count, at most 4). ``resume`` keeps the jobs an earlier run of
    the same profile finished in ``out_dir``. ``sweep``: grid experiments (those with ``run_grid``, e.g. B3)
    train their grid as Optuna studies in ``storage`` (an SQLAlchemy URL; default ``DIR/sweeps.sqlite``); a
    bad URL or an unreachable server fails here."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    ids = registry.resolve(only)
    n_seeds = DEFAULT_SEEDS[profile] if seeds is None else seeds
    if n_seeds < 1:
        raise ConfigError(f"--seeds must be ≥ 1, got {n_seeds}")
    if first_seed < 0:
        raise ConfigError(f"--first-seed must be ≥ 0, got {first_seed}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be ≥ 1, got {workers}")
    if storage is not None and not sweep:
        raise ConfigError("--storage is where --sweep keeps its studies: give --sweep too")
    # smoke runs are seconds of work: starting a process (and importing torch in it) would cost more
    n_workers = workers or (1 if profile == "smoke" else min(os.cpu_count() or 1, 4))
    grid = None
    if sweep:
        from optlab.sweep import open_storage

        url = storage or f"sqlite:///{(out_dir / 'sweeps.sqlite').resolve()}"
        if storage is not None:
            open_storage(storage)
        grid = SweepPlan(url, n_workers, n_seeds, first_seed)
    jobs = _jobs(profile, ids, n_seeds, first_seed)
    kept = [_finished(out_dir, e, profile, s) for e, s in jobs] if resume else []
    return LecturePlan(
        profile,  # type: ignore[arg-type]  # checked above
        out_dir,
        tuple(ids),
        n_seeds,
        first_seed,
        n_workers,
        tuple(jobs),
        tuple(job for job in kept if job is not None),
        grid,
    )


@dataclass(frozen=True)
class Estimate:
    """What a lecture run will do and roughly how long it takes (from the experiments' profile tables)."""

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


def estimate(plan: LecturePlan) -> Estimate:
    """The expected wall time of :func:`run_lecture` of this plan (printed before it starts)."""
    pending = plan.pending
    side_by_side, alone = _split_timed(pending)
    n_workers = min(plan.workers, max(len(side_by_side), 1))
    loads = [0.0] * n_workers
    for experiment_id, _ in side_by_side:  # the runner's order: longest first, to whichever worker is free
        loads[loads.index(min(loads))] += _cost(experiment_id, plan.profile)
    wall = max(loads) + sum(_cost(e, plan.profile) for e, _ in alone)
    counts = Counter(e for e, _ in pending)
    per_experiment = {e: (_cost(e, plan.profile), n) for e, n in counts.items()}  # pending is longest first
    return Estimate(len(pending), len(plan.kept), n_workers, wall, per_experiment)


def _split_timed(jobs: list[tuple[str, int]]) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(jobs that may share the cores, jobs of ``TIMED`` experiments): a timing taken while other jobs train
    is not a measurement, so those run alone, after the rest, in the runner's process."""
    timed = {e for e, _ in jobs if getattr(registry.load(e), "TIMED", False)}
    return [j for j in jobs if j[0] not in timed], [j for j in jobs if j[0] in timed]


def _exit_with_parent(parent: int) -> None:
    """In each worker: stop when the lecture process is gone. A killed parent (SIGTERM, SIGKILL; Ctrl-C
    reaches the whole process group anyway) would otherwise leave its workers training on, orphaned."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def run_lecture(plan: LecturePlan, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Run the plan's jobs and write ``plan.out_dir/results.json``; return its content.

    ``plan.workers`` processes run jobs side by side; 1 runs everything in this process. With
    ``plan.sweep``, grid experiments (those with ``run_grid``, e.g. B3) first train their whole grid as
    Optuna studies served by ``plan.workers`` worker processes; workers on other machines can join those
    studies through a shared URL (``optlab sweep --study NAME --storage URL``); an interrupted grid continues
    where it stopped.
    """
    profile, out_dir = plan.profile, plan.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results: list[JobResult] = list(plan.kept)
    pending = plan.pending
    total = len(plan.jobs)
    say = progress or (lambda done, total, what: None)
    say(len(results), total, "starting")
    if plan.sweep is not None:
        failed = _run_grids(profile, plan.sweep, pending, say, lambda: (len(results), total))
        results += [JobResult(e, s, 0.0, failed[e]) for e, s in pending if e in failed]
        pending = [(e, s) for e, s in pending if e not in failed]
    pending, alone = _split_timed(pending)
    n_workers = min(plan.workers, max(len(pending), 1))
    if n_workers == 1:
        for experiment_id, seed in pending:
            say(len(results), total, f"{experiment_id} seed {seed}")
            results.append(run_job(experiment_id, profile, seed, str(out_dir), plan.sweep))
            say(len(results), total, f"{experiment_id} seed {seed} done")
    else:
        context = multiprocessing.get_context("spawn")  # fork after torch has threads can deadlock
        with ProcessPoolExecutor(
            max_workers=n_workers, mp_context=context, initializer=_exit_with_parent, initargs=(os.getpid(),)
        ) as pool:
            futures: dict[Future[JobResult], tuple[str, int]] = {
                pool.submit(run_job, e, profile, s, str(out_dir), plan.sweep): (e, s) for e, s in pending
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
                    running = ", ".join(sorted({futures[f][0] for f in remaining}))
                    say(len(results), total, f"{experiment_id} done; running {running or '-'}")
    for experiment_id, seed in alone:
        say(len(results), total, f"{experiment_id} seed {seed} (timed: alone, all cores)")
        results.append(run_job(experiment_id, profile, seed, str(out_dir), plan.sweep))
    if TABLE_TIMED_WITH in plan.ids:
        # In this process, after every job: the all-cores timing must not share the cores with training.
        say(len(results), total, "timing the lecture's table (1 thread, all cores)")
        lecture_table.write_timing(out_dir, profile)
    wall = time.perf_counter() - started
    return collect(
        out_dir,
        profile,
        list(plan.ids),
        results,
        wall_time_s=wall,
        seeds=plan.seeds,
        first_seed=plan.first_seed,
    )


def _run_grids(
    profile: str,
    plan: SweepPlan,
    pending: list[tuple[str, int]],
    progress: ProgressFn,
    done_total: Callable[[], tuple[int, int]],
) -> dict[str, str]:
    """Run the sweeps of the pending grid experiments; their errors by experiment id (those are not run)."""
    failed: dict[str, str] = {}
    for experiment_id in dict.fromkeys(e for e, _ in pending):
        module = registry.load(experiment_id)
        if not hasattr(module, "run_grid"):
            continue

        def report(label: str, status: Any) -> None:
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
        reason = "; ".join(errors) or "the experiment produced no verdict for this claim"
        for claim in module.CLAIMS:
            result = verdicts.get(claim.id) or ClaimResult(
                claim.id, "", {}, len(runs), INCONCLUSIVE, f"not decided: {reason}"
            )
            claims.append(
                {
                    "id": claim.id,
                    "experiment": experiment_id,
                    "section": claim.section,
                    "title": claim.title or module.TITLE,
                    "sentence": claim.sentence,
                    "formulas": list(claim.formulas),
                    "differs": claim.differs,
                    "mechanism": claim.mechanism,
                    "figures": figures_by_claim.get(claim.id, []),
                    "criterion": result.criterion,
                    "numbers": result.numbers,
                    "n": result.n,
                    "verdict": result.outcome,
                    "checks": result.checks,
                    "note": result.note,
                }
            )
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
