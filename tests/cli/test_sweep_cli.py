"""``optlab sweep`` and ``optlab sweep report`` as a user runs them: exit codes, one-line errors, a table."""

from __future__ import annotations

import pytest
import typer

import optlab.cli
from optlab.cli import sweep as sweep_cli

pytestmark = pytest.mark.usefixtures("isolated_env", "one_torch_thread")  # as in tests/sweep


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run ``optlab ARGS`` through the real entry point (error handling included), with only the sweep
    commands registered so these tests do not depend on the other command modules."""
    app = typer.Typer(name="optlab", add_completion=False, pretty_exceptions_enable=False)
    app.callback()(lambda: None)
    sweep_cli.register(app)
    monkeypatch.setattr(optlab.cli, "app", app)  # a fresh app: the real one is left as it is
    monkeypatch.setattr(optlab.cli, "_register_commands", lambda: None)

    def run(*args: str) -> tuple[int, str, str]:
        try:
            optlab.cli.main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "bogus=1,2"], "error: invalid value for --grid: cannot sweep 'bogus'"),
        (["--grid", "lr=1e-4:1e-1"], "error: invalid value for --grid: lr is a range"),
        (["--grid", "lr=0.1", "--optimizer", "adamm"], "adamm"),
        (["--grid", "lr=0.1", "--model", "resnet"], "error: invalid value for --model: 'resnet'"),
        (["--grid", "lr=0.1", "--workers", "0"], "error: invalid value for --workers: 0"),
        ([], "error: nothing to sweep"),
        (["--study", "x", "--epochs", "3"], "error: --epochs needs --grid"),
    ],
)
def test_user_mistakes_are_one_line_errors(run_cli, args, message):
    code, _, err = run_cli("sweep", *args)
    assert code == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last and "Traceback" not in err


def test_sweep_then_report(run_cli, tmp_path):
    storage = f"sqlite:///{tmp_path / 's.sqlite'}"
    args = ["--grid", "batch_size=32,64", "--grid", "seed=0,1", "--dataset", "ordered-abc", "--epochs", "1"]
    code, out, err = run_cli("sweep", *args, "--storage", storage, "--study", "cli", "--quiet")
    assert code == 0, err
    assert "4/4 settled, 4 complete" in out and "optlab sweep report cli" in out
    code, out, err = run_cli("sweep", "report", "cli", "--storage", storage, "--out", str(tmp_path / "rep"))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["batch_size", "n", "accuracy", "±"]
    assert any(line.startswith("best: batch_size=") and "(std over 2 seeds)" in line for line in lines)
    assert (tmp_path / "rep" / "heatmap.png").exists() is False  # no lr swept: no heat map
    assert (tmp_path / "rep" / "curves.png").exists()
    code, _, err = run_cli("sweep", "report", "nope", "--storage", storage)
    assert code == 2 and "error: no sweep study 'nope'" in err and "cli" in err
