"""Tables the CLI prints, never cut: one helper for every command (``list``, ``runs``, ``sweep``,
``measure``).

Without a terminal (a pipe, a log file, a test), a table is plain text at its full width: every digit and
every word of every cell, columns padded with spaces, one line per row, so ``| cat``, ``| grep`` and ``> log``
keep everything. In a terminal it is drawn by rich, and a cell too wide for the screen wraps onto further
lines (``overflow="fold"``) instead of ending in ``…``.

    from optlab.cli._tables import print_table

    print_table(["name", "lr"], [("sgd", 0.1), ("adam", 1e-3)], title="optimizers")
    print_table(["id", "val_acc"], [{"id": 1, "val_acc": 0.91}])  # rows may be dicts keyed by column

Cells: ``None`` prints as ``-``; a float as ``format(value, ".4g")`` (pass a string to show more digits);
anything else as ``str(value)``. ``justify`` gives a column's alignment (``"left"`` or ``"right"``); by
default columns whose cells are all numbers are right-aligned.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

Row = Sequence[Any] | Mapping[str, Any]


def cell(value: Any) -> str:
    """The text of one cell: ``-`` for None, 4 significant digits for a float, ``str`` otherwise."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _cells(columns: Sequence[str], rows: Iterable[Row]) -> tuple[list[list[str]], list[bool]]:
    """The rows as text, and for each column whether every non-empty cell is a number."""
    texts: list[list[str]] = []
    numeric = [True] * len(columns)
    seen = [False] * len(columns)  # a column of "-" only is not a number column
    for row in rows:
        values = [row.get(c) for c in columns] if isinstance(row, Mapping) else list(row)
        if len(values) != len(columns):
            raise ValueError(f"a table row has {len(values)} cells for {len(columns)} columns: {values!r}")
        for i, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, str) and _is_number(value):
                seen[i] = True  # a number already formatted by the caller ("0.9123") aligns as one
                continue
            if value == "-" or value == "":
                continue
            seen[i] = True
            if isinstance(value, bool) or not isinstance(value, int | float):
                numeric[i] = False
        texts.append([cell(v) for v in values])
    return texts, [n and s for n, s in zip(numeric, seen, strict=True)]


def _is_number(text: str) -> bool:
    try:
        float(text.replace("%", ""))
    except ValueError:
        return False
    return True


def _alignments(columns: Sequence[str], numeric: list[bool], justify: Mapping[str, str] | None) -> list[str]:
    justify = justify or {}
    return [justify.get(c, "right" if numeric[i] else "left") for i, c in enumerate(columns)]


def format_table(
    columns: Sequence[str],
    rows: Iterable[Row],
    *,
    title: str | None = None,
    justify: Mapping[str, str] | None = None,
) -> str:
    """The table as plain text at full width (no line is cut or wrapped); ``title`` is its first line."""
    texts, numeric = _cells(columns, rows)
    align = _alignments(columns, numeric, justify)
    widths = [max([len(c)] + [len(r[i]) for r in texts]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if a == "right" else v.ljust(w) for v, w, a in zip(values, widths, align, strict=True)
        ]
        return "  ".join(parts).rstrip()

    lines = [title] if title else []
    lines.append(line(list(columns)))
    lines += [line(r) for r in texts]
    return "\n".join(lines)


def print_table(
    columns: Sequence[str],
    rows: Iterable[Row],
    *,
    title: str | None = None,
    justify: Mapping[str, str] | None = None,
    file: IO[str] | None = None,
) -> None:
    """Print a table to ``file`` (default stdout): plain full-width text without a terminal, a rich table that
    wraps (never truncates) its cells in a terminal. See the module docstring for the cell formats."""
    file = file if file is not None else sys.stdout
    rows = list(rows)
    is_tty = getattr(file, "isatty", lambda: False)()
    if not is_tty:
        print(format_table(columns, rows, title=title, justify=justify), file=file, flush=True)
        return
    from rich.console import Console
    from rich.table import Table

    texts, numeric = _cells(columns, rows)
    align = _alignments(columns, numeric, justify)
    table = Table(title=title, show_lines=False)
    for name, side in zip(columns, align, strict=True):
        # fold: a cell wider than its share of the screen continues on the next line, never ends in "…"
        table.add_column(name, justify=side, overflow="fold")  # type: ignore[arg-type]
    for row in texts:
        table.add_row(*row)
    Console(file=file, highlight=False).print(table)
