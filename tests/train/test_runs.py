"""Run records: metrics CSV round-trip, the SQLite index's life cycle, run-folder checks."""

import os
import sqlite3

import pytest

from optlab.errors import ConfigError, OptlabError
from optlab.train import RunIndex, TrainConfig
from optlab.train.runs import default_run_dir, prepare_run_dir, read_csv, write_csv


def test_metrics_csv_round_trip(tmp_path):
    rows = [{"epoch": 1, "loss": 0.1 + 0.2, "val_acc": None}, {"epoch": 2, "loss": 1e-300, "val_acc": 0.5}]
    write_csv(tmp_path / "m.csv", rows)
    assert read_csv(tmp_path / "m.csv") == rows  # floats survive exactly (repr)


def test_index_lifecycle(tmp_path):
    index = RunIndex(tmp_path / "index.sqlite")
    config = TrainConfig(dataset="ordered-abc", model="logreg", lr=0.5)
    run_id = index.start(tmp_path / "run-a", config)
    row = index.get(run_id)
    assert row["status"] == "running" and row["config"]["lr"] == 0.5 and row["summary"] == {}
    index.finish(run_id, "completed", {"final": {"test_acc": 0.9}, "steps": 3})
    assert index.get("run-a")["status"] == "completed"
    assert index.get(str(tmp_path / "run-a"))["summary"]["steps"] == 3
    # resuming the same folder reuses its row and marks it running again
    assert index.start(tmp_path / "run-a", config) == run_id
    assert index.get(run_id)["status"] == "running" and index.get(run_id)["summary"] == {}
    assert [r["id"] for r in index.list()] == [run_id]


def test_dead_running_row_shows_as_interrupted(tmp_path):
    index = RunIndex(tmp_path / "index.sqlite")
    run_id = index.start(tmp_path / "run-b", TrainConfig())
    with sqlite3.connect(tmp_path / "index.sqlite") as db:
        db.execute("UPDATE runs SET pid = ? WHERE id = ?", (2**22 + 12345, run_id))  # no such process
    assert index.get(run_id)["status"] == "interrupted"


def test_unknown_run_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no run '42'"):
        RunIndex(tmp_path / "index.sqlite").get(42)


def test_default_run_dir_is_new_and_descriptive(tmp_path):
    config = TrainConfig(dataset="mnist1d", model="cnn1d", optimizer="adam")
    first = default_run_dir(config, tmp_path)
    assert first.parent == tmp_path and first.name.endswith("mnist1d-cnn1d-adam")
    first.mkdir()
    assert default_run_dir(config, tmp_path) != first


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_run_dir_is_clear_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OptlabError, match="cannot write to run directory"):
            prepare_run_dir(locked / "run")
    finally:
        locked.chmod(0o700)


def test_run_dir_under_a_file_is_clear_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OptlabError, match=r"cannot write to run directory .*afile/run"):
        prepare_run_dir(tmp_path / "afile" / "run")


def test_index_written_before_studies_gains_the_study_column(tmp_path):
    import sqlite3

    from optlab.train.runs import _SCHEMA

    path = tmp_path / "index.sqlite"
    old_schema = _SCHEMA.replace(",\n    study TEXT\n", "\n")
    assert "study" not in old_schema
    with sqlite3.connect(path) as connection:
        connection.execute(old_schema)
    index = RunIndex(path)
    config = TrainConfig(dataset="ordered-abc", model="mlp")
    run_id = index.start(tmp_path / "sweeps" / "bars-1" / "trial-0000", config, study="bars")
    row = index.get(run_id)
    assert row["study"] == "bars" and row["name"] == "sweeps/bars-1/trial-0000"  # unique: the folder's path
    assert (
        index.get("bars-1/trial-0000")["id"] == run_id == index.get("trial-0000")["id"]
    )  # the end of a name
    index.start(tmp_path / "sweeps" / "tiny-2" / "trial-0000", config, study="tiny")
    with pytest.raises(
        ConfigError, match=r"run name 'trial-0000' is ambiguous .*1 \(study bars\), 2 \(study tiny\)"
    ):
        index.get("trial-0000")
