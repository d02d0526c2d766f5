"""`optlab train`'s speed-run flags (--flip, --translate, --label-smoothing, --tta, --channels-last,
--precision): each lands in the run's config.toml, overrides a --config file's value only when given, and a
bad value is one line, exit 2 and nothing created."""

from pathlib import Path

import pytest
import tomli_w
import typer

from optlab.cli import _train, train_cmd
from optlab.train import TrainConfig

TINY = ["--dataset", "mnist1d", "--model", "mlp", "--max-steps", "2", "-q"]
# Every speed-run field away from its default, as flags and as the same settings in a config file.
FLAGS = ["--flip", "--translate", "2", "--label-smoothing", "0.1", "--tta", "--channels-last",
         "--precision", "bf16"]  # fmt: skip
GIVEN = dict(flip=True, translate=2, label_smoothing=0.1, tta=True, channels_last=True, precision="bf16")
IN_FILE = dict(flip=True, translate=3, label_smoothing=0.2, tta=True, channels_last=True, precision="bf16")
FILE = tomli_w.dumps(IN_FILE)


def speed_fields(config):
    return {name: getattr(config, name) for name in GIVEN}


def test_each_flag_lands_in_the_run_config(optlab, tmp_path):
    proc = optlab("train", *TINY, *FLAGS, "--run-dir", "run")
    assert proc.returncode == 0, proc.stderr
    assert speed_fields(TrainConfig.load(tmp_path / "run" / "config.toml")) == GIVEN


def test_flags_override_the_config_file_and_absent_flags_leave_it(optlab, tmp_path):
    (tmp_path / "speed.toml").write_text(FILE)
    proc = optlab("train", *TINY, "--config", "speed.toml", "--no-flip", "--translate", "1",
                  "--no-channels-last", "--precision", "fp32", "--run-dir", "run")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    saved = speed_fields(TrainConfig.load(tmp_path / "run" / "config.toml"))
    # given: flip, translate, channels_last, precision; absent: label_smoothing and tta keep the file's values
    assert saved == {**IN_FILE, "flip": False, "translate": 1, "channels_last": False, "precision": "fp32"}


def parsed(*args):
    """ctx.params of `optlab train ARGS` (parsed by the real command, nothing run)."""
    app = typer.Typer()
    train_cmd.register(app)
    return typer.main.get_command(app).make_context("train", list(args)).params


@pytest.mark.parametrize(
    ("flag", "field", "value"),
    [
        (["--no-flip"], "flip", False),
        (["--translate", "0"], "translate", 0),
        (["--label-smoothing", "0.05"], "label_smoothing", 0.05),
        (["--no-tta"], "tta", False),
        (["--no-channels-last"], "channels_last", False),
        (["--precision", "fp32"], "precision", "fp32"),
    ],
)
def test_one_flag_overrides_only_its_field(tmp_path, flag, field, value):
    (tmp_path / "speed.toml").write_text(FILE)
    params = parsed("--config", str(tmp_path / "speed.toml"), *flag)
    assert speed_fields(_train.config_from_flags(params)) == {**IN_FILE, field: value}
    defaults = speed_fields(TrainConfig())  # without a file: the flag on top of the defaults
    assert speed_fields(_train.config_from_flags(parsed(*flag))) == {**defaults, field: value}


def test_unset_flags_are_none():
    params = parsed()
    assert all(params[name] is None for name in GIVEN)  # so a --config file's values stand


def test_nproc_relaunch_passes_no_flags_on(monkeypatch):
    seen = []
    monkeypatch.setattr("optlab.train.distributed.launch", lambda args, n, r: seen.append(args) or 0)
    params = parsed("--config", "speed.toml", "--no-flip", "--tta", "--translate", "1", "--nproc", "2", "-q")
    _train.launch({**params, "run_dir": Path("run")}, None, 2, 0)
    args = seen[0]
    assert "--no-flip" in args and "--tta" in args and args[args.index("--translate") + 1] == "1"
    assert "--nproc" not in args and "--no-quiet" not in args and "--no-tta" not in args


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--precision", "fp16"], "invalid value for --precision: 'fp16' (must be one of fp32, bf16)"),
        (["--translate", "-1"], "invalid value for --translate: -1 (must be an integer >= 0"),
        (
            ["--label-smoothing", "1.5"],
            "invalid value for --label-smoothing: 1.5 (must be a number in [0, 1))",
        ),
    ],
)
def test_bad_value_is_one_line_exit_2_nothing_created(optlab, tmp_path, args, expected):
    proc = optlab("train", *TINY, *args, "--run-dir", "run")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("error: " + expected), lines[0]
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()
