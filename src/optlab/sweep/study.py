"""The study in Optuna storage: opening it, creating or joining it, and reading where the sweep stands.

Storage is any SQLAlchemy URL Optuna's ``RDBStorage`` accepts — SQLite under the runs root by default
(``sqlite:///runs/sweeps.sqlite``), PostgreSQL or MySQL for workers on several machines. Heartbeats are on:
a worker records one every ``heartbeat_interval`` seconds while it runs a trial; a RUNNING trial without one
for ``grace_period`` seconds is set to FAIL by the next worker that looks (``fail_stale_trials``) and
re-queued as a WAITING copy with the same parameters (``RetryHeartbeatStaleTrialCallback``), which some
worker then pops. Every worker classifies the trials the same way (:func:`outcome`) and derives from them
which points are done (:func:`sweep_status`).
"""

from __future__ import annotations

import logging
import time
import uuid
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optlab.errors import ConfigError, OptlabError
from optlab.sweep.space import SweepSpec, point_key
from optlab.train import runs_root

SPEC_ATTR = "optlab_sweep"
UID_ATTR = "optlab_uid"  # random id given at creation: a study re-made under an old name gets new folders
STORAGE_NAME = "sweeps.sqlite"
MAX_RETRY = 3  # a point whose trial dies this many times more is given up (e.g. it is killed for memory)
DEFAULT_HEARTBEAT_INTERVAL = 10  # seconds (Optuna takes whole seconds)
DEFAULT_GRACE_PERIOD = 30

# outcome of a trial → does it settle its point?
SETTLED = ("complete", "pruned", "error")


def quiet_optuna() -> None:
    """Optuna logs each trial at INFO, a trial that returned NaN (a diverged run) at WARNING, and warns that
    heartbeats are experimental; optlab prints its own line for each of these."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    logging.getLogger("optuna").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message=".*heartbeat.*")


def default_storage_url() -> str:
    return f"sqlite:///{(runs_root() / STORAGE_NAME).resolve()}"


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` URL; None for a server URL."""
    return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None


def storage_root(url: str | None) -> Path:
    """Where a storage's trial folders and their runs index live: beside an SQLite file (so
    ``optlab lecture --sweep`` keeps its trials under ``--out``), else (a server) under the runs root."""
    path = sqlite_path(url or default_storage_url())
    return path.resolve().parent if path is not None else runs_root()


def sweep_dir(study: Any, url: str | None) -> Path:
    """``<storage root>/sweeps/<study>-<uid>``: the folder of one study's trials and report, unique per study
    *and* storage (a study made again under the same name, in a new or recreated database, gets a new uid)."""
    uid = study.user_attrs.get(UID_ATTR)
    name = f"{study.study_name}-{uid}" if uid else study.study_name  # studies made before uids keep theirs
    return storage_root(url) / "sweeps" / name


def open_storage(
    url: str | None = None,
    *,
    heartbeat_interval: int = DEFAULT_HEARTBEAT_INTERVAL,
    grace_period: int = DEFAULT_GRACE_PERIOD,
    create: bool = True,
) -> Any:
    """An ``optuna.storages.RDBStorage`` with heartbeats and retries of dead trials; bad URL → ConfigError.

    ``create=False`` (readers such as ``optlab sweep report``): a missing SQLite file is a ConfigError naming
    it, and nothing is created."""
    try:
        import optuna
        import sqlalchemy.exc
    except ImportError:
        raise OptlabError("sweeps need Optuna, which is not installed: pip install 'optlab[sweep]'") from None

    quiet_optuna()
    url = url or default_storage_url()
    if not create and (path := sqlite_path(url)) is not None and not path.is_file():
        raise ConfigError(f"no sweep storage at {url} (no such file; give --storage URL of the sweep)")
    for name, value in (("--heartbeat-interval", heartbeat_interval), ("--grace-period", grace_period)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"invalid value for {name}: {value!r} (whole seconds >= 1)")
    if grace_period <= heartbeat_interval:
        raise ConfigError(
            f"invalid value for --grace-period: {grace_period} (must exceed --heartbeat-interval "
            f"{heartbeat_interval}, or live trials would be failed)"
        )
    engine_kwargs: dict[str, Any] = {}
    if (path := sqlite_path(url)) is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OptlabError(f"cannot create the folder of sweep storage {url}: {error.strerror}") from None
        # Several processes write one SQLite file: wait for the lock instead of failing at once.
        engine_kwargs = {"connect_args": {"timeout": 60}}
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
    callback_arg = "heartbeat_stale_trial_callback"
    if retry is None:  # Optuna < 4.x names it RetryFailedTrialCallback / failed_trial_callback
        retry, callback_arg = optuna.storages.RetryFailedTrialCallback, "failed_trial_callback"
    try:
        storage = optuna.storages.RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            **{callback_arg: retry(max_retry=MAX_RETRY)},
        )
        if sqlite_path(url) is not None:
            begin_immediate(storage.engine)
        return storage
    except (ImportError, ValueError, sqlalchemy.exc.ArgumentError) as error:
        # unknown dialect, missing driver, malformed URL: the user's input, not a failed run
        raise ConfigError(f"invalid value for --storage: {url!r} ({error})") from None
    except Exception as error:  # sqlalchemy.exc.OperationalError & co: unreachable server, bad credentials
        raise OptlabError(f"cannot open sweep storage {url!r}: {str(error).splitlines()[0]}") from None


