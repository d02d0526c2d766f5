"""Several worker processes on one SQLite study: every grid point is trained exactly once, also when a worker
is killed with SIGKILL in the middle of a trial (its trial fails by heartbeat and is retried)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import optuna
import pytest

from optlab.sweep import run_sweep, run_worker, start_study
from optlab.sweep.launch import worker_command
from optlab.sweep.study import trial_point

HEARTBEAT, GRACE = 1, 4  # seconds: small so that a killed worker's trial is found dead quickly


def trials_of(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def completed_points(trials) -> list[tuple]:
    return [tuple(sorted(t.params.items())) for t in trials if t.state.name == "COMPLETE"]


def index_rows(tmp_path: Path, name: str, timeout: float = 5.0) -> list[sqlite3.Row]:
    with sqlite3.connect(tmp_path / "runs" / "index.sqlite", timeout=timeout) as db:
        db.row_factory = sqlite3.Row
        return db.execute(
            "SELECT * FROM runs WHERE description LIKE ?", (f"sweep {name} trial %",)
        ).fetchall()


@pytest.mark.slow
def test_two_worker_processes_finish_an_8_point_grid_once(tmp_path, storage_url, grid_spec):
    spec = grid_spec("batch_size=16,32,64,128", "lr=0.001,0.01")
    result = run_sweep(
        spec, "grid8", storage_url, workers=2, heartbeat_interval=HEARTBEAT, grace_period=GRACE, quiet=True,
        poll=0.2, threads=1,
    )  # fmt: skip
    assert result.status.finished and result.status.settled == 8
    trials = trials_of(storage_url, "grid8")
    done = completed_points(trials)
    assert len(done) == 8 and len(set(done)) == 8
    assert set(done) == {tuple(sorted(p.items())) for p in spec.points()}
    assert {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}  # PRUNED only for an untrained duplicate
    assert all(t.user_attrs.get("duplicate_of") is not None for t in trials if t.state.name == "PRUNED")
    assert len({t.user_attrs["pid"] for t in trials if t.state.name == "COMPLETE"}) == 2  # both worked
    for trial in trials:
        if trial.state.name == "COMPLETE":
            summary = json.loads((Path(trial.user_attrs["run_dir"]) / "summary.json").read_text())
            assert summary["status"] == "completed"
            assert summary["config"]["batch_size"] == trial.params["batch_size"]
            assert summary["final"]["val_acc"] == trial.value  # the objective is the run's final val acc
    rows = index_rows(tmp_path, "grid8")
    assert sorted(row["status"] for row in rows) == ["completed"] * 8
    numbers = {t.number for t in trials if t.state.name == "COMPLETE"}
    assert {int(row["description"].rsplit(" ", 1)[1]) for row in rows} == numbers

    # Re-running the sweep continues the same study: nothing is left, so nothing is trained again.
    again = run_sweep(
        spec, "grid8", storage_url, quiet=True, heartbeat_interval=HEARTBEAT, grace_period=GRACE
    )
    assert again.status.finished and len(trials_of(storage_url, "grid8")) == len(trials)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_worker_killed_mid_trial_is_retried_and_nothing_runs_twice(tmp_path, storage_url, grid_spec):
    spec = grid_spec("batch_size=8,16,32,64", "lr=0.001,0.01", epochs=3)
    # A grace period well above the heartbeat: on a loaded 2-core CI machine a live worker's heartbeat can lag
    # a few seconds, and a false "dead" would make a second FAIL. Workers speak (not quiet), so a failure
    # shows what each of them did.
    grace = 8 * GRACE  # 32 s: CI once saw a live worker 12 s late under heavy load
    start_study(spec, "kill8", storage_url, heartbeat_interval=HEARTBEAT, grace_period=grace)
    command = worker_command(storage_url, "kill8", None, HEARTBEAT, grace, False, 0.2, 1)
    workers = [subprocess.Popen(command) for _ in range(2)]
    try:
        victim = None
        deadline = time.monotonic() + 90
        while victim is None and time.monotonic() < deadline:
            for trial in trials_of(storage_url, "kill8"):
                if trial.state.name != "RUNNING" or not trial.user_attrs.get("run_dir"):
                    continue  # not training (yet)
                if not (tmp_path / "runs" / "index.sqlite").exists():
                    continue
                # Freeze the worker, then make sure its training run is unfinished: a kill now is mid-trial.
                os.kill(trial.user_attrs["pid"], signal.SIGSTOP)
                try:
                    rows = index_rows(tmp_path, "kill8", timeout=0.2)
                except sqlite3.OperationalError:
                    # Frozen while it held the index's write lock: waiting for the lock would stall it past
                    # its heartbeat's grace period (a false "dead"). Let it go and look again.
                    rows = []
                started = [r for r in rows if r["path"] == trial.user_attrs["run_dir"]]
                if started and not (Path(trial.user_attrs["run_dir"]) / "summary.json").exists():
                    victim = trial
                    os.kill(trial.user_attrs["pid"], signal.SIGKILL)
                    break
                os.kill(trial.user_attrs["pid"], signal.SIGCONT)
            time.sleep(0.05)
        assert victim is not None, "no trial was seen training within 90 s"
        killed = next(w for w in workers if w.pid == victim.user_attrs["pid"])
        killed.wait()
        # Restart a worker in place of the killed one; both serve the study until it is settled.
        workers.append(subprocess.Popen(command))
        for worker in workers:
            if worker is not killed:
                assert worker.wait(timeout=120) == 0
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()

    trials = trials_of(storage_url, "kill8")
    by_number = {t.number: t for t in trials}
    assert by_number[victim.number].state.name == "FAIL"  # failed by the heartbeat check, not left RUNNING
    done = completed_points(trials)
    assert len(done) == 8 and len(set(done)) == 8  # exactly 8 completed, none duplicated
    victim_point = tuple(sorted(trial_point(victim).items()))
    retry = next(
        t for t in trials if t.state.name == "COMPLETE" and tuple(sorted(t.params.items())) == victim_point
    )
    # The killed point was run again after the kill and finished: either by the heartbeat's retry of the
    # killed trial, or by the grid handing the unfinished point out anew, whichever a worker reached first.
    assert retry.number > victim.number
    assert victim.number in retry.system_attrs.get("retry_history", [victim.number])
    assert sum(t.state.name == "FAIL" for t in trials) == 1
    # The run index: 8 completed runs and the killed one, still marked running by a dead process.
    rows = index_rows(tmp_path, "kill8")
    assert sorted(row["status"] for row in rows) == ["completed"] * 8 + ["running"]

    # One more worker after the end finds nothing to do.
    status = run_worker(storage_url, "kill8", heartbeat_interval=HEARTBEAT, grace_period=grace, quiet=True)
    assert status.finished and len(trials_of(storage_url, "kill8")) == len(trials)


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_worker_stalled_past_the_grace_period_carries_on(tmp_path, storage_url, grid_spec):
    """A live worker frozen longer than --grace-period has its trial failed by the other worker; when it
    wakes, Optuna refuses its result ("Cannot tell a FAIL trial"): it says so, and goes on to the next."""
    spec = grid_spec("batch_size=8,16", "lr=0.001,0.01", epochs=30)
    start_study(spec, "stall", storage_url, heartbeat_interval=HEARTBEAT, grace_period=GRACE)
    command = worker_command(storage_url, "stall", None, HEARTBEAT, GRACE, False, 0.2, 1)
    workers = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        stalled = None
        deadline = time.monotonic() + 90
        while stalled is None and time.monotonic() < deadline:
            running = [t for t in trials_of(storage_url, "stall") if t.state.name == "RUNNING"]
            stalled = next((t for t in running if t.user_attrs.get("run_dir")), None)
            time.sleep(0.05)
        assert stalled is not None, "no trial was seen training within 90 s"
        os.kill(stalled.user_attrs["pid"], signal.SIGSTOP)
        time.sleep(GRACE + 3)
        os.kill(stalled.user_attrs["pid"], signal.SIGCONT)
        errors = {w.pid: w.communicate(timeout=120)[1] for w in workers}
        assert [w.returncode for w in workers] == [0, 0], errors
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert f"trial {stalled.number}: another worker declared it dead" in errors[stalled.user_attrs["pid"]]
    trials = trials_of(storage_url, "stall")
    assert [t.number for t in trials if t.state.name == "FAIL"] == [stalled.number]
    done = completed_points(trials)
    assert len(done) == 4 and len(set(done)) == 4
