"""The study's bookkeeping, with one in-process worker: settled points are never trained again, points whose
trial died without a retry are queued again, a study cannot be joined with other settings, lr scaling and
pruning reach the runs."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from optlab.errors import ConfigError
from optlab.sweep import run_sweep, run_worker, start_study, sweep_status
from optlab.sweep.study import MAX_RETRY, join, open_storage, outcome

FAST = {"heartbeat_interval": 1, "grace_period": 4}


def add_trial(study, spec, state, point, value=None, **user_attrs):
    """A trial as a worker elsewhere would have left it."""
    distributions = {p.name: CategoricalDistribution(list(p.values)) for p in spec.params}
    study.add_trial(
        create_trial(
            state=state, params=point, distributions=distributions, value=value, user_attrs=user_attrs
        )
    )


def test_status_counts_settled_points_and_gives_up_after_max_retry(grid_spec, storage_url):
    spec = grid_spec("batch_size=16,32,64")
    storage, name, _, _ = start_study(spec, "s", storage_url, **FAST)
    study, _ = join(storage, name)
    add_trial(study, spec, TrialState.COMPLETE, {"batch_size": 16}, 0.9)
    add_trial(study, spec, TrialState.PRUNED, {"batch_size": 16}, None, duplicate_of=0)
    for _ in range(MAX_RETRY + 1):
        add_trial(study, spec, TrialState.FAIL, {"batch_size": 32})
    add_trial(study, spec, TrialState.FAIL, {"batch_size": 64}, None, error="loss became nan")
    trials = study.get_trials()
    assert [outcome(t) for t in trials] == ["complete", "duplicate"] + ["crashed"] * (MAX_RETRY + 1) + [
        "error"
    ]
    status = sweep_status(trials, spec)
    assert status.settled == 2 and status.given_up == [{"batch_size": 32}] and status.finished


def test_settled_point_is_not_trained_again_and_crashed_point_is_requeued(grid_spec, storage_url, tmp_path):
    spec = grid_spec("batch_size=16,32", "lr=0.01")
    storage, name, _, _ = start_study(spec, "requeue", storage_url, **FAST)
    study, _ = join(storage, name)
    add_trial(study, spec, TrialState.COMPLETE, {"batch_size": 16, "lr": 0.01}, 0.5)  # settled elsewhere
    add_trial(
        study, spec, TrialState.FAIL, {"batch_size": 32, "lr": 0.01}
    )  # interrupted: no retry was queued
    study.enqueue_trial({"batch_size": 16, "lr": 0.01})  # a stray second copy of the settled point
    status = run_worker(storage_url, name, quiet=True, poll=0.1, **FAST)
    assert status.finished
    trials = optuna.load_study(study_name=name, storage=storage_url).get_trials()
    kinds = {t.number: outcome(t) for t in trials}
    assert kinds[2] == "duplicate" and trials[2].user_attrs["duplicate_of"] == 0
    assert not (tmp_path / "runs" / "sweeps" / name / "trial-0002").exists()  # nothing trained for it
    completed = [t for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(t.params["batch_size"] for t in completed) == [16, 32]
    assert sum(t.params["batch_size"] == 16 for t in completed) == 1


def test_joining_with_other_settings_is_refused(grid_spec, storage_url):
    start_study(grid_spec("batch_size=16,32"), "fixed", storage_url, **FAST)
    start_study(grid_spec("batch_size=16,32"), "fixed", storage_url, **FAST)  # same settings: joins
    with pytest.raises(ConfigError, match=r"differ in: base\.epochs"):
        start_study(grid_spec("batch_size=16,32", epochs=2), "fixed", storage_url, **FAST)
    with pytest.raises(ConfigError, match="no sweep study 'other'"):
        join(open_storage(storage_url, **FAST), "other")


def test_lr_scaling_reaches_the_runs(grid_spec, storage_url):
    spec = grid_spec("batch_size=16,64", "lr=0.01", lr_scaling="sqrt", reference_batch=16)
    result = run_sweep(spec, "scaled", storage_url, quiet=True, poll=0.1, **FAST)
    assert result.status.settled == 2
    for trial in optuna.load_study(study_name="scaled", storage=storage_url).get_trials():
        expected = 0.01 * math.sqrt(trial.params["batch_size"] / 16)
        assert trial.user_attrs["effective_lr"] == pytest.approx(expected)
        config = (Path(trial.user_attrs["run_dir"]) / "config.toml").read_text()
        assert f"lr = {trial.user_attrs['effective_lr']!r}" in config


def test_search_with_pruning_counts_trials(grid_spec, storage_url):
    spec = grid_spec("lr=1e-4:1e-1", "batch_size=32,64", epochs=3, search="tpe", trials=5, prune=True)
    result = run_sweep(spec, "tpe", storage_url, quiet=True, poll=0.1, **FAST)
    trials = optuna.load_study(study_name="tpe", storage=storage_url).get_trials()
    assert result.status.settled == 5 and len(trials) == 5
    assert all(1e-4 <= t.params["lr"] <= 1e-1 for t in trials)
    for trial in trials:  # each epoch's accuracy was reported for the pruner
        assert trial.intermediate_values and max(trial.intermediate_values) <= 3
        if trial.state == TrialState.PRUNED:
            assert len(trial.intermediate_values) < 3


def test_trial_folders_unique_per_study_and_storage_beside_the_database(grid_spec, tmp_path):
    """The same study name in two new databases (or one deleted and made again): new folders each time, so
    no trial meets another study's run folder ("already holds a run"); they live beside the SQLite file."""
    from optlab.sweep import trial_run_dir
    from optlab.train import RunIndex

    spec = grid_spec("batch_size=16")
    folders = []
    for name in ("one", "two", "one"):  # "one" twice: the database deleted and made again
        db = tmp_path / "elsewhere" / f"{name}.db"
        db.unlink(missing_ok=True)
        url = f"sqlite:///{db}"
        result = run_sweep(spec, "bars", url, quiet=True, **FAST)
        assert result.status.counts == {"complete": 1}
        study, _ = join(open_storage(url), "bars")
        folder = trial_run_dir(study, 0, url)
        assert folder.parent.parent == db.parent / "sweeps" and (folder / "final.pt").is_file()
        folders.append(folder)
    assert len(set(folders)) == 3
    rows = RunIndex(tmp_path / "elsewhere" / "index.sqlite").list()
    assert [row["study"] for row in rows] == ["bars"] * 3
    assert not (tmp_path / "runs").exists()  # nothing under the default runs root


