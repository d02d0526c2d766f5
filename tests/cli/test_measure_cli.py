"""``optlab measure`` and ``optlab advise``, run as a user would, on real (tiny) MNIST-1D runs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import typer
from typer.testing import CliRunner

from optlab.cli import measure as measure_cli
from optlab.errors import ConfigError, OptlabError

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # as in tests/measure


def run_optlab(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPTLAB_RUNS": os.environ.get("OPTLAB_RUNS", "/nonexistent-runs")}
    return subprocess.run(
        [sys.executable, "-m", "optlab", *args], capture_output=True, text=True, timeout=120, env=env
    )


@pytest.mark.slow
def test_not_a_run_directory_is_one_line_exit_2(tmp_path):
    result = run_optlab("measure", "hessian", str(tmp_path / "absent"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "is neither a run folder nor a run id or name" in result.stderr
    assert result.stderr.startswith("error: ")
    (tmp_path / "empty").mkdir()  # a folder that exists but holds no run
    result = run_optlab("measure", "hessian", str(tmp_path / "empty"))
    assert result.returncode == 2 and "is not a run directory" in result.stderr


@pytest.fixture
def bare_cli():
    app = typer.Typer()
    measure_cli.register(app)
    return lambda *args: CliRunner().invoke(app, list(args))


def test_unknown_model_names_the_valid_ones(bare_cli):
    result = bare_cli("measure", "timing", "--model", "resnet9000", "--dataset", "mnist1d")
    assert isinstance(result.exception, ConfigError)
    assert "unknown name 'resnet9000'" in str(result.exception) and "mlp" in str(result.exception)


def test_bad_batch_sizes_and_bn_mode_are_rejected(bare_cli, tmp_path):
    result = bare_cli("advise", "--model", "mlp", "--dataset", "mnist1d", "--batch-sizes", "4,x")
    assert isinstance(result.exception, ConfigError) and "--batch-sizes" in str(result.exception)
    result = bare_cli("measure", "landscape", str(tmp_path), "--bn", "freeze")
    assert isinstance(result.exception, ConfigError) and "--bn" in str(result.exception)


def test_every_command_has_help(bare_cli):
    for command in (["advise"], *(["measure", name] for name in
                    ("timing", "noise", "critical-batch", "sharpness", "hessian", "landscape"))):  # fmt: skip
        result = bare_cli(*command, "--help")
        assert result.exit_code == 0 and "Usage" in result.output


# -- on real runs -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mnist1d():
    from optlab import data

    return data.load("mnist1d")


@pytest.fixture(scope="module")
def runs(mnist1d, tmp_path_factory):
    from optlab.train import TrainConfig, train

    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, batch in (("small", 32), ("large", 512)):
        config = TrainConfig(
            dataset="mnist1d",
            model="mlp1d",
            optimizer="sgd",
            lr=0.1,
            batch_size=batch,
            epochs=1,
            device="cpu",
        )
        train(config, root / name, dataset=mnist1d, quiet=True, index=False)
        out[name] = root / name
    return out


@pytest.fixture
def cli(mnist1d, monkeypatch):
    """The measure commands on a fresh app; dataset loading by name returns the already loaded MNIST-1D."""
    from optlab import data

    monkeypatch.setattr(data, "load", lambda name, **kwargs: mnist1d)
    app = typer.Typer()
    measure_cli.register(app)
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


@pytest.mark.slow
def test_hessian_sharpness_noise_on_a_run(cli, runs, tmp_path):
    out = tmp_path / "m"
    text = cli("measure", "hessian", str(runs["small"]), "-k", "2", "--examples", "256",
               "--trace-samples", "4", "--out", str(out), "--quiet")  # fmt: skip
    data = json.loads((out / "hessian.json").read_text())
    assert len(data["eigenvalues"]) == 2 and data["eigenvalues"][0] >= data["eigenvalues"][1]
    assert data["stability_limit"]["value"] == pytest.approx(20.0)  # sgd, lr 0.1: 2/η
    assert data["stability_limit"]["rule"] == "2/η"
    assert (out / "hessian.png").exists() and "stability limit 2/η = 20" in text
    cli("measure", "sharpness", str(runs["small"]), "--epsilon", "1e-3", "--subspace-dim", "5",
        "--iterations", "2", "--examples", "256", "--out", str(out), "--quiet")  # fmt: skip
    results = json.loads((out / "sharpness.json").read_text())["results"]
    assert [r["subspace_dim"] for r in results] == [None, 5]
    assert all(r["value"] >= 0 for r in results)
    cli("measure", "noise", str(runs["small"]), "--small-batch", "8", "--big-batch", "128", "--pairs", "3",
        "--out", str(out), "--quiet")  # fmt: skip
    noise = json.loads((out / "noise_scale.json").read_text())
    assert noise["n_pairs"] == 3 and noise["big_batch"] == 128


@pytest.mark.slow
def test_landscape_between_two_runs(cli, runs, tmp_path):
    out = tmp_path / "l"
    cli("measure", "landscape", str(runs["small"]), str(runs["large"]), "--points", "4", "--steps", "3",
        "--examples", "200", "--out", str(out), "--quiet")  # fmt: skip
    line = json.loads((out / "interpolation.json").read_text())
    assert line["alpha"][0] == -1.0 and line["alpha"][-1] == 2.0
    assert {"train_loss", "test_loss", "train_accuracy", "test_accuracy"} <= set(line)
    surface = json.loads((out / "surface.json").read_text())
    assert len(surface["loss"]) == 3 and len(surface["loss"][0]) == 3
    for name in ("interpolation.png", "interpolation.csv", "surface.png"):
        assert (out / name).exists()


@pytest.mark.slow
def test_timing_command_writes_figure_and_data(cli, tmp_path):
    out = tmp_path / "t"
    text = cli("measure", "timing", "--model", "logreg", "--dataset", "mnist1d", "--batch-sizes", "1,16",
               "--repeats", "3", "--max-seconds", "0.2", "--out", str(out), "--quiet")  # fmt: skip
    data = json.loads((out / "timing.json").read_text())
    assert [row["batch_size"] for row in data["rows"]] == [1, 16]
    assert "flat up to" in text and (out / "timing.png").exists() and (out / "timing.csv").exists()


@pytest.mark.slow
def test_checkpoint_of_another_model_is_a_clear_error(runs, mnist1d, tmp_path):
    from optlab.measure.runs import load_run

    run = tmp_path / "mismatch"
    run.mkdir()
    (run / "config.toml").write_text(Path(runs["small"], "config.toml").read_text().replace("mlp1d", "cnn1d"))
    (run / "final.pt").write_bytes(Path(runs["small"], "final.pt").read_bytes())
    with pytest.raises(OptlabError, match=r"does not fit the model") as error:
        load_run(run, dataset=mnist1d)
    assert "\n" not in str(error.value)
    assert torch.load(run / "final.pt", weights_only=True)  # the file itself was left alone


def test_critical_batch_command_fits_synthetic_runs(bare_cli, tmp_path):
    """Runs whose metrics reach the target after S(B) = S_min + E_min/B steps (S_min 100, E_min 6400)."""
    folders = []
    for batch in (16, 64, 256, 1024):
        folder = tmp_path / f"b{batch}"
        folder.mkdir()
        (folder / "config.toml").write_text(f'dataset = "mnist1d"\nmodel = "mlp"\nbatch_size = {batch}\n')
        target_step = 100 + 6400 // batch
        rows = ["epoch,step,train_loss"] + [
            f"{i},{step},{1.0 if step < target_step else 0.1}"
            for i, step in enumerate(range(10, 1000, 10), 1)
        ]
        (folder / "metrics.csv").write_text("\n".join(rows) + "\n")
        folders.append(str(folder))
    result = bare_cli("measure", "critical-batch", *folders, "--target", "0.5", "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    fit = json.loads((tmp_path / "o" / "critical_batch.json").read_text())
    # Steps are only seen every 10 updates (like per-epoch metrics), so the fit is close, not exact.
    assert fit["s_min"] == pytest.approx(100, rel=0.1) and fit["e_min"] == pytest.approx(6400, rel=0.1)
    assert (tmp_path / "o" / "critical_batch.png").exists()


@pytest.mark.slow
def test_trackers_as_trainer_callbacks(mnist1d, tmp_path):
    from optlab.measure import HessianTracker, NoiseScaleTracker
    from optlab.train import TrainConfig, train

    noise = NoiseScaleTracker(small_batch=8, big_batch=128, every=4, n_pairs=3)
    curvature = HessianTracker(every=4, examples=128, max_iterations=10)
    config = TrainConfig(
        dataset="mnist1d", model="mlp1d", optimizer="sgd", lr=0.1, batch_size=64, max_steps=8
    )
    plain = train(config, tmp_path / "plain", dataset=mnist1d, quiet=True, index=False)
    tracked = train(config, tmp_path / "tracked", dataset=mnist1d, quiet=True, index=False,
                    callbacks=[noise, curvature])  # fmt: skip
    assert [row["step"] for row in noise.history] == [4, 8]
    assert [row["step"] for row in curvature.history] == [4, 8]
    assert all(
        row["two_over_lr"] == pytest.approx(20.0) and row["lambda_max"] > 0 for row in curvature.history
    )
    assert all(math.isfinite(row["b_simple"]) for row in noise.history)
    # The trackers leave the run exactly as it would have been without them.
    for a, b in zip(plain.model.parameters(), tracked.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_cuda_without_a_gpu_is_a_config_error(bare_cli):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    result = bare_cli("measure", "timing", "--model", "mlp", "--dataset", "mnist1d", "--device", "cuda")
    assert isinstance(result.exception, ConfigError) and "--device" in str(result.exception)
