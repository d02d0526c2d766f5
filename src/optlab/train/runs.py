"""Runs as data: the run folder's files and the SQLite index ``runs/index.sqlite``.

A run folder holds ``config.toml`` (fully resolved), ``metrics.csv`` (one row per epoch), ``summary.json``,
``checkpoints/last.pt`` and ``final.pt``. Every file is written whole and atomically (temp file +
``os.replace``), so a reader sees either the previous version or the complete new one.

The index has one row per run folder, with a ``status`` column (``running`` → ``completed`` | ``failed``); the
summary is written before the row is marked completed, so a row is never complete before its files are. The
index lives in the runs root (``$OPTLAB_RUNS`` or ``./runs``), so ``optlab runs list/show/compare`` never scan
folders. A row still ``running`` whose process is gone is shown as ``interrupted`` (resume it with
``--resume``).

``metrics.csv`` columns, one row per epoch (a run cut short by ``max_steps`` ends with a partial epoch):
``epoch``, ``step`` (updates so far), ``lr`` (of the epoch's last update), ``train_loss`` (mean minibatch loss
over the epoch's updates, train mode), ``train_acc`` (fraction of the epoch's training examples classified
correctly when their batch was used), ``val_loss``/``val_acc`` with a validation split, else
``test_loss``/``test_acc`` (after the epoch, eval mode), ``grad_norm`` (mean L2 norm of the whole gradient,
see :mod:`optlab.train.stats`), ``updates`` (in this epoch), ``time_per_update`` and ``epoch_time`` (seconds
in the update loop, evaluation excluded), ``eval_time``. ``--log-steps`` adds ``steps.csv``: ``step, lr,
loss`` per update."""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

from optlab import _io
from optlab._io import atomic_write_text, write_csv  # write_csv: metrics.csv, steps.csv
from optlab.errors import ConfigError, OptlabError

INDEX_NAME = "index.sqlite"
STATUSES = ("running", "completed", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    pid INTEGER,
    dataset TEXT, model TEXT, optimizer TEXT, lr REAL, batch_size INTEGER, epochs INTEGER, seed INTEGER,
    description TEXT,
    config_json TEXT NOT NULL,
    summary_json TEXT,
    study TEXT
)
"""


def runs_root() -> Path:
    """Where default run folders and the index live: ``$OPTLAB_RUNS`` or ``./runs``."""
    return Path(os.environ.get("OPTLAB_RUNS") or "runs")


def default_run_dir(config: Any, root: Path | None = None) -> Path:
    """A new folder name under the runs root: UTC timestamp + a short description of the run."""
    root = root or runs_root()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    words = config.description or f"{config.dataset}-{config.model}-{config.optimizer}"
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", words).strip("-")[:48] or "run"
    path = root / f"{stamp}-{slug}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{stamp}-{slug}-{n}"
    return path


def prepare_run_dir(run_dir: Path) -> Path | None:
    """Create ``run_dir`` and ``run_dir/checkpoints`` and prove they are writable — before any training
    starts. Returns the topmost folder this created (None if ``run_dir`` existed), for
    :func:`remove_empty_dirs` to take back if the run then fails to start."""
    run_dir = Path(run_dir)
    top = None
    for folder in (run_dir, *run_dir.parents):
        if folder.exists():
            break
        top = folder
    try:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        probe = run_dir / "checkpoints" / ".write-test"
        atomic_write_text(probe, "ok")
        probe.unlink()
    except OSError as error:
        raise OptlabError(f"cannot write to run directory {run_dir}: {error.strerror or error}") from None
    return top


def remove_empty_dirs(top: Path | None) -> None:
    """Remove ``top`` if it holds nothing but empty folders (a run that failed to start leaves nothing)."""
    if top is None or not top.is_dir():
        return
    if any(path.is_file() or path.is_symlink() for path in top.rglob("*")):
        return
    for folder in sorted((p for p in top.rglob("*")), key=lambda p: len(p.parts), reverse=True):
        folder.rmdir()
    top.rmdir()


# -- metrics.csv ---------------------------------------------------------------------------------------------
def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Read a metrics CSV back; numbers become int/float, empty cells ``None``."""
    try:
        with open(path, newline="") as handle:
            return [
                {key: _parse_number(value) for key, value in row.items()} for row in csv.DictReader(handle)
            ]
    except OSError as error:
        raise OptlabError(f"cannot read {path}: {error.strerror or error}") from None


def _parse_number(text: str | None) -> Any:
    if text is None or text == "":
        return None
    for kind in (int, float):
        with suppress(ValueError):
            return kind(text)
    return text


def write_json(path: Path, data: dict[str, Any]) -> None:
    _io.write_json(path, data, sort_keys=True)


