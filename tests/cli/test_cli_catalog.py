"""`optlab list` reads the registries; a bad kind is one line and exit 2 (run as a user would)."""

import subprocess
import sys

import pytest

from optlab import data, models, optim, schedules


def optlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optlab", *args], capture_output=True, text=True, timeout=120, env=_env()
    )


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "COLUMNS": "250"}


@pytest.mark.parametrize(
    ("kind", "names"),
    [
        ("optimizers", optim.names()),
        ("schedules", schedules.names()),
        ("models", models.names()),
        ("datasets", data.names()),
    ],
)
def test_list_shows_every_registry_entry(kind: str, names: list[str]) -> None:
    result = optlab("list", kind)
    assert result.returncode == 0, result.stderr
    for name in names:
        assert name in result.stdout


def test_unknown_kind_is_one_line_exit_2() -> None:
    result = optlab("list", "widgets")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown kind 'widgets' for 'optlab list'; valid: optimizers, schedules, models, datasets"
    ]


def test_top_level_help_lists_the_command_groups() -> None:
    result = optlab("--help")
    assert result.returncode == 0
    for command in ("train", "lecture", "measure", "advise", "sweep", "demo", "list", "runs", "plot"):
        assert command in result.stdout
