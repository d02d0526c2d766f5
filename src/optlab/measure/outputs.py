"""Where the measurement commands write: one rule for ``optlab measure ...`` and ``optlab advise``.

Every command writes into ``--out DIR`` if given, else into ``./measurements/NAME/``, where ``NAME`` names the
command and what it measured (the run, or the runs compared, or model/dataset/optimizer/device). So
``landscape RUN_A RUN_B`` and ``landscape RUN_A RUN_C`` write two folders; measuring the same thing again
replaces that folder's files (and says so). Each measurement writes its figure (PNG) beside its numbers
(JSON, CSV where tabular) and prints every path it wrote. Nothing is created before every argument is valid.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from optlab.errors import OptlabError

MEASUREMENTS_ROOT = Path("measurements")

OUTPUT_RULE = (
    "Output: --out DIR if given, else ./measurements/NAME/ (NAME: the command and what it measured, e.g. "
    "landscape-RUN_A-vs-RUN_B); measuring the same thing again replaces that folder's files. Writes a PNG "
    "beside the numbers (JSON/CSV) and prints every path it wrote."
)


def slug(text: str, limit: int = 80) -> str:
    """``text`` as a file-name part: letters, digits, '.', '_' and '-' only."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-")[:limit] or "x"


def output_name(command: str, *parts: str) -> str:
    """``command-part1-part2...`` as a folder name (each part slugged)."""
    return "-".join([slug(command), *(slug(part) for part in parts if part)])


def runs_digest(paths: Sequence[str | Path]) -> str:
    """Six hex digits identifying a set of run folders (their resolved paths, order-free)."""
    text = "\n".join(sorted(str(Path(p).resolve()) for p in paths))
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def output_dir(out: Path | None, name: str) -> Path:
    """``out`` or ``./measurements/name``, created. Call only once every argument has been checked."""
    path = out if out is not None else MEASUREMENTS_ROOT / name
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OptlabError(f"cannot create output folder {path}: {error.strerror or error}") from None
    return path


def report_written(paths: Sequence[Path], existed: set[Path] | None = None) -> list[str]:
    """One line per written file: ``wrote PATH`` (``replaced PATH`` when a file of that name was there)."""
    existed = existed or set()
    return [f"  {'replaced' if path in existed else 'wrote'} {path}" for path in paths]
