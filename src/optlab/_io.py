"""Atomic file writes shared by every layer: a reader sees the old file or the complete new one, never a part.

Each write goes to a temporary file in the same folder (same file system), is flushed to disk, and is renamed
over the target with ``os.replace`` (atomic on POSIX). JSON (:func:`write_json`), CSV (:func:`write_csv`) and
figures (:func:`pyplot`, :func:`save_figure`) are written here and nowhere else. No torch import here, and
matplotlib only when a figure is drawn, so light commands stay fast.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file + fsync + ``os.replace``), creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def json_ready(value: Any) -> Any:
    """``value`` as plain JSON: NaN/inf become strings (JSON has neither), tensors and numpy values lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if hasattr(value, "tolist"):  # torch tensors, numpy arrays and numpy scalars
        return json_ready(value.tolist())
    return value


def write_json(path: str | Path, data: Any, *, sort_keys: bool = False) -> None:
    text = json.dumps(json_ready(data), indent=2, sort_keys=sort_keys, allow_nan=False)
    atomic_write_text(path, text + "\n")


def csv_cell(value: Any) -> Any:
    """One CSV cell: ``None`` empty, a float in its shortest round-trip form (``repr``), else as is."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(float(value))  # float(): a NumPy float's repr would be np.float64(…)
    return value


def write_csv(
    path: str | Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> None:
    """Write ``rows`` (dicts) to ``path`` atomically with a header; ``columns`` default to the union of the
    rows' keys in first-seen order, a missing key is an empty cell. Floats: :func:`csv_cell`."""
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: csv_cell(row.get(key)) for key in columns})
    atomic_write_text(path, buffer.getvalue())


@functools.cache
def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend, chosen here once for every layer: figures
    are files, drawn in worker processes and on machines without a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Any, path: str | Path, dpi: int = 150, **savefig_kwargs: Any) -> Path:
    """Save a matplotlib figure atomically (format from the suffix, PNG by default) and close it."""
    plt = pyplot()
    path = Path(path)
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format=path.suffix.lstrip(".") or "png", dpi=dpi, **savefig_kwargs)
    finally:
        plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return path
