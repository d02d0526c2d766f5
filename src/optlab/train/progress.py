"""The progress bar over epochs and updates (rich), refreshed a few times a second; off if not a terminal."""

from __future__ import annotations

import sys

from optlab.train.stats import EpochStats


class Progress:
    """A rich progress bar over epochs and updates, refreshed a few times a second; nothing when disabled."""

    def __init__(self, disabled: bool, epochs: int, steps_per_epoch: int, epoch: int, position: int):
        self.disabled = disabled or not sys.stdout.isatty()  # rich draws on stdout; none in logs and pipes
        self.steps_per_epoch = steps_per_epoch
        if self.disabled:
            return
        from rich import progress as rich_progress

        self.progress = rich_progress.Progress(
            rich_progress.TextColumn("{task.description}"),
            rich_progress.BarColumn(),
            rich_progress.MofNCompleteColumn(),
            rich_progress.TimeRemainingColumn(),
            rich_progress.TextColumn("{task.fields[info]}"),
            refresh_per_second=4,
            transient=False,
        )
        self.epochs = self.progress.add_task("epochs", total=epochs, completed=epoch, info="")
        self.steps = self.progress.add_task("updates", total=steps_per_epoch, completed=position, info="")

    def __enter__(self):
        if not self.disabled:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        if not self.disabled:
            self.progress.__exit__(*exc)

    def advance(self, stats: EpochStats) -> None:
        if not self.disabled:
            self.progress.update(self.steps, completed=stats.updates, info=f"loss {stats.mean_loss():.4f}")

    def epoch_done(self, epoch: int, row: dict, eval_name: str) -> None:
        if not self.disabled:
            info = f"{eval_name} acc {row[f'{eval_name}_acc']:.4f}"
            self.progress.update(self.epochs, completed=epoch, info=info)
            self.progress.update(self.steps, completed=0)
