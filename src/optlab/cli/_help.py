"""How the CLI shows itself: flags shown as flags in ``--help``, usage errors as one line.

typer 0.29's rich help prints a type column for every option, ``<bool>`` for a flag too (even ``--help``),
which reads as "give a value" — and ``--log-steps true`` then fails. :func:`install` makes a flag's type
column empty, so ``--log-steps / --no-log-steps`` stands alone.

:func:`usage_line` turns click's usage errors (unknown option, a value of the wrong type, a missing
argument) into the one ``error: ...`` line every optlab error is, instead of typer's boxed panel.
"""

from __future__ import annotations

import re
from typing import Any

_FLAG_VALUE = re.compile(
    r"unexpected extra argument(?:s|\(s\))? \((true|false|yes|no|on|off|1|0)\b", re.IGNORECASE
)


def install() -> None:
    """Show no ``<bool>`` type beside flags in every command's ``--help`` (idempotent)."""
    from typer import core

    original = getattr(core.TyperOption, "display_type_rich", None)
    if original is None or getattr(original, "_optlab", False):
        return  # a typer without the type column (or already installed): nothing to change

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) and self.metavar is None:
            return None  # a flag takes no value
        return original(self, ctx)

    display_type_rich._optlab = True  # type: ignore[attr-defined]
    core.TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]

    # A default given as text (show_default="10, or as many as --max-steps needs") is shown as written,
    # not wrapped in parentheses: "[default: 128]", like a default given as a value.
    for cls in (core.TyperOption, core.TyperArgument):
        default_string = getattr(cls, "_get_default_string", None)
        if default_string is None:
            continue

        def plain(self: Any, *args: Any, _inner: Any = default_string, **kwargs: Any) -> str:
            if isinstance(getattr(self, "show_default", None), str):
                return self.show_default
            return _inner(self, *args, **kwargs)

        cls._get_default_string = plain  # type: ignore[method-assign]


def usage_line(error: Any) -> str:
    """One line for a click usage error: its message, a hint for a value given to a flag, where help is."""
    message = error.format_message().strip().replace("\n", " ")
    if _FLAG_VALUE.search(message):
        message += " (flags take no value: write --NAME or --no-NAME)"
    ctx = getattr(error, "ctx", None)
    where = "optlab --help"
    if ctx is not None:  # `python -m optlab train` is `optlab train` to the reader
        root = ctx.find_root().command_path
        where = "optlab" + ctx.command_path[len(root) :] + " --help"
    return f"{message} (see `{where}`)"