def begin_immediate(engine: Any) -> None:
    """Make every transaction on the SQLite ``engine`` begin IMMEDIATE (SQLAlchemy's recipe for pysqlite).

    Optuna takes a trial from the queue (a retry of a dead worker's trial) by reading that it is WAITING and
    then writing RUNNING, under SELECT … FOR UPDATE, which SQLite ignores; and pysqlite begins a transaction
    only at the first write. So two workers could both read WAITING and both run the trial, the second
    finding "trial-NNNN already holds a run" and its failure overwriting the first's result (seen in this
    project's CI; the race Optuna PR 1014 closed with FOR UPDATE on other databases). BEGIN IMMEDIATE takes
    the write lock before the read, so the read and the write are one step. Pooled connections are dropped
    so that every connection gets it."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" below emits the BEGIN

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()


def make_sampler(spec: SweepSpec, worker_index: int | None = 0) -> Any:
    """GridSampler over the listed values, or TPE. Every worker must shuffle the grid identically (same seed),
    because GridSampler maps its grid ids to points by that shuffle."""
    import optuna

    if spec.search == "grid":
        return optuna.samplers.GridSampler(
            {p.name: list(p.values or ()) for p in spec.params}, seed=spec.seed
        )
    # Workers must not draw the same "random" start-up points: each local worker gets its own seed, a worker
    # joining from elsewhere (worker_index None) an unseeded one. constant_liar keeps parallel TPE workers
    # from all proposing the point next to the current best (Optuna's advice for distributed TPE).
    seed = None if worker_index is None else spec.seed + worker_index
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def make_pruner(spec: SweepSpec) -> Any:
    """With --prune: stop a trial whose accuracy after an epoch is below the median of earlier trials' at the
    same epoch (Optuna's MedianPruner), once 4 trials have finished (too few medians are noise)."""
    import optuna

    if spec.prune:
        return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0)
    return optuna.pruners.NopPruner()


def create_or_join(storage: Any, name: str, spec: SweepSpec, worker_index: int | None = 0) -> Any:
    """Create study ``name`` holding ``spec``, or join it if it exists with the same spec (else ConfigError).

    Creation is atomic in the storage (unique study name), so when several workers start at once exactly one
    creates it and writes the spec; the others wait for the spec to appear.
    """
    import optuna

    try:
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            direction="maximize",
            sampler=make_sampler(spec, worker_index),
            pruner=make_pruner(spec),
        )
    except optuna.exceptions.DuplicatedStudyError:
        study, stored = join(storage, name, worker_index)
        if stored.to_dict() != spec.to_dict():
            raise ConfigError(
                f"study {name!r} exists with other settings (they differ in: "
                f"{', '.join(spec.differences(stored))}); "
                "continue it with `optlab sweep --study NAME` alone, or pick another --study"
            ) from None
        return study
    study.set_user_attr(UID_ATTR, uuid.uuid4().hex[:8])  # before the spec: joiners wait for the spec
    study.set_user_attr(SPEC_ATTR, spec.to_dict())
    return study


