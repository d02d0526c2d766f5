"""Issue 13 for ``optlab measure ...`` and ``optlab advise``, run as a user runs them (a subprocess in a fresh
folder, runs named by id or name from the runs index):

* outputs by one rule: ``./measurements/NAME/`` naming what was measured (landscape A–B and A–C both kept),
  a PNG beside every JSON, every written path printed (row 7);
* runs given by id or name as ``optlab runs show`` takes them (point 4);
* hessian's stability line labelled with its rule, none for Adam; sharpness's spaces explained (row 9);
* ``advise`` agrees with ``measure noise`` on the same model, data and seed and prints the commands that
  reproduce its numbers; its table is not cut in a pipe (rows 6, 8);
* bad input: one line, exit 2, no traceback, nothing created (row 10).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # as in tests/measure


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A runs root with an index: run 1 'small' (momentum, batch 32), 2 'large' (momentum, 256), 3 'adam'."""
    from optlab import data
    from optlab.train import TrainConfig, train

    root = tmp_path_factory.mktemp("runs")
    mnist1d = data.load("mnist1d")
    for name, optimizer, lr, batch in (("small", "momentum", 0.05, 32), ("large", "momentum", 0.05, 256),
                                       ("adam", "adam", 1e-2, 256)):  # fmt: skip
        config = TrainConfig(
            dataset="mnist1d", model="mlp", optimizer=optimizer, lr=lr, batch_size=batch, max_steps=4,
            device="cpu",
        )  # fmt: skip
        with mock.patch.dict(os.environ, {"OPTLAB_RUNS": str(root)}):
            train(config, root / name, dataset=mnist1d, quiet=True, index=root / "index.sqlite")
    return root


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    """A runs root whose runs 'small' and 'large' are recorded but never trained (config and metrics only):
    enough for argument checks, which all come before any run is loaded."""
    from optlab.train import TrainConfig
    from optlab.train.runs import RunIndex

    root = tmp_path_factory.mktemp("fake-runs")
    index = RunIndex(root / "index.sqlite")
    for name, batch in (("small", 32), ("large", 256)):
        config = TrainConfig(dataset="mnist1d", model="mlp", optimizer="momentum", lr=0.05, batch_size=batch)
        (root / name).mkdir()
        (root / name / "config.toml").write_text(config.to_toml())
        (root / name / "metrics.csv").write_text("epoch,step,train_loss\n1,10,2.0\n2,20,1.0\n")
        index.start(root / name, config)
    return root


def optlab(root: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPTLAB_RUNS": str(root), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "optlab", *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd
    )


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def written(stdout: str, cwd: Path) -> list[Path]:
    """The paths a command says it wrote; each must exist."""
    paths = [
        cwd / line.split()[-1] for line in stdout.splitlines() if re.match(r"\s+(wrote|replaced) ", line)
    ]
    assert paths and all(path.exists() for path in paths), stdout
    return paths


def is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_landscape_a_vs_b_and_a_vs_c_are_kept_apart(root, tmp_path):
    common = ["--points", "3", "--examples", "64", "-q"]
    first = ok(optlab(root, tmp_path, "measure", "landscape", "1", "large", "--steps", "0", *common))
    second = ok(optlab(root, tmp_path, "measure", "landscape", "small", "adam", "--steps", "3", *common))
    ab, ac = (
        tmp_path / "measurements/landscape-small-vs-large",
        tmp_path / "measurements/landscape-small-vs-adam",
    )
    line_files = {"interpolation.png", "interpolation.json", "interpolation.csv"}
    assert {p.name for p in written(first, tmp_path)} == line_files
    assert {p.parent for p in written(first, tmp_path)} == {ab}
    assert {p.name for p in written(second, tmp_path)} == line_files | {"surface.png", "surface.json"}
    assert {p.parent for p in written(second, tmp_path)} == {ac}
    assert is_png(ab / "interpolation.png") and is_png(ac / "surface.png")  # A–B survived A–C
    again = ok(optlab(root, tmp_path, "measure", "landscape", "small", "large", "--steps", "0", *common))
    assert "replaced measurements/landscape-small-vs-large/interpolation.json" in again


