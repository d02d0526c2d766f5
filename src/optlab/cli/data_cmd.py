"""``optlab data download``: fetch a dataset's official files on a machine that is online."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(
        help="Datasets: fetch the official files on a machine that is online.", no_args_is_help=True
    )
    app.add_typer(data_app, name="data")
    data_app.command("download")(data_download)


def data_download(
    name: Annotated[str, typer.Argument(help="fashion-mnist or mnist.")],
    dest: Annotated[Path | None, typer.Option(help="Folder (default: ~/.cache/optlab/NAME).")] = None,
) -> None:
    """Fetch the official IDX files over HTTPS and check their checksums (needs network)."""
    from optlab.data import download

    print(f"{name}: files in {download(name, dest)}")
