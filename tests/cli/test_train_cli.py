"""`optlab train`, `runs`, `plot` as a user runs them: real subprocesses, exit codes, one-line errors, kill
-9."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from optlab.errors import OptlabError
from optlab.train import RunIndex, TrainConfig, load_checkpoint, train

ABC = [
    "--dataset",
    "ordered-abc",
    "--model",
    "mlp",
    "--optimizer",
    "adam",
    "--lr",
    "1e-2",
    "--batch-size",
    "32",
]


def one_error_line(proc):
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr  # no traceback
    assert lines[0].startswith("error: ")
    return lines[0]


def test_help_documents_exit_codes(optlab):
    out = optlab("train", "--help", check_rc=0).stdout
    assert "Exit codes: 0 ok, 1" in out and "2 bad usage" in out
    for flag in ("--dataset", "--hp", "--max-steps", "--resume", "--checkpoint-every", "--config"):
        assert flag in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--optimizer", "adamm"],
            r"invalid value for --optimizer: unknown name 'adamm'; choose one of: sgd, ",
        ),
        (["--lr", "-1"], "invalid value for --lr: -1.0"),
        (["--batch-size", "many"], "invalid value for --batch-size: 'many'"),
    ],
)
def test_bad_usage_is_exit_2_with_one_line(optlab, args, expected):
    line = one_error_line(optlab("train", *ABC, *args, check_rc=2))
    assert expected in line


@pytest.mark.slow
def test_train_then_runs_and_plot(optlab, tmp_path, monkeypatch):
    first = optlab(
        "train",
        *ABC,
        "--epochs",
        "2",
        "--schedule",
        "cosine",
        "--warmup-steps",
        "3",
        "--run-dir",
        "a",
        "--hp",
        "betas=0.9,0.99",
        check_rc=0,
    )
    assert "epoch   2" in first.stdout and "done: a" in first.stdout
    assert TrainConfig.load(tmp_path / "a" / "config.toml").hparams == {"betas": (0.9, 0.99)}
    # a second run through the library, recorded in the same index
    monkeypatch.setenv("OPTLAB_RUNS", optlab.env["OPTLAB_RUNS"])
    config = TrainConfig(dataset="ordered-abc", model="logreg", lr=0.5, epochs=1)
    train(config, tmp_path / "b", quiet=True)
    listing = optlab("runs", "list", check_rc=0).stdout.splitlines()
    assert listing[0].split()[:3] == ["id", "status", "name"]
    assert [line.split()[:3] for line in listing[1:]] == [["1", "completed", "a"], ["2", "completed", "b"]]
    shown = optlab("runs", "show", "a", check_rc=0).stdout
    assert "status    completed" in shown and "test_acc" in shown and "stopped by epochs" in shown
    assert '"status": "completed"' in optlab("runs", "show", "a", "--json", check_rc=0).stdout
    compare = optlab("runs", "compare", "1", "2", check_rc=0).stdout.splitlines()
    assert {"lr", "model", "epochs"} <= set(compare[0].split())
    assert one_error_line(optlab("runs", "show", "99", check_rc=2)).startswith("error: no run '99'")
    optlab("plot", "a", "b", "--out", "curves.png", check_rc=0)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_nan_run_exit_1_keeps_last_good_checkpoint(optlab, tmp_path):
    proc = optlab(
        "train",
        *ABC,
        "--optimizer",
        "sgd",
        "--lr",
        "1e10",
        "--epochs",
        "50",
        "--checkpoint-every",
        "1",
        "--run-dir",
        "nan",
        "-q",
        check_rc=1,
    )
    assert "loss became nan/inf" in one_error_line(proc)
    checkpoint = load_checkpoint(tmp_path / "nan" / "checkpoints" / "last.pt")
    assert all(torch.isfinite(v).all() for v in checkpoint["model"].values())
    assert RunIndex(tmp_path / "runs" / "index.sqlite").get("nan")["status"] == "failed"


def test_corrupt_dataset_file_is_exit_1(optlab, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        # valid IDX magic for uint8 3-d images, then a header promising far more bytes than follow
        (data / name).write_bytes(
            b"\x00\x00\x08\x03" + (60000).to_bytes(4, "big") + b"\x00\x00\x00\x1c" * 2 + b"x"
        )
    proc = optlab(
        "train", "--dataset", "fashion-mnist", "--model", "logreg", "--data-dir", data, "-q", check_rc=1
    )
    line = one_error_line(proc)
    assert str(data) in line and "truncated" in line


def test_unwritable_run_dir_is_exit_1_before_training(optlab, tmp_path):
    (tmp_path / "file").write_text("")
    proc = optlab("train", *ABC, "--run-dir", "file/run", check_rc=1)
    assert "cannot write to run directory file/run" in one_error_line(proc)
    assert proc.stdout == ""  # not one epoch ran


def test_corrupt_checkpoint_resume_is_exit_1_and_changes_nothing(optlab, tmp_path):
    train(
        TrainConfig(dataset="ordered-abc", model="logreg", epochs=1), tmp_path / "r", quiet=True, index=False
    )
    last = tmp_path / "r" / "checkpoints" / "last.pt"
    last.write_bytes(b"PK\x03\x04 this is not a checkpoint")
    before = {p: p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file()}
    assert "corrupt" in one_error_line(optlab("train", "--resume", "r", check_rc=1))
    assert {p: p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_kill_9_then_resume_gives_identical_parameters(optlab, tmp_path):
    args = [
        "--dataset",
        "mnist1d",
        "--model",
        "mlp",
        "--optimizer",
        "momentum",
        "--lr",
        "0.05",
        "--batch-size",
        "5",
        "--epochs",
        "3",
        "--schedule",
        "cosine",
        "--checkpoint-every",
        "50",
        "--seed",
        "3",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "optlab", "train", *args, "--run-dir", "killed", "-q"],
        cwd=tmp_path,
        env=optlab.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    last = tmp_path / "killed" / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if last.exists() and load_checkpoint(last)["step"] >= 80:
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (tmp_path / "killed" / "final.pt").exists()
    assert RunIndex(tmp_path / "runs" / "index.sqlite").get("killed")["status"] == "interrupted"
    optlab("train", "--resume", "killed", "-q", check_rc=0)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the subprocesses (OMP_NUM_THREADS=1)
    try:
        config = TrainConfig.load(tmp_path / "killed" / "config.toml")
        reference = train(config, tmp_path / "whole", quiet=True, index=False)
    finally:
        torch.set_num_threads(threads)
    resumed = torch.load(tmp_path / "killed" / "final.pt", weights_only=True)
    for key, value in reference.model.state_dict().items():
        assert torch.equal(value, resumed[key]), key


def test_missing_resume_folder_is_exit_2(optlab):
    assert "no config.toml" in one_error_line(optlab("train", "--resume", "nowhere", check_rc=2))


def test_library_raises_for_nan_too(tmp_path):
    with pytest.raises(OptlabError):
        train(
            TrainConfig(dataset="ordered-abc", model="mlp", optimizer="sgd", lr=1e10, epochs=30),
            tmp_path / "r",
            quiet=True,
            index=False,
        )


def test_tensorboard_flag_writes_events_tensorboard_reads(optlab, tmp_path):
    from optlab.train.loggers import read_scalars

    proc = optlab("train", *ABC, "--epochs", "2", "--tensorboard", "--run-dir", tmp_path / "tb", check_rc=0)
    assert "done:" in proc.stdout
    scalars = read_scalars(tmp_path / "tb" / "tensorboard")
    assert [step for step, _ in scalars["train_loss"]] == [10, 20]  # 300 examples, 32 per batch: 10 per epoch
    assert TrainConfig.load(tmp_path / "tb" / "config.toml").tensorboard