@pytest.mark.slow
def test_noise_sharpness_hessian_write_a_figure_beside_their_numbers(root, tmp_path):
    out = ok(optlab(root, tmp_path, "measure", "noise", "small", "--pairs", "2", "--big-batch", "64", "-q"))
    assert {p.name for p in written(out, tmp_path)} == {"noise_scale.png", "noise_scale.json"}
    assert is_png(tmp_path / "measurements/noise-small-seed0/noise_scale.png")

    out = ok(optlab(root, tmp_path, "measure", "sharpness", "1", "--epsilon", "1e-3", "--subspace-dim", "3",
                    "--iterations", "1", "--examples", "64", "-q"))  # fmt: skip
    assert {p.name for p in written(out, tmp_path)} == {"sharpness.png", "sharpness.json"}
    data = json.loads((tmp_path / "measurements/sharpness-small/sharpness.json").read_text())
    full, sub = (r["value"] for r in data["results"])
    word = "larger" if sub > full else "smaller"
    assert f"the subspace (3-dim) value is {max(full, sub) / min(full, sub):.3g}× {word}" in out
    assert "Why they differ" in out

    hessian = ["-k", "2", "--trace-samples", "0", "--examples", "64", "--max-iterations", "10", "-q"]
    out = ok(optlab(root, tmp_path, "measure", "hessian", "small", *hessian))
    assert "stability limit (2+2β)/η = 76 for momentum at η = 0.05" in out
    assert {p.name for p in written(out, tmp_path)} == {"hessian.png", "hessian.json"}
    out = ok(optlab(root, tmp_path, "measure", "hessian", "3", *hessian))
    assert "no stability line: adam preconditions its step" in out
    data = json.loads((tmp_path / "measurements/hessian-adam/hessian.json").read_text())
    limit = data["preconditioned_stability_limit"]  # Adam: λ_max(P⁻¹H) against (2+2β₁)/((1−β₁)η)
    assert limit["rule"] == "(2+2β₁)/((1−β₁)η)" and limit["value"] == pytest.approx(3.8 / 0.1 / 1e-2)
    top = data["preconditioned_eigenvalues"][0]
    assert f"preconditioned sharpness λ_max(P⁻¹H) = {top:.4g}" in out
    assert is_png(tmp_path / "measurements/hessian-adam/hessian.png")


def reproduced(root: Path, cwd: Path, out: str, advice: dict) -> None:
    """Run the two `optlab measure noise` commands advise printed; they give advise's two B_noise values."""
    commands = [line.split()[1:] for line in out.splitlines() if line.startswith("  optlab measure noise")]
    assert len(commands) == 2
    for command, key in zip(commands, ("noise_at_init", "noise"), strict=True):
        again = ok(optlab(root, cwd, *command, "-q"))
        printed = float(re.search(r"B_simple = (\S+)", again).group(1))
        assert printed == pytest.approx(advice[key]["b_simple"], rel=1e-3)  # printed to 4 digits


ADVISE = ["--model", "mlp", "--dataset", "mnist1d", "--optimizer", "momentum", "--reference-lr", "0.05",
          "--reference-batch", "128", "--batch-sizes", "16,32", "--repeats", "3", "--max-seconds", "0.1",
          "--pairs", "3", "--big-batch", "128", "--seed", "3", "--check-steps", "10", "-q"]  # fmt: skip


