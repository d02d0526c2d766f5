"""Loggers are callbacks: after every epoch they write the run's history somewhere.

:class:`CsvLogger` rewrites ``metrics.csv`` (one row per epoch, atomically); :class:`TensorBoardLogger`
adds the epoch's numbers as TensorBoard scalars (``torch.utils.tensorboard``), keyed by update, to event
files that ``tensorboard --logdir RUN_DIR`` shows. Both run on the writing rank only."""

from __future__ import annotations

import numbers
from pathlib import Path

from optlab.errors import ConfigError
from optlab.train import runs
from optlab.train.callbacks import TrainState

TENSORBOARD_HINT = "--tensorboard needs the tensorboard package: pip install 'optlab[tensorboard]'"


class CsvLogger:
    """``metrics.csv`` in the run folder, rewritten whole after each epoch (temp file + rename)."""

    def __init__(self, path: Path):
        self.path = path

    def on_epoch(self, state: TrainState) -> None:
        runs.write_csv(self.path, state.history)

    def close(self) -> None:
        pass


def require_tensorboard() -> None:
    """Raise :class:`ConfigError` (one line, with the install hint) when TensorBoard is not installed."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ConfigError(TENSORBOARD_HINT) from None


class TensorBoardLogger:
    """Each epoch's numeric metrics as scalars under their own names (``train_loss``, ``val_acc``, ``lr``, …),
    at ``global_step`` = updates so far; the event files go to ``log_dir``."""

    def __init__(self, log_dir: Path):
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(log_dir))

    def on_epoch(self, state: TrainState) -> None:
        for key, value in state.metrics.items():
            if isinstance(value, numbers.Real) and key not in ("epoch", "step"):
                self.writer.add_scalar(key, float(value), global_step=state.step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def read_scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """The scalars of the event files in ``log_dir``, read back with TensorBoard's own event reader:
    ``{tag: [(step, value), …]}``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(Path(log_dir).glob("events.out.tfevents.*")):
        events = EventAccumulator(str(path))
        events.Reload()
        for tag in events.Tags()["scalars"]:
            out.setdefault(tag, []).extend((e.step, e.value) for e in events.Scalars(tag))
    return out
