"""The newcomer's path (issue 13), one test per point, run as a user runs the commands: real subprocesses in
an empty folder, with the default runs root ``./runs``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ABC = [
    "--dataset",
    "ordered-abc",
    "--model",
    "mlp",
    "--batch-size",
    "32",
]  # 300 points: 10 updates per epoch


@pytest.fixture
def optlab(tmp_path: Path):
    env = {**os.environ, "OPTLAB_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    env.update(
        {"OPTLAB_NO_PROGRESS": "1", "COLUMNS": "80"}
    )  # an 80-column terminal width: tables must not care
    for key in ("OPTLAB_RUNS", "OPTLAB_DEBUG"):
        env.pop(key, None)
    work = tmp_path / "work"
    work.mkdir()

    def run(*args: str, rc: int | None = 0, columns: int = 80) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "optlab", *args],
            cwd=work,
            env={**env, "COLUMNS": str(columns)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if rc is not None:
            assert proc.returncode == rc, proc.stdout + proc.stderr
        return proc

    run.work = work
    return run


def _config(run_dir: Path) -> dict:
    import tomllib

    return tomllib.loads((run_dir / "config.toml").read_text())


@pytest.mark.slow
def test_defaults_that_train_lr_from_the_registry_and_max_steps(optlab):
    # 1. no --lr: SGD trains at its registry lr (what `optlab list optimizers` shows), not Adam's 1e-3
    listing = optlab("list", "optimizers").stdout
    assert re.search(r"^sgd\s+SGD\s+lr=0\.1\b", listing, re.MULTILINE)
    optlab("train", *ABC, "--optimizer", "sgd", "--epochs", "1", "--run-dir", "sgd", "-q")
    assert _config(optlab.work / "sgd")["lr"] == 0.1
    # 2. --max-steps alone trains that many updates, past the default 10 epochs (100 updates here)
    done = optlab("train", *ABC, "--max-steps", "150", "--run-dir", "long", "-q").stdout
    assert "done: long  150 updates" in done and "(--max-steps 150)" in done
    summary = json.loads((optlab.work / "long" / "summary.json").read_text())
    assert summary["steps"] == 150 and summary["stopped_by"] == "max_steps" and summary["epochs"] == 15
    # both given: the first reached stops, and the summary says which
    done = optlab("train", *ABC, "--epochs", "2", "--max-steps", "100", "--run-dir", "both", "-q").stdout
    assert "20 updates" in done and "(2 epochs reached before --max-steps 100)" in done
    done = optlab("train", *ABC, "--epochs", "50", "--max-steps", "20", "--run-dir", "both2", "-q").stdout
    assert "20 updates" in done and "(--max-steps 20 reached before --epochs 50)" in done


@pytest.mark.slow
def test_help_tells_flags_defaults_units_and_where_to_look(optlab):
    out = optlab("train", "--help", columns=250).stdout  # wide: each option's help on one line
    assert "<bool>" not in out  # flags are flags, not values
    assert "--log-steps" in out and "--no-log-steps" in out
    for default in (
        "[default: mnist1d]",
        "[default: mlp]",
        "[default: adam]",
        "[default: 128]",
        "[default: auto]",
    ):
        assert default in out
    assert "optlab list optimizers" in out and "optlab.data.names()" not in out
    assert "in updates" in out  # a unit
    assert "$OPTLAB_RUNS" in out  # where it writes
    hp = optlab("train", *ABC, "--optimizer", "lars", "--hp", "trust=0.1", rc=2).stderr.strip().splitlines()
    assert len(hp) == 1 and "trust_coefficient=0.001" in hp[0] and "momentum=0.9" in hp[0]
    lecture = optlab("lecture", "--help", columns=250).stdout
    assert "--device" in lecture and "[default: auto]" in lecture


def test_tables_are_never_cut_without_a_terminal(optlab):
    out = optlab("list", "optimizers").stdout  # stdout is a pipe here, as in `| cat`
    assert "…" not in out
    from optlab import optim

    for name in optim.names():  # every default of every optimizer, every digit, on its own line
        defaults = ", ".join(f"{k}={v}" for k, v in optim.info(name).defaults.items())
        assert defaults in out, defaults
    assert max(len(line) for line in out.splitlines()) > 80


@pytest.mark.slow
def test_sweep_trials_readable_unique_and_failures_not_success(optlab):
    grid = ["sweep", *ABC, "--grid", "batch_size=16,32", "--epochs", "1", "--study", "bars", "-q"]
    first = optlab(*grid, "--storage", "sqlite:///one.db").stdout
    assert "study 'bars' in sqlite:///" in first and "one.db" in first  # what another machine needs
    # the same study name in a new database: new trial folders, no clash with the first study's
    optlab(*grid, "--storage", "sqlite:///two.db")
    folders = sorted(p.name for p in (optlab.work / "sweeps").iterdir())
    assert len(folders) == 2 and all(name.startswith("bars-") for name in folders)
    listing = optlab("runs", "list", "--root", ".").stdout.splitlines()
    header = listing[0].split()
    assert {"study", "val_acc", "test_acc"} <= set(header) and "final_acc" not in header
    study_column = header.index("study")
    assert {line.split()[study_column] for line in listing[1:]} == {"bars"}
    test_column = header.index("test_acc")  # the trials' test accuracy too, beside their val_acc objective
    assert all(float(line.split()[test_column]) > 0 for line in listing[1:])
    # a bare trial name of two studies is ambiguous: refuse rather than pick the newest
    err = optlab("runs", "show", "trial-0000", "--root", ".", rc=2).stderr
    assert "ambiguous" in err and "give the id" in err
    assert "(sweep study bars)" in optlab("runs", "show", "1", "--root", ".").stdout
    # every trial fails (NaN loss): the sweep exits 1 and says how many
    failed = optlab(
        "sweep", *ABC, "--optimizer", "sgd", "--grid", "lr=1e9,1e10", "--epochs", "2", "--storage", "sqlite:///f.db",
        "-q", rc=1,
    )  # fmt: skip
    assert "error: 2 of 2 trials failed" in failed.stderr
    # a read-only report elsewhere creates no storage and names the one it looked for
    report = optlab("sweep", "report", "bars", rc=2)
    assert "no sweep storage at sqlite:///" in report.stderr and "runs/sweeps.sqlite" in report.stderr
    assert not (optlab.work / "runs" / "sweeps.sqlite").exists()


@pytest.mark.slow
def test_a_run_that_cannot_start_leaves_no_folder_and_no_id_hole(optlab):
    optlab("train", "--dataset", "ordered-abc", "--model", "cnn1d", rc=2)  # model does not fit the data
    optlab(
        "train", *ABC, "--schedule", "cosine", "--warmup-steps", "5000", rc=2
    )  # warm-up longer than the run
    assert not (optlab.work / "runs").exists()
    optlab("train", *ABC, "--epochs", "1", "-q")
    listing = optlab("runs", "list").stdout.splitlines()
    assert [line.split()[0] for line in listing[1:]] == ["1"]  # the first run that started is run 1


@pytest.mark.slow
def test_lecture_sweep_trials_live_under_out(optlab):
    proc = optlab(
        "lecture", "--only", "B3", "--profile", "smoke", "--sweep", "--workers", "1", "-o", "out", "-q"
    )
    assert not (optlab.work / "runs").exists()  # nothing in ./runs
    out = optlab.work / "out"
    assert (out / "index.sqlite").is_file() and list((out / "sweeps").glob("lecture-B3-smoke-*/trial-0000"))
    storage = f"sqlite:///{(out / 'sweeps.sqlite').resolve()}"
    assert f"sweep storage: {storage}" in proc.stdout
    study = re.search(r"study (lecture-B3-smoke-\S+):", proc.stdout).group(1)
    assert f"optlab sweep --study {study} --storage URL" in proc.stdout
