"""Start a sweep: create or join the study, then serve it with one in-process worker or K worker processes.

The K processes run the same entry point a worker on another machine runs (``python -m optlab.sweep``)
against the same storage; this process only watches the study and shows progress. Interrupting (Ctrl-C) stops
the workers; their unfinished trials are retried when the sweep is started again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from optlab.errors import ConfigError, OptlabError
from optlab.sweep import study as study_mod
from optlab.sweep.space import SweepSpec
from optlab.sweep.worker import POLL_SECONDS, Worker, set_threads


@dataclass
class SweepRun:
    study_name: str
    storage_url: str
    spec: SweepSpec
    status: study_mod.SweepStatus
    wall_time: float


def start_study(
    spec: SweepSpec | None,
    study_name: str | None,
    storage_url: str | None,
    *,
    heartbeat_interval: int = study_mod.DEFAULT_HEARTBEAT_INTERVAL,
    grace_period: int = study_mod.DEFAULT_GRACE_PERIOD,
) -> tuple[Any, str, SweepSpec, str]:
    """(storage, study name, spec, url): a new study for ``spec``, or the existing one
    (``spec=None`` continues ``study_name`` with its stored settings)."""
    url = storage_url or study_mod.default_storage_url()
    if spec is None and not study_name:
        raise ConfigError("nothing to sweep: give --grid NAME=V1,V2,... or --study NAME to continue one")
    # continuing a study (no spec) only reads: a wrong --storage must not leave a new empty database
    storage = study_mod.open_storage(
        url, heartbeat_interval=heartbeat_interval, grace_period=grace_period, create=spec is not None
    )
    if spec is None:
        _, spec = study_mod.join(storage, study_name)
    else:
        study_name = study_name or spec.default_study_name()
        study_mod.create_or_join(storage, study_name, spec)
    return storage, study_name, spec, url


def run_sweep(
    spec: SweepSpec | None,
    study_name: str | None = None,
    storage_url: str | None = None,
    *,
    workers: int = 1,
    heartbeat_interval: int = study_mod.DEFAULT_HEARTBEAT_INTERVAL,
    grace_period: int = study_mod.DEFAULT_GRACE_PERIOD,
    quiet: bool = False,
    poll: float = POLL_SECONDS,
    threads: int | None = None,
    announce: Any = None,
    on_progress: Callable[[study_mod.SweepStatus], None] | None = None,
) -> SweepRun:
    """Run (or continue, or help with) a sweep until every point is settled; returns where it ended.

    ``threads``: torch threads per worker; default: all cores for one worker, cores // workers for several.
    ``on_progress(status)`` is called as the sweep advances (e.g. by a caller that draws its own progress).
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"invalid value for --workers: {workers!r} (an integer >= 1)")
    if threads is None and workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
    storage, name, spec, url = start_study(
        spec, study_name, storage_url, heartbeat_interval=heartbeat_interval, grace_period=grace_period
    )
    if announce is not None:
        announce(name, url, spec)
    started = time.perf_counter()
    progress = _Progress(quiet, spec, on_progress)
    muted = quiet or progress.enabled  # workers print no lines under the bar
    with progress.bar:
        if workers == 1:
            set_threads(threads)
            status = Worker(storage, name, quiet=muted, poll=poll, on_trial=progress.update).run()
        else:
            command = [heartbeat_interval, grace_period, muted, poll, threads]
            status = _run_processes(storage, name, spec, url, workers, command, progress)
    return SweepRun(name, url, spec, status, time.perf_counter() - started)


def worker_command(
    url: str,
    name: str,
    index: int | None,
    heartbeat_interval: int,
    grace_period: int,
    quiet: bool,
    poll: float,
    threads: int | None = None,
) -> list[str]:
    command = [sys.executable, "-m", "optlab.sweep", "--study", name, "--storage", url]
    command += ["--heartbeat-interval", str(heartbeat_interval), "--grace-period", str(grace_period)]
    command += ["--poll", str(poll)]
    if index is not None:
        command += ["--worker-index", str(index)]
    if quiet:
        command.append("--quiet")
    if threads is not None:
        command += ["--threads", str(threads)]
    return command


def _run_processes(storage, name, spec, url, workers, options, progress):
    import optuna

    study = optuna.load_study(study_name=name, storage=storage)
    processes = [subprocess.Popen(worker_command(url, name, i, *options)) for i in range(workers)]
    try:
        while any(p.poll() is None for p in processes):
            progress.update(study)
            time.sleep(0.5)
    except BaseException:  # Ctrl-C, or this process failing: never leave workers behind
        for process in processes:  # each worker's trial ends FAIL (interrupted) and is run again next time
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        raise
    status = study_mod.sweep_status(study.get_trials(deepcopy=False), spec)
    progress.update(study)
    failed = [(i, p.returncode) for i, p in enumerate(processes) if p.returncode != 0]
    if failed and not status.finished:
        i, code = failed[0]
        raise OptlabError(f"worker {i} exited with code {code} (see its message above); {status.line()}")
    return status


class _Progress:
    """A rich bar over settled points (or trials), refreshed from the storage; off when not a TTY or quiet."""

    def __init__(
        self, quiet: bool, spec: SweepSpec, callback: Callable[[study_mod.SweepStatus], None] | None = None
    ):
        self.spec, self.callback = spec, callback
        self.enabled = not quiet and sys.stderr.isatty() and not os.environ.get("OPTLAB_NO_PROGRESS")
        self.bar: Any = contextlib.nullcontext()  # entered around the sweep, shown only when enabled
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[info]}"),
            )
            total = spec.grid_size() if spec.search == "grid" else spec.trials
            self.task = self.bar.add_task("sweep", total=total, info="")

    def update(self, study: Any) -> None:
        if not (self.enabled or self.callback):
            return
        status = study_mod.sweep_status(study.get_trials(deepcopy=False), self.spec)
        if self.callback is not None:
            self.callback(status)
        if self.enabled:
            running = status.counts["running"]
            self.bar.update(self.task, completed=status.settled, info=f"{running} running")