@pytest.mark.slow
def test_advise_agrees_with_measure_noise_and_says_how_to_reproduce(root, tmp_path):
    out = ok(optlab(root, tmp_path, "advise", *ADVISE))
    folder = tmp_path / "measurements/advise-mnist1d-mlp-momentum-cpu"
    assert {p.name for p in written(out, tmp_path)} == {"warm-up-run", "advice.png", "advice.json"}
    advice = json.loads((folder / "advice.json").read_text())
    # The table in a pipe: plain text, every column, nothing cut.
    assert "…" not in out
    header = r"^\s*B\s+ms/update\s+s/epoch\s+steps/S_min\s+examples/E_min\s+time to target"
    assert re.search(header, out, re.M)
    reproduced(root, tmp_path, out, advice)
    # the lr moved by the noise-aware rule with its source, then checked by a short sweep on the model
    assert advice["transfers"][0]["rule"] == "noise" and "McCandlish et al. 2018" in out
    sweep = advice["lr_sweep"]
    assert sweep["checked"] == advice["recommended_lr"] and len(sweep["lrs"]) >= 5
    assert "lr sweep (loss after a short run at each lr" in out and "(10 updates at B = " in out


@pytest.mark.slow
def test_advise_at_a_run_given_by_name(root, tmp_path):
    out = ok(optlab(root, tmp_path, "advise", *ADVISE, "--run", "small"))
    folder = tmp_path / "measurements/advise-mnist1d-mlp-momentum-cpu-at-small"
    assert {p.name for p in written(out, tmp_path)} == {"advice.png", "advice.json"}  # no warm-up run
    assert "after training (the weights of" in out and str(root / "small") in out
    reproduced(root, tmp_path, out, json.loads((folder / "advice.json").read_text()))


BAD = [
    (["advise", "--model", "mlp", "--dataset", "mnist1d", "--batch-sizes", "4,x"], "--batch-sizes"),
    (["advise", "--model", "mlp", "--dataset", "mnist1d", "--pairs", "0"], "--pairs"),
    (
        ["advise", "--model", "mlp", "--dataset", "mnist1d", "--small-batch", "64", "--big-batch", "32"],
        "--small",
    ),
    (["advise", "--model", "mlp", "--dataset", "mnist1d", "--reference-lr", "-1"], "--reference-lr"),
    (["advise", "--model", "mlp", "--dataset", "mnist1d", "--reference-lr", "nan"], "--reference-lr"),
    (["advise", "--model", "mlp", "--dataset", "mnist1d", "--run", "no-such-run"], "no-such-run"),
    (["advise", "--model", "nope", "--dataset", "mnist1d"], "--model"),
    (["advise", "--model", "mlp", "--dataset", "mnist1d", "--statistic", "mean"], "--statistic"),
    (["advise", "--model", "mlp", "--dataset", "mnist1d", "--warm-epochs", "0"], "--warm-epochs"),
    (["advise", "--model", "mlp", "--dataset", "mnist1d", "--check-steps", "-1"], "--check-steps"),
    (["advise", "--model", "mlp", "--dataset", "mnist1d", "--three-ways", "nope.json"], "--three-ways"),
    (["measure", "timing", "--model", "mlp", "--dataset", "nope"], "--dataset"),
    (["measure", "timing", "--model", "mlp", "--dataset", "mnist1d", "--repeats", "2"], "--repeats"),
    (["measure", "timing", "--model", "mlp", "--dataset", "mnist1d", "--max-seconds", "-1"], "--max-seconds"),
    (["measure", "timing", "--model", "mlp", "--dataset", "mnist1d", "--batch-sizes", "0"], "--batch-sizes"),
    (["measure", "noise"], "RUN"),
    (["measure", "noise", "small", "--model", "mlp"], "not both"),
    (["measure", "noise", "99"], "'99'"),
    (["measure", "noise", "small", "--pairs", "-3"], "--pairs"),
    (["measure", "noise", "small", "--pairs", "x"], "--pairs"),
    (["measure", "sharpness", "small", "--epsilon", "0"], "--epsilon"),
    (["measure", "sharpness", "small", "--iterations", "0"], "--iterations"),
    (["measure", "sharpness", "small", "--subspace-dim", "-1"], "--subspace-dim"),
    (["measure", "hessian", "small", "-k", "0"], "--k"),
    (["measure", "hessian", "small", "--examples", "-1"], "--examples"),
    (["measure", "hessian", "/no/such/folder"], "/no/such/folder"),
    (["measure", "landscape", "small", "large", "--points", "1"], "--points"),
    (["measure", "landscape", "small", "large", "--steps", "1"], "--steps"),
    (["measure", "landscape", "small", "large", "--span", "0"], "--span"),
    (["measure", "landscape", "small", "large", "--bn", "freeze"], "--bn"),
    (["measure", "critical-batch", "small", "large", "--target", "nan"], "--target"),
    (["measure", "critical-batch", "small", "large", "--target", "1", "--metric", "nope"], "--metric"),
    (["measure", "critical-batch", "small", "large"], "--target"),
]