def join(storage: Any, name: str, worker_index: int | None = 0, wait: float = 30.0) -> tuple[Any, SweepSpec]:
    """Load an existing study and its spec; unknown name → ConfigError naming the studies there are."""
    import optuna

    try:
        summaries = optuna.study.get_all_study_summaries(storage, include_best_trial=False)
    except Exception as error:
        raise OptlabError(f"cannot read sweep storage: {str(error).splitlines()[0]}") from None
    names = [s.study_name for s in summaries]
    if name not in names:
        known = ", ".join(names) if names else "none"
        url = getattr(getattr(storage, "engine", None), "url", None)
        where = f" {url.render_as_string(hide_password=True)}" if url is not None else ""
        raise ConfigError(f"no sweep study {name!r} in storage{where} (studies there: {known})")
    deadline = time.monotonic() + wait
    while True:
        attrs = next(s for s in optuna.study.get_all_study_summaries(storage, False) if s.study_name == name)
        if SPEC_ATTR in attrs.user_attrs:
            spec = SweepSpec.from_dict(attrs.user_attrs[SPEC_ATTR])
            break
        if time.monotonic() > deadline:  # created by something other than optlab, or its creator died
            raise ConfigError(f"study {name!r} holds no optlab sweep settings (was it made by optlab sweep?)")
        time.sleep(0.2)
    study = optuna.load_study(
        study_name=name, storage=storage, sampler=make_sampler(spec, worker_index), pruner=make_pruner(spec)
    )
    return study, spec


# -- reading the trials ------------------------------------------------------------------------------------
def trial_point(trial: Any) -> dict[str, Any] | None:
    """The swept parameters of a trial (an enqueued WAITING trial has them as ``fixed_params``)."""
    params = trial.params or trial.system_attrs.get("fixed_params")
    return dict(params) if params else None


def outcome(trial: Any) -> str:
    """``complete``; ``pruned`` (by the pruner); ``duplicate`` (its point was already taken, nothing trained);
    ``error`` (training failed for a reason that would repeat: NaN loss, bad hyperparameter);
    ``crashed`` (its worker died or was interrupted: retried); ``running``; ``waiting``."""
    state = trial.state.name
    if state == "COMPLETE":
        return "complete"
    if state == "PRUNED":
        return "duplicate" if trial.user_attrs.get("duplicate_of") is not None else "pruned"
    if state == "FAIL":
        return "error" if trial.user_attrs.get("error") else "crashed"
    return state.lower()


@dataclass
class SweepStatus:
    """Where a sweep stands, derived from the trials alone (every worker computes the same)."""

    total: int  # grid points, or trials wanted
    settled: int  # points (grid) or trials (search) with a result
    counts: Counter = field(default_factory=Counter)  # trials by outcome
    todo: list[dict[str, Any]] = field(default_factory=list)  # grid points nobody works on, not settled
    untried: list[dict[str, Any]] = field(default_factory=list)  # of those, points without any trial yet
    given_up: list[dict[str, Any]] = field(default_factory=list)  # points whose trial died > MAX_RETRY times

    @property
    def finished(self) -> bool:
        return self.settled + len(self.given_up) >= self.total

    def line(self) -> str:
        parts = [f"{self.settled}/{self.total} settled"]
        parts += [f"{n} {name}" for name, n in sorted(self.counts.items())]
        if self.given_up:
            parts.append(f"{len(self.given_up)} given up")
        return ", ".join(parts)


def sweep_status(trials: list[Any], spec: SweepSpec) -> SweepStatus:
    counts = Counter(outcome(t) for t in trials)
    if spec.search == "tpe":
        settled = sum(counts[name] for name in SETTLED)
        return SweepStatus(spec.trials or 0, settled, counts)
    by_point: dict[str, list[str]] = {}
    for trial in trials:
        point = trial_point(trial)
        if point is not None:
            by_point.setdefault(point_key(point), []).append(outcome(trial))
    status = SweepStatus(spec.grid_size(), 0, counts)
    for point in spec.points():
        outcomes = by_point.get(point_key(point), [])
        if any(o in SETTLED for o in outcomes):
            status.settled += 1
        elif outcomes.count("crashed") > MAX_RETRY:
            status.given_up.append(point)
        elif "running" not in outcomes and "waiting" not in outcomes:
            status.todo.append(point)
            if not outcomes:
                status.untried.append(point)
    return status
