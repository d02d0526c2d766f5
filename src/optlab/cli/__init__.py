"""The ``optlab`` command. Thin: parses, looks names up in the registries, calls the layers below.

Each command group lives in its own module with a ``register(app)`` function. User mistakes
(:class:`~optlab.errors.OptlabError`, ``ValueError``) become one line on stderr and an exit code:
0 ok, 1 run failed, 2 bad usage. ``OPTLAB_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys

import typer

from optlab.errors import ConfigError, OptlabError

app = typer.Typer(
    name="optlab",
    help="optlab: mini-batch optimisation, from the lecture to your own model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root() -> None:
    """optlab: mini-batch optimisation, from the lecture to your own model."""


_registered = False


def _register_commands() -> None:
    global _registered
    if _registered:  # main() may run several times in one process (tests)
        return
    from optlab.cli import (
        catalog,
        data_cmd,
        demo,
        explore,
        lecture,
        measure,
        runs,
        speedrun,
        sweep,
        train_cmd,
    )

    for module in (train_cmd, runs, data_cmd, lecture, measure, sweep, speedrun, demo, explore, catalog):
        module.register(app)
    _registered = True


def fail(message: str, exit_code: int = 2) -> typer.Exit:
    """Print one error line and return the ``typer.Exit`` to raise."""
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(exit_code)


def main(argv: list[str] | None = None) -> None:
    try:  # typer >= 0.2x carries its own click; older ones use click itself
        from typer._click import exceptions as click_errors
    except ImportError:
        from click import exceptions as click_errors

    from optlab.cli import _help

    _help.install()
    _register_commands()
    try:
        # standalone_mode=False: click's errors reach us, so a usage error is one line like every other error
        code = app(args=argv, standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except click_errors.NoArgsIsHelpError as error:  # `optlab` or `optlab runs` alone: the help
        error.show()
        sys.exit(error.exit_code)
    except click_errors.UsageError as error:
        if os.environ.get("OPTLAB_DEBUG"):
            raise
        print(f"error: {_help.usage_line(error)}", file=sys.stderr)
        sys.exit(error.exit_code)
    except click_errors.ClickException as error:
        print(f"error: {error.format_message()}", file=sys.stderr)
        sys.exit(error.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(1)
    except (OptlabError, ValueError) as error:  # invalid hyperparameters raise ValueError, as in torch.optim
        if os.environ.get("OPTLAB_DEBUG"):
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(error.exit_code if isinstance(error, OptlabError) else ConfigError.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
