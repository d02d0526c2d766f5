"""What the ``optlab measure`` commands and ``optlab advise`` share: their options, argument checks (all made
before anything is created), progress bars on stderr, and :class:`Writer`, which writes a measurement's files
by the one rule of :mod:`optlab.measure.outputs` and prints their paths."""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from optlab._io import write_csv, write_json
from optlab.cli._device import DEVICE_HELP
from optlab.errors import ConfigError
from optlab.measure.outputs import OUTPUT_RULE, output_dir, output_name, report_written

EXIT_CODES = (
    "Exit codes: 0 ok, 1 the measurement failed (missing data, a checkpoint that does not fit), 2 bad usage "
    "(nothing is written)."
)
EPILOG = f"{OUTPUT_RULE}\n\n{EXIT_CODES}"
RUN_HELP = "a run folder, or a run id or name from `optlab runs list` (as `optlab runs show` takes)"
Run = Annotated[str, typer.Argument(metavar="RUN", help=f"The run: {RUN_HELP}.")]
Quiet = Annotated[bool, typer.Option("--quiet/--no-quiet", "-q", help="No progress bars on stderr.")]
OutDir = Annotated[
    Path | None,
    typer.Option(
        "--out", metavar="DIR", help="Folder for the figure and data files (default: ./measurements/NAME/)."
    ),
]
Threads = Annotated[
    int | None,
    typer.Option(
        metavar="N",
        help="CPU: torch threads while timing (1 is steadier on a machine shared with other jobs) "
        "(default: torch's).",
    ),
]
Statistic = Annotated[
    str,
    typer.Option(help="Time per update: median, or min (steadier on a machine busy with other work)."),
]
Examples = Annotated[
    int,
    typer.Option(
        metavar="N", help="Evaluate on the first N training examples (0: all; curvature costs grow with N)."
    ),
]
Seed = Annotated[int, typer.Option(help="Random seed (directions, starting points, batch sampling).")]
DataDir = Annotated[
    str | None,
    typer.Option(metavar="DIR", help="Where the dataset files are (default: the dataset's own cache)."),
]
ModelName = Annotated[str, typer.Option(metavar="NAME", help="Model name (see `optlab list models`).")]
DatasetName = Annotated[str, typer.Option(metavar="NAME", help="Dataset name (see `optlab list datasets`).")]
OptimizerName = Annotated[
    str, typer.Option(metavar="NAME", help="Optimizer name (see `optlab list optimizers`).")
]
Device = Annotated[str, typer.Option(help=DEVICE_HELP)]
SmallBatch = Annotated[
    int, typer.Option(help="Noise scale: the small batch size, examples (best below the expected B_noise).")
]
BigBatch = Annotated[
    int, typer.Option(help="Noise scale: the big batch size, examples (at most the training set).")
]
Pairs = Annotated[
    int, typer.Option(help="Noise scale: independent (small, big) batch pairs averaged (error ∝ 1/√pairs).")
]
Repeats = Annotated[int, typer.Option(help="Timing: timed updates per batch size, at most.")]
MaxSeconds = Annotated[float, typer.Option(help="Timing: time budget per batch size, seconds.")]


# -- helpers -------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def progress_bars(quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """Yields ``update(task, done, total)``; one rich bar per task name, shown only on a terminal."""
    if quiet or not sys.stderr.isatty():
        yield lambda task, done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    tasks: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:

        def update(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = bar.add_task(task, total=total)
            bar.update(tasks[task], completed=done, total=total)

        yield update


def parse_batch_sizes(text: str | None) -> list[int] | None:
    """``"1,2,4"`` → ``[1, 2, 4]``; anything else is a one-line :class:`ConfigError`."""
    if text is None:
        return None
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(
            f"invalid value for --batch-sizes: {text!r} (comma-separated integers, e.g. 1,2,4,8)"
        ) from None
    if not sizes or min(sizes) < 1:
        raise ConfigError(f"invalid value for --batch-sizes: {text!r} (integers >= 1)")
    return sizes


def check_name(flag: str, name: str, valid: list[str]) -> None:
    if name not in valid:
        raise ConfigError(
            f"invalid value for {flag}: unknown name {name!r}; choose one of: {', '.join(valid)}"
        )


def at_least(flag: str, value: float | None, low: float, what: str = "an integer") -> None:
    """``value >= low`` (and finite), else a ConfigError naming the flag, the value and what is valid."""
    if value is not None and not (math.isfinite(value) and value >= low):
        raise ConfigError(f"invalid value for {flag}: {value!r} ({what} >= {low:g})")


def positive(flag: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"invalid value for {flag}: {value!r} (a number > 0)")


def check_out(out: Path | None) -> None:
    """--out must be a folder or not exist yet (it is created only when the files are written)."""
    if out is not None and out.exists() and not out.is_dir():
        raise ConfigError(f"invalid value for --out: {out} exists and is not a folder")


def check_statistic(statistic: str) -> None:
    if statistic not in ("median", "min"):
        raise ConfigError(f"invalid value for --statistic: {statistic!r} (valid: median, min)")


def load_dataset(name: str, data_dir: str | None) -> Any:
    from optlab import data

    check_name("--dataset", name, data.names())
    return data.load(name, data_dir=data_dir)


class Writer:
    """Writes a measurement's files into ``out``, else ./measurements/COMMAND-PART1-PART2.../ (made here, once
    every argument is checked), and prints the paths."""

    def __init__(self, out: Path | None, command: str, *parts: str):
        self.folder = output_dir(out, output_name(command, *parts))
        self.paths: list[Path] = []
        self.existed: set[Path] = set()

    def path(self, name: str) -> Path:
        path = self.folder / name
        if path.exists():
            self.existed.add(path)
        self.paths.append(path)
        return path

    def json(self, name: str, data: Any) -> None:
        write_json(self.path(name), data)

    def csv(self, name: str, rows: list[dict[str, Any]]) -> None:
        write_csv(self.path(name), rows)

    def report(self) -> None:
        for line in report_written(self.paths, self.existed):
            print(line)