# -- the SQLite index ----------------------------------------------------------------------------------------
class RunIndex:
    """The runs index: one row per run folder. Every write is one transaction."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else runs_root() / INDEX_NAME

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=30)
            connection.row_factory = sqlite3.Row
            with connection:
                connection.execute(_SCHEMA)
                columns = {row["name"] for row in connection.execute("PRAGMA table_info(runs)")}
                if "study" not in columns:  # an index written before runs had a study
                    connection.execute("ALTER TABLE runs ADD COLUMN study TEXT")
        except (OSError, sqlite3.Error) as error:
            raise OptlabError(f"cannot open the runs index {self.path}: {error}") from None
        return connection

    def start(self, run_dir: Path, config: Any, study: str | None = None) -> int:
        """Insert (or, on resume, reset to ``running``) the row of ``run_dir``; returns the run's id.
        ``study`` names the sweep study a trial belongs to (shown by ``optlab runs list``)."""
        path = str(Path(run_dir).resolve())
        now = _now()
        values = {
            "path": path,
            "name": self._name(Path(run_dir)),
            "created": now,
            "updated": now,
            "status": "running",
            "pid": os.getpid(),
            "dataset": config.dataset,
            "model": config.model,
            "optimizer": config.optimizer,
            "lr": config.lr,
            "batch_size": config.batch_size,
            "epochs": config.epochs,
            "seed": config.seed,
            "description": config.description,
            "config_json": json.dumps(config.to_dict(), sort_keys=True),
            "study": study,
        }
        columns = ", ".join(values)
        marks = ", ".join(f":{key}" for key in values)
        updates = ", ".join(f"{key}=excluded.{key}" for key in values if key not in ("path", "created"))
        with closing(self._connect()) as connection, connection:
            connection.execute(
                f"INSERT INTO runs ({columns}) VALUES ({marks}) "
                f"ON CONFLICT(path) DO UPDATE SET {updates}, summary_json=NULL",
                values,
            )
            row = connection.execute("SELECT id FROM runs WHERE path = ?", (path,)).fetchone()
        return int(row["id"])

    def _name(self, run_dir: Path) -> str:
        """The run's name: its folder relative to the index's folder (``20261130-...-adam``,
        ``sweeps/bars-1a2b3c4d/trial-0007``), unique as folders are; else the folder's own name."""
        try:
            return run_dir.resolve().relative_to(self.path.resolve().parent).as_posix()
        except ValueError:
            return run_dir.name

    def finish(self, run_id: int, status: str, summary: dict[str, Any]) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        with closing(self._connect()) as connection, connection:
            connection.execute(
                "UPDATE runs SET status = ?, updated = ?, summary_json = ? WHERE id = ?",
                (status, _now(), json.dumps(_io.json_ready(summary), sort_keys=True), run_id),
            )

    def list(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with closing(self._connect()) as connection:
            rows = connection.execute("SELECT * FROM runs ORDER BY id").fetchall()
        return [_row(row) for row in rows]

    def get(self, key: str | int) -> dict[str, Any]:
        """A run by id, name (or the end of one, e.g. ``trial-0007``) or path; an unknown or ambiguous key
        is a :class:`ConfigError`."""
        text, row, named = str(key), None, []
        if self.path.exists():
            with closing(self._connect()) as connection:
                if text.isdigit():
                    row = connection.execute("SELECT * FROM runs WHERE id = ?", (int(text),)).fetchone()
                if row is None:
                    path = str(Path(text).resolve())
                    row = connection.execute("SELECT * FROM runs WHERE path = ?", (path,)).fetchone()
                if row is None:
                    rows = connection.execute("SELECT * FROM runs ORDER BY id").fetchall()
                    # a name, else the end of one: "trial-0001" for "sweeps/bars-1a2b3c4d/trial-0001"
                    named = [r for r in rows if r["name"] == text]
                    named = named or [r for r in rows if r["name"].endswith("/" + text)]
        if len(named) > 1:  # trial-0001 of two studies: never guess which one is meant
            which = ", ".join(f"{r['id']}" + (f" (study {r['study']})" if r["study"] else "") for r in named)
            raise ConfigError(
                f"run name {text!r} is ambiguous in {self.path}: runs {which}; give the id or the path"
            )
        if row is None and not named:
            raise ConfigError(f"no run {text!r} in {self.path} (see `optlab runs list`)")
        return _row(row if row is not None else named[0])


def _row(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    out["config"] = json.loads(out.pop("config_json"))
    summary = out.pop("summary_json")
    out["summary"] = json.loads(summary) if summary else {}
    if out["status"] == "running" and out.get("pid") and not _alive(out["pid"]):
        out["status"] = "interrupted"  # the process is gone without finishing (killed); resumable
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def table(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain fixed-width text table (used by the CLI's ``runs`` commands)."""
    rows = [[_fmt(row.get(col)) for col in columns] for row in rows]
    widths = [max([len(col)] + [len(r[i]) for r in rows]) for i, col in enumerate(columns)]
    lines = ["  ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# -- steps.csv (--log-steps) -------------------------------------------------------------------------
def append_steps(path: Path, losses: list[float], step: int, schedule: Any) -> None:
    """Append the per-update losses of updates ``step - len(losses) + 1 .. step`` with their learning rates
    (``schedule(update - 1)``: update 1 is step 0 of the schedule)."""
    first = step - len(losses) + 1
    existing = path.read_text() if path.exists() else "step,lr,loss\n"
    lines = "".join(f"{s},{schedule(s - 1)!r},{loss!r}\n" for s, loss in enumerate(losses, start=first))
    atomic_write_text(path, existing + lines)


def truncate_steps(path: Path, step: int) -> None:
    """On resume, drop per-update rows logged after the checkpoint (they will be logged again)."""
    rows = read_csv(path) if path.exists() else []
    write_csv(path, [r for r in rows if r["step"] <= step], columns=["step", "lr", "loss"])
