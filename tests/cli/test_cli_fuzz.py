"""Every command given wrong types, negatives, unknown names and missing files: exit 2 (usage) or 1 (run
failed), one ``error:`` line, no traceback, and nothing created — not in the working folder, not in the runs
folder, no storage, no index row.

Most cases run in-process through :func:`optlab.cli.main` (fast); a handful run as real subprocesses, as a
user would, for what only a fresh process shows (a missing optional dependency, torchrun never launched).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from optlab.cli import main

ABC = ["--dataset", "ordered-abc", "--model", "mlp"]  # 300 2-D points: instant to load
NO_CUDA = not torch.cuda.is_available()

CASES: list[tuple[str, list[str], str]] = [
    # (id, argv, a fragment the one error line must contain)
    ("train-epochs-type", ["train", "--epochs", "x"], "--epochs"),
    ("train-epochs-negative", ["train", "--epochs", "-1"], "--epochs"),
    ("train-epochs-zero", ["train", *ABC, "--epochs", "0"], "--epochs"),
    ("train-lr-negative", ["train", *ABC, "--lr", "-1"], "--lr"),
    ("train-lr-type", ["train", "--lr", "fast"], "--lr"),
    ("train-batch-zero", ["train", *ABC, "--batch-size", "0"], "--batch-size"),
    ("train-batch-type", ["train", *ABC, "--batch-size", "big"], "--batch-size"),
    ("train-max-steps-negative", ["train", *ABC, "--max-steps", "-5"], "--max-steps"),
    ("train-seed-negative", ["train", *ABC, "--seed", "-1"], "--seed"),
    ("train-checkpoint-negative", ["train", *ABC, "--checkpoint-every", "-1"], "--checkpoint-every"),
    ("train-warmup-negative", ["train", *ABC, "--warmup-steps", "-3"], "--warmup-steps"),
    ("train-validation-type", ["train", *ABC, "--validation", "half"], "--validation"),
    ("train-validation-negative", ["train", *ABC, "--validation", "-0.5"], "--validation"),
    ("train-unknown-optimizer", ["train", *ABC, "--optimizer", "sgdd"], "sgdd"),
    ("train-unknown-model", ["train", "--model", "resnet"], "resnet"),
    ("train-unknown-dataset", ["train", "--dataset", "imagenet"], "imagenet"),
    ("train-unknown-schedule", ["train", *ABC, "--schedule", "wavy"], "wavy"),
    ("train-unknown-hp", ["train", *ABC, "--optimizer", "sgd", "--hp", "mom=0.9"], "momentum=0.0"),
    ("train-bad-hp-value", ["train", *ABC, "--optimizer", "momentum", "--hp", "momentum=-1"], "momentum"),
    ("train-hp-no-equals", ["train", *ABC, "--hp", "momentum"], "key=value"),
    ("train-device-unknown", ["train", *ABC, "--device", "tpu"], "--device"),
    ("train-missing-config", ["train", "--config", "nope.toml"], "nope.toml"),
    ("train-missing-resume", ["train", "--resume", "nope"], "nope"),
    ("train-flag-with-value", ["train", *ABC, "--log-steps", "true"], "--no-NAME"),
    ("train-unknown-option", ["train", "--learning-rate", "0.1"], "--learning-rate"),
    ("train-model-data-mismatch", ["train", "--dataset", "ordered-abc", "--model", "cnn1d"], "cnn1d"),
    (
        "train-warmup-longer-than-run",
        ["train", *ABC, "--schedule", "cosine", "--warmup-steps", "99999"],
        "99999",
    ),
    ("train-max-restarts-alone", ["train", *ABC, "--max-restarts", "1"], "--nproc"),
    ("train-nproc-zero", ["train", *ABC, "--nproc", "0"], "--nproc"),
    (
        "train-nproc-model-data-mismatch",
        ["train", "--dataset", "ordered-abc", "--model", "cnn1d", "--nproc", "2"],
        "cnn1d",
    ),
    ("runs-show-unknown", ["runs", "show", "99"], "99"),
    ("runs-show-missing-arg", ["runs", "show"], "run"),
    ("runs-compare-one", ["runs", "compare", "1"], "two"),
    ("plot-missing-folder", ["plot", "nope"], "nope"),
    ("plot-bad-axis", ["plot", "nope", "--x", "time"], "--x"),
    ("list-unknown-kind", ["list", "gizmos"], "gizmos"),
    ("sweep-nothing", ["sweep"], "--grid"),
    ("sweep-unknown-param", ["sweep", "--grid", "colour=1,2"], "colour"),
    ("sweep-param-type", ["sweep", "--grid", "batch_size=x,y"], "batch_size"),
    ("sweep-empty-range", ["sweep", "--search", "tpe", "--trials", "3", "--grid", "lr=1:0.1"], "LO < HI"),
    ("sweep-unknown-search", ["sweep", "--search", "random", "--grid", "lr=0.1,0.2"], "random"),
    (
        "sweep-trials-negative",
        ["sweep", "--search", "tpe", "--trials", "-1", "--grid", "lr=1e-3:1e-1"],
        "--trials",
    ),
    ("sweep-workers-zero", ["sweep", *ABC, "--workers", "0", "--grid", "lr=0.1,0.2"], "--workers"),
    ("sweep-unknown-dataset", ["sweep", "--dataset", "imagenet", "--grid", "lr=0.1,0.2"], "imagenet"),
    ("sweep-unknown-optimizer", ["sweep", "--grid", "optimizer=adam,sgdd"], "sgdd"),
    (
        "sweep-unknown-hp",
        ["sweep", *ABC, "--optimizer", "sgd", "--hp", "mom=1", "--grid", "lr=0.1,0.2"],
        "mom",
    ),
    (
        "sweep-model-data-mismatch",
        ["sweep", "--dataset", "ordered-abc", "--model", "cnn1d", "--grid", "lr=0.1,0.2"],
        "cnn1d",
    ),
    (
        "sweep-heartbeat-zero",
        ["sweep", *ABC, "--heartbeat-interval", "0", "--grid", "lr=0.1,0.2"],
        "--heartbeat",
    ),
    ("sweep-continue-unknown-study", ["sweep", "--study", "nosuch"], "sweeps.sqlite"),
    ("sweep-report-unknown-study", ["sweep", "report", "nosuch"], "sweeps.sqlite"),
    ("sweep-report-bad-metric", ["sweep", "report", "x", "--metric", "speed"], "--metric"),
    ("sweep-report-top-negative", ["sweep", "report", "x", "--top", "-1"], "--top"),
    ("sweep-report-target-missing", ["sweep", "report", "x", "--metric", "steps-to-target"], "--target"),
    ("lecture-unknown-profile", ["lecture", "--profile", "huge", "-o", "out"], "huge"),
    ("lecture-unknown-id", ["lecture", "--only", "Z9", "-o", "out"], "Z9"),
    ("lecture-seeds-type", ["lecture", "--seeds", "many", "-o", "out"], "--seeds"),
    ("lecture-device-unknown", ["lecture", "--device", "tpu", "-o", "out"], "--device"),
    ("lecture-storage-without-sweep", ["lecture", "--storage", "sqlite:///x.db", "-o", "out"], "--sweep"),
    ("data-download-unknown", ["data", "download", "imagenet"], "imagenet"),
    ("measure-timing-sizes-type", ["measure", "timing", *ABC, "--batch-sizes", "4,x"], "--batch-sizes"),
    (
        "measure-timing-unknown-model",
        ["measure", "timing", "--model", "nope", "--dataset", "mnist1d"],
        "nope",
    ),
    ("measure-timing-device", ["measure", "timing", *ABC, "--device", "tpu"], "--device"),
    (
        "measure-noise-unknown-dataset",
        ["measure", "noise", "--model", "mlp", "--dataset", "imagenet"],
        "imagenet",
    ),
    ("measure-sharpness-missing-run", ["measure", "sharpness", "nope"], "nope"),
    ("measure-hessian-missing-run", ["measure", "hessian", "nope"], "nope"),
    ("measure-landscape-missing-runs", ["measure", "landscape", "nope-a", "nope-b"], "nope-a"),
    ("advise-sizes-type", ["advise", *ABC, "--batch-sizes", "4,x"], "--batch-sizes"),
    ("advise-unknown-optimizer", ["advise", *ABC, "--optimizer", "sgdd"], "sgdd"),
    ("advise-lr-negative", ["advise", *ABC, "--reference-lr", "-1"], "--reference-lr"),
    ("demo-steps-negative", ["demo", "--steps", "-1"], "--steps"),
    ("explore-unknown-surface", ["explore", "--surface", "nope"], "nope"),
    ("version-unknown-option", ["version", "--x"], "--x"),
]
if NO_CUDA:
    CASES += [
        ("train-cuda-absent", ["train", *ABC, "--device", "cuda"], "CUDA"),
        ("lecture-cuda-absent", ["lecture", "--device", "cuda", "-o", "out"], "CUDA"),
    ]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder with the default runs root (./runs) and no OPTLAB_RUNS: whatever a failed
    command creates shows up here. The dataset cache lives outside it."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("OPTLAB_RUNS", raising=False)
    monkeypatch.delenv("OPTLAB_DEBUG", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)  # lecture --device may set it
    monkeypatch.setenv("OPTLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OPTLAB_NO_PROGRESS", "1")
    monkeypatch.setenv("COLUMNS", "200")
    return work


def _created(work: Path) -> list[str]:
    return sorted(str(p.relative_to(work)) for p in work.rglob("*"))


@pytest.mark.parametrize(("argv", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exits_with_one_line_and_creates_nothing(workdir, capsys, argv, fragment):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    assert exit_info.value.code in (1, 2), (argv, exit_info.value.code, out, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment in lines[0], lines[0]
    assert _created(workdir) == [], argv


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optlab", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "OPTLAB_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    for key in ("OPTLAB_RUNS", "OPTLAB_DEBUG"):
        env.pop(key, None)
    return env


def test_subprocess_usage_error_is_one_line(workdir, user_env):
    proc = _run(["train", *ABC, "--log-steps", "true"], workdir, user_env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: Got unexpected extra argument(s) (true) (flags take no value: write --NAME or --no-NAME) "
        "(see `optlab train --help`)"
    ]
    assert _created(workdir) == []


@pytest.mark.skipif(not NO_CUDA, reason="needs a machine without CUDA")
def test_nproc_without_cuda_fails_before_torchrun(workdir, user_env):
    proc = _run(["train", *ABC, "--nproc", "2", "--device", "cuda"], workdir, user_env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: invalid value for --device: 'cuda' (CUDA is not available on this machine)"
    ]
    assert "torchrun" not in proc.stdout + proc.stderr
    assert _created(workdir) == []


def test_sweep_without_optuna_says_which_extra(workdir, user_env, tmp_path):
    fake = tmp_path / "no-optuna"
    fake.mkdir()
    (fake / "optuna.py").write_text("raise ImportError(\"No module named 'optuna'\")\n")
    env = {**user_env, "PYTHONPATH": os.pathsep.join([str(fake), user_env.get("PYTHONPATH", "")])}
    proc = _run(["sweep", *ABC, "--grid", "batch_size=16,32", "--epochs", "1"], workdir, env)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: sweeps need Optuna, which is not installed: pip install 'optlab[sweep]'"
    ]
    assert _created(workdir) == []
