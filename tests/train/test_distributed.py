"""Data-parallel training on CPU with gloo, 2 processes, run through the real CLI under torchrun.

Each torchrun launch starts three Python processes that import torch (~10-20 s on the shared 2-core
machine), so these tests are marked slow; the work itself is tiny (an MLP on ordered-abc, a few hundred
updates at most)."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from optlab.errors import ConfigError, OptlabError
from optlab.train import TrainConfig, load_checkpoint, train
from optlab.train.distributed import check_world, torchrun_command

SETTINGS = ["--dataset", "ordered-abc", "--model", "mlp", "--epochs", "1000", "--quiet"]


def run_cli(args, tmp_path, timeout=240):
    """``python -m optlab ARGS`` as a user runs it; one intra-op thread per process (as torchrun sets)."""
    env = {**os.environ, "OPTLAB_RUNS": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "optlab", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def torchrun(args, tmp_path, timeout=240):
    """``torchrun --standalone --nproc-per-node 2 -m optlab train ARGS`` (torchrun itself, not --nproc)."""
    command = torchrun_command(args, nproc=2, max_restarts=0)
    env = {**os.environ, "OPTLAB_RUNS": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def one_process(tmp_path, name, **settings):
    """The reference: one process at the doubled batch, in this process."""
    config = TrainConfig(dataset="ordered-abc", model="mlp", epochs=1000, **settings)
    return train(config, tmp_path / name, quiet=True, index=False)


def max_relative_difference(path_a, path_b):
    a = torch.load(path_a, weights_only=True)
    b = torch.load(path_b, weights_only=True)
    assert a.keys() == b.keys()
    return max(((a[k] - b[k]).norm() / b[k].norm()).item() for k in a)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_ranks_at_32_equal_one_process_at_64(tmp_path):
    run = tmp_path / "ddp"
    args = [*SETTINGS, "--optimizer", "adam", "--lr", "1e-2", "--batch-size", "32", "--max-steps", "20"]
    result = run_cli(["train", "--nproc", "2", *args, "--run-dir", str(run)], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    reference = one_process(tmp_path, "single", optimizer="adam", lr=1e-2, batch_size=64, max_steps=20)
    assert max_relative_difference(run / "final.pt", tmp_path / "single" / "final.pt") <= 1e-5
    # only rank 0 wrote, once; the summary records the layout; the logged train loss is the global one
    assert sorted(p.name for p in run.iterdir()) == [
        "checkpoints",
        "config.toml",
        "final.pt",
        "metrics.csv",
        "summary.json",
    ]
    import json

    summary = json.loads((run / "summary.json").read_text())
    assert (summary["world_size"], summary["backend"], summary["global_batch_size"]) == (2, "gloo", 64)
    assert summary["steps"] == 20 and summary["config"]["batch_size"] == 32
    final = summary["final"]
    assert final["train_loss"] == pytest.approx(reference.metrics[-1]["train_loss"], rel=1e-5)
    assert final["train_acc"] == pytest.approx(reference.metrics[-1]["train_acc"])


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_lamb_trust_ratio_uses_the_all_reduced_gradient(tmp_path):
    """LAMB's per-layer trust ratio is nonlinear in the gradient: a per-rank gradient would not reproduce the
    one-process run at the doubled batch."""
    run = tmp_path / "ddp"
    args = [*SETTINGS, "--optimizer", "lamb", "--lr", "1e-2", "--batch-size", "32", "--max-steps", "20"]
    result = torchrun([*args, "--run-dir", str(run)], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    one_process(tmp_path, "single", optimizer="lamb", lr=1e-2, batch_size=64, max_steps=20)
    one_process(tmp_path, "half", optimizer="lamb", lr=1e-2, batch_size=32, max_steps=20)
    assert max_relative_difference(run / "final.pt", tmp_path / "single" / "final.pt") <= 1e-5
    # and the comparison can fail: the per-rank batch alone gives other parameters
    assert max_relative_difference(run / "final.pt", tmp_path / "half" / "final.pt") > 1e-3


def _children(pid):
    """All descendants of ``pid`` (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


def _rank_of(pid):
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in environ:
        if item.startswith(b"RANK="):
            return int(item[5:])
    return None


def _checkpoint_step(run):
    """The update count of the run's last checkpoint; 0 while there is none."""
    path = run / "checkpoints" / "last.pt"
    try:
        return load_checkpoint(path)["step"] if path.exists() else 0
    except OptlabError:  # replaced while being read
        return 0


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_killed_rank_restarts_from_checkpoint_and_finishes_alike(tmp_path):
    run, steps = tmp_path / "ddp", 300
    args = [*SETTINGS, "--optimizer", "momentum", "--lr", "0.05", "--batch-size", "32"]
    args += ["--max-steps", str(steps), "--checkpoint-every", "7", "--run-dir", str(run)]
    env = {**os.environ, "OPTLAB_RUNS": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "optlab", "train", "--nproc", "2", "--max-restarts", "1", *args]
    launcher = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 240
        # wait for a mid-epoch checkpoint (5 updates per epoch; --checkpoint-every 7), so the restart must
        # restore a batcher part-way through its epoch
        while _checkpoint_step(run) % 5 == 0:
            assert launcher.poll() is None and time.monotonic() < deadline, "no mid-epoch checkpoint appeared"
            time.sleep(0.01)
        workers = [pid for pid in _children(launcher.pid) if _rank_of(pid) == 1]
        assert workers, "rank 1 worker not found"
        os.kill(workers[-1], signal.SIGKILL)
        output, _ = launcher.communicate(timeout=300)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
    assert launcher.returncode == 0, output[-3000:]
    resumed = re.search(r"restart 1: resuming .* from its checkpoint at update (\d+)", output)
    assert resumed, output[-3000:]
    # Mid-run. Usually mid-epoch too, but the ranks may pass an epoch-end checkpoint between the one we saw
    # and the kill; mid-epoch resumption itself is pinned by tests/train/test_loop.py's crash tests.
    assert 0 < int(resumed.group(1)) < steps
    one_process(tmp_path, "single", optimizer="momentum", lr=0.05, batch_size=64, max_steps=steps)
    assert max_relative_difference(run / "final.pt", tmp_path / "single" / "final.pt") <= 1e-5


def test_nproc_command_is_torchrun_without_launcher_flags():
    command = torchrun_command(["--lr", "0.1", "--nproc", "2", "--max-restarts=3", "--quiet"], 2, 3)
    assert command[1:] == [
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=2",
        "--max-restarts=3",
        "-m",
        "optlab",
        "train",
        "--lr",
        "0.1",
        "--quiet",
    ]


def test_resume_on_another_number_of_processes_is_refused():
    with pytest.raises(ConfigError, match=r"trained on 2 process\(es\), not 1: resume it with --nproc 2"):
        check_world({"batcher": {"world_size": 2}}, 1)
    check_world({"batcher": {"world_size": 1}}, 1)


def test_max_restarts_needs_nproc(tmp_path):
    result = run_cli(["train", "--max-restarts", "1", *SETTINGS], tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --max-restarts needs --nproc N (under torchrun, use torchrun's own --max-restarts)"
    )
