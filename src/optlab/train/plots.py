"""Learning curves of recorded runs, drawn from their ``metrics.csv`` files only.

* :func:`plot_runs` — loss, accuracy, lr and gradient norm of one or more runs in one PNG (``optlab plot``).
* :func:`run_labels` — legend labels naming the settings in which the runs' ``config.toml`` differ.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optlab.errors import ConfigError

# Settings that do not change what a run computes: never used to tell runs apart in a legend.
_NOT_SETTINGS = ("description", "device", "data_dir", "checkpoint_every", "log_steps", "eval_batch_size")


def run_labels(run_dirs: Sequence[str | Path]) -> list[str]:
    """Legend labels that tell the runs apart: the settings in which their config.toml differ
    (``batch_size=32 lr=0.01``), else the folder names."""
    import tomllib

    configs = []
    for run_dir in run_dirs:
        try:
            configs.append(tomllib.loads((Path(run_dir) / "config.toml").read_text()))
        except (OSError, tomllib.TOMLDecodeError):
            configs.append(None)
    names = [Path(run_dir).name for run_dir in run_dirs]
    if len(run_dirs) < 2 or any(config is None for config in configs):
        return names
    keys = sorted({key for config in configs for key in config if key not in _NOT_SETTINGS})
    differing = [k for k in keys if len({json.dumps(c.get(k), sort_keys=True) for c in configs}) > 1]
    if not differing:
        return names
    labels = [" ".join(f"{k}={_short(c.get(k, 'default'))}" for k in differing) for c in configs]
    if len(set(labels)) < len(labels):  # same settings (e.g. a rerun): keep the folders apart
        return [f"{label} ({name})" for label, name in zip(labels, names, strict=True)]
    return labels


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}={_short(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def plot_runs(run_dirs: Sequence[str | Path], out: Path, x_axis: str = "epoch") -> None:
    """Draw the runs' curves from their ``metrics.csv`` files (nothing else is read) and write ``out``
    atomically (a PNG; its folder is created).

    ``x_axis``: ``"epoch"`` or ``"step"`` (updates). A missing ``metrics.csv`` or another ``x_axis`` is a
    :class:`ConfigError`, raised before anything is written.
    """
    from optlab._io import pyplot, save_figure
    from optlab.train.runs import read_csv

    if x_axis not in ("epoch", "step"):
        raise ConfigError(f"invalid value for --x: {x_axis!r} (epoch or step)")
    histories = []
    for run_dir in run_dirs:
        path = Path(run_dir) / "metrics.csv"
        if not path.is_file():
            raise ConfigError(f"no metrics.csv in {run_dir} (is it a run folder?)")
        histories.append(read_csv(path))
    histories = list(zip(run_labels(run_dirs), histories, strict=True))
    fig, axes = pyplot().subplots(2, 2, figsize=(11, 7.5))
    panels = [("loss", axes[0, 0], True), ("acc", axes[0, 1], False)]
    for i, (label, rows) in enumerate(histories):
        color = f"C{i % 10}"
        epochs = [row[x_axis] for row in rows]
        for metric, ax, log in panels:
            for split, style in (("train", "-"), ("val", "--"), ("test", ":")):
                values = [row.get(f"{split}_{metric}") for row in rows]
                if any(v is not None for v in values):
                    marker = "." if len(rows) < 30 else None  # a one-epoch run is a point, not a line
                    ax.plot(epochs, values, style, color=color, marker=marker, label=f"{label} {split}")
            ax.set_yscale("log" if log else "linear")
        axes[1, 0].plot(epochs, [row.get("lr") for row in rows], color=color, label=label)
        axes[1, 1].plot(epochs, [row.get("grad_norm") for row in rows], color=color, label=label)
    titles = [
        "loss (cross-entropy)",
        "accuracy",
        "learning rate (last update of the epoch)",
        "mean gradient norm",
    ]
    for ax, title in zip(axes.flat, titles, strict=True):
        ax.set_title(title)
        ax.set_xlabel("epoch" if x_axis == "epoch" else "update")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[1, 1].set_yscale("log")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, out, dpi=110)
