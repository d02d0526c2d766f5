"""``optlab list``: what optlab has, read from the registries (the same ones the CLI and tests use)."""

from __future__ import annotations

import typer

from optlab.errors import ConfigError

KINDS = ("optimizers", "schedules", "models", "datasets")


def _rows(kind: str) -> tuple[list[str], list[tuple[str, ...]]]:
    if kind == "optimizers":
        from optlab import optim

        header = ["name", "class", "defaults", "description", "paper"]
        rows = []
        for name in optim.names():
            entry = optim.info(name)
            # the values train and sweep use when --lr / --hp are not given
            defaults = ", ".join(f"{key}={value}" for key, value in entry.defaults.items())
            rows.append((name, entry.cls.__name__, defaults, entry.description, entry.paper))
        return header, rows
    if kind == "schedules":
        from optlab import schedules

        entries = [schedules.info(name) for name in schedules.names()]
        return ["name", "description", "paper"], [(e.name, e.description, e.paper) for e in entries]
    if kind == "models":
        from optlab import models

        entries = [models.info(name) for name in models.names()]
        return ["name", "description", "inputs", "paper"], [
            (e.name, e.description, e.inputs, e.paper) for e in entries
        ]
    from optlab import data

    entries = [data.info(name) for name in data.names()]
    return ["name", "description"], [(e.name, e.description) for e in entries]


def register(app: typer.Typer) -> None:
    @app.command("list")
    def list_(
        kind: str = typer.Argument(
            "optimizers", help=f"What to list: {', '.join(KINDS)}.", show_default="optimizers"
        ),
    ) -> None:
        """List the optimizers, schedules (lr, then batch size), models or datasets optlab knows, with their
        papers."""
        if kind not in KINDS:
            raise ConfigError(f"unknown kind {kind!r} for 'optlab list'; valid: {', '.join(KINDS)}")
        from optlab.cli._tables import print_table

        header, rows = _rows(kind)
        print_table(header, rows, title=f"optlab {kind}")
        if kind == "schedules":  # batch-size schedules (examples seen -> B) have their own registry
            from optlab import schedules

            entries = [schedules.batch_schedule_info(name) for name in schedules.batch_schedule_names()]
            rows = [(e.name, ", ".join(e.options), e.description, e.paper) for e in entries]
            header = ["name", "options", "description", "paper"]
            print_table(header, rows, title="optlab batch-size schedules")

    @app.command()
    def version() -> None:
        """Print the optlab and torch versions."""
        import torch

        import optlab

        print(f"optlab {optlab.__version__}, torch {torch.__version__}")