@pytest.mark.parametrize(("argv", "named"), BAD, ids=[" ".join(a[:3]) + f" {n}" for a, n in BAD])
def test_bad_input_is_one_line_exit_2_and_creates_nothing(
    fake_root, tmp_path, monkeypatch, capsys, argv, named
):
    from optlab.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPTLAB_RUNS", str(fake_root))
    before = {path: path.stat().st_mtime_ns for path in fake_root.rglob("*")}
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    assert err.startswith("error: ") and err.strip().count("\n") == 0 and named in err
    assert list(tmp_path.iterdir()) == []  # no measurements/ folder, nothing else
    assert {path: path.stat().st_mtime_ns for path in fake_root.rglob("*")} == before  # runs, index untouched


def test_out_that_is_a_file_is_refused(fake_root, tmp_path, monkeypatch, capsys):
    from optlab.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").write_text("x")
    with pytest.raises(SystemExit) as exit_:
        main(["measure", "hessian", str(fake_root / "small"), "--out", "taken"])
    assert exit_.value.code == 2 and "--out" in capsys.readouterr().err
    assert (tmp_path / "taken").read_text() == "x"


@pytest.mark.slow
def test_the_issues_advise_example_in_a_subprocess(root, tmp_path):
    result = optlab(
        root, tmp_path, "advise", "--model", "mlp", "--dataset", "mnist1d", "--batch-sizes", "4,x"
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_name_two_runs_share_is_refused_with_their_ids(tmp_path, monkeypatch, capsys):
    from optlab.cli import main
    from optlab.train import TrainConfig
    from optlab.train.runs import RunIndex

    index = RunIndex(tmp_path / "runs" / "index.sqlite")
    for study in ("s1", "s2"):
        folder = tmp_path / "runs" / study / "trial-0001"
        folder.mkdir(parents=True)
        (folder / "config.toml").write_text(TrainConfig().to_toml())
        index.start(folder, TrainConfig())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPTLAB_RUNS", str(tmp_path / "runs"))
    with pytest.raises(SystemExit) as exit_:
        main(["measure", "hessian", "trial-0001"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "ambiguous" in err and "1" in err and "2" in err
    assert not (tmp_path / "measurements").exists()


COMMANDS = [["advise"], *(["measure", name] for name in
            ("timing", "noise", "critical-batch", "sharpness", "hessian", "landscape"))]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_shows_flags_defaults_names_and_the_output_rule(command, monkeypatch, capsys):
    from optlab.cli import main

    monkeypatch.setenv("COLUMNS", "250")
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    text = capsys.readouterr().out
    assert exit_.value.code == 0
    assert "<bool>" not in text  # flags are flags
    assert "--no-quiet" in text or command == ["measure", "critical-batch"]  # the one command without bars
    assert "Output: --out DIR if given, else ./measurements/NAME/" in text
    assert "(default: ./measurements/NAME/)" in text
    if command[-1] in ("advise", "timing"):
        assert "see `optlab list models`" in text and "see `optlab list datasets`" in text
        assert "see `optlab list optimizers`" in text and "[default: auto]" in text
    else:
        assert "a run id or name from `optlab runs list`" in text