def test_a_waiting_trial_is_popped_by_one_worker_only(tmp_path, monkeypatch):
    # Two workers (two storages on one SQLite file) pop the one WAITING trial at the same time. Optuna reads
    # WAITING and then writes RUNNING; the read is slowed so that both read before either writes. With
    # pysqlite's own transactions both then "popped" it and both ran it (CI: "trial-0008 already holds a
    # run"); with BEGIN IMMEDIATE the second waits for the first and reads RUNNING.
    import threading
    import time

    from optuna.storages._rdb import models

    url = f"sqlite:///{tmp_path / 'race.sqlite'}"
    storages = [open_storage(url), open_storage(url)]
    optuna.create_study(study_name="race", storage=storages[0]).enqueue_trial({"x": 1})
    studies = [optuna.load_study(study_name="race", storage=s) for s in storages]
    find = models.TrialModel.find_or_raise_by_id.__func__

    def slow_find(cls, trial_id, session, for_update=False):
        trial = find(cls, trial_id, session, for_update)
        time.sleep(0.3)  # both workers read the trial's state before either writes RUNNING
        return trial

    monkeypatch.setattr(models.TrialModel, "find_or_raise_by_id", classmethod(slow_find))
    popped = []
    threads = [threading.Thread(target=lambda s=s: popped.append(s._pop_waiting_trial_id())) for s in studies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(popped) == 2 and popped.count(None) == 1  # one worker got the trial, the other nothing
    assert [t.state for t in studies[0].get_trials()] == [TrialState.RUNNING]
