"""The shared table helper: every digit without a terminal; wrapped, never truncated, in one."""

import io
import re

import pytest

from optlab.cli._tables import format_table, print_table

LONG = "weight_decay=0.0001, trust_coefficient=0.001, eps=1e-08, momentum=0.9, nesterov=false"


def test_plain_text_keeps_every_character_without_a_terminal():
    out = io.StringIO()  # not a tty
    print_table(["name", "defaults", "lr"], [("lars", LONG, 1.0), {"name": "x", "lr": 1e-3}], file=out)
    text = out.getvalue()
    assert LONG in text  # not cut at 80 columns, not wrapped
    assert "…" not in text
    lines = text.splitlines()
    assert len(lines) == 3  # header + 2 rows, one line each
    assert lines[2].split() == ["x", "-", "0.001"]
    # numbers right-aligned: the lr column ends at the same column on every line
    assert len({len(line) for line in lines}) == 1


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_wraps_instead_of_truncating(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    out = _Tty()
    print_table(["name", "defaults"], [("lars", LONG)], file=out)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # drop the colour codes
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 60
    # every fragment of the long cell is there, across lines
    joined = "".join(text.replace("│", " ").split())
    assert "".join(LONG.split()) in joined


def test_row_length_must_match_columns():
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        format_table(["a", "b", "c"], [(1, 2)])
