"""Figures of a sweep (PNG, matplotlib Agg): the metric against batch size per learning rate, and a heat map.

Each point of a curve is the mean over seeds with the standard deviation as an error bar. When other
parameters vary too (optimizer, momentum, ...), each curve is one of their combinations and a heat-map cell
shows the best of them. With continuous learning rates (a TPE search) the heat map becomes a scatter plot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from optlab._io import pyplot, save_figure
from optlab.sweep.results import Setting, format_point, format_value, higher_is_better

MAX_HEATMAP_LRS = 12  # more distinct learning rates than this: a scatter plot instead of a heat map


def _label(metric: str, target: float | None, accuracy_name: str) -> str:
    if metric == "accuracy":
        return f"final {accuracy_name.replace('_', ' ')}"
    unit = "updates" if metric == "steps-to-target" else "training seconds"
    return f"{unit} to reach {target:g} {accuracy_name.replace('_', ' ')}"


def _others(group: Setting) -> str:
    return format_point({k: v for k, v in group.point.items() if k not in ("batch_size", "lr")})


def _finish(fig: Any, ax: Any, path: Path, title: str, lr_note: str) -> Path:
    """Batch size on the x axis, the title (and the lr rule under it); saves and closes the figure."""
    ax.set_xlabel("batch size")
    ax.set_title(title + (f"\n{lr_note}" if lr_note else ""))
    return save_figure(fig, path, dpi=120, bbox_inches="tight")


def curves(
    groups: list[Setting],
    metric: str,
    target: float | None,
    path: Path,
    accuracy_name: str,
    lr_note: str = "",
) -> Path | None:
    """The metric against batch size, one line per learning rate (and per combination of other parameters)."""
    plotted = [g for g in groups if "batch_size" in g.point and g.mean is not None]
    if not plotted:
        return None
    plt = pyplot()
    y_label = _label(metric, target, accuracy_name)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    lines: dict[tuple[Any, str], list[Setting]] = {}
    for group in plotted:
        lines.setdefault((group.point.get("lr"), _others(group)), []).append(group)
    for (lr, others), members in sorted(lines.items(), key=lambda item: (str(item[0][1]), item[0][0] or 0)):
        members.sort(key=lambda g: g.point["batch_size"])
        x, y, err = zip(*((g.point["batch_size"], g.mean, g.std or 0.0) for g in members), strict=True)
        label = " ".join(part for part in (f"lr={lr:g}" if lr is not None else "", others) if part)
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=label or None)
    ax.set_xscale("log", base=2)
    sizes = sorted({g.point["batch_size"] for g in plotted})
    ax.set_xticks(sizes, [str(size) for size in sizes])
    ax.minorticks_off()
    ax.set_ylabel(y_label)
    if any(len(g.values) > 1 for g in plotted):
        ax.text(0.01, 0.01, "mean ± std over seeds", transform=ax.transAxes, fontsize=8, alpha=0.7)
    if len(lines) > 1 or next(iter(lines))[0] is not None:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _finish(fig, ax, path, f"{y_label} vs batch size", lr_note)


def heatmap(
    groups: list[Setting],
    metric: str,
    target: float | None,
    path: Path,
    accuracy_name: str,
    lr_note: str = "",
) -> Path | None:
    """Learning rate × batch size, each cell the mean metric (the best over other parameters)."""
    cells = [g for g in groups if "batch_size" in g.point and "lr" in g.point]
    if not cells:
        return None
    plt = pyplot()
    import numpy as np

    better = max if higher_is_better(metric) else min
    cmap = "viridis" if higher_is_better(metric) else "viridis_r"
    lrs = sorted({g.point["lr"] for g in cells})
    sizes = sorted({g.point["batch_size"] for g in cells})
    fig, ax = plt.subplots(figsize=(1.2 * len(sizes) + 2.5, 0.6 * min(len(lrs), MAX_HEATMAP_LRS) + 2.2))
    if len(lrs) > MAX_HEATMAP_LRS:  # continuous learning rates (a search): scatter, coloured by the metric
        points = [(g.point["batch_size"], g.point["lr"], g.mean) for g in cells if g.mean is not None]
        if not points:
            plt.close(fig)
            return None
        x, y, c = zip(*points, strict=True)
        scatter = ax.scatter(x, y, c=c, cmap=cmap, s=40)
        fig.colorbar(scatter, ax=ax)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
    elif all(g.mean is None for g in cells):
        # nothing to colour (no trial reached the target, or none finished): say so instead of a blank map
        # with a meaningless colour bar
        what = "no trial reached the target" if metric != "accuracy" else "no trial finished"
        ax.text(
            0.5, 0.5, f"{what}\n({len(cells)} settings tried)", ha="center", va="center",
            transform=ax.transAxes, fontsize=11,
        )  # fmt: skip
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        grid = np.full((len(lrs), len(sizes)), np.nan)
        for g in (g for g in cells if g.mean is not None):  # a cell: the best over the other parameters
            i, j = lrs.index(g.point["lr"]), sizes.index(g.point["batch_size"])
            grid[i, j] = g.mean if np.isnan(grid[i, j]) else better(grid[i, j], g.mean)
        image = ax.imshow(grid, cmap=cmap, aspect="auto", origin="lower")
        fig.colorbar(image, ax=ax)
        ax.set_xticks(range(len(sizes)), [str(s) for s in sizes])
        ax.set_yticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
        finite = grid[np.isfinite(grid)]
        middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
        for i in range(len(lrs)):
            for j in range(len(sizes)):
                text = "–" if np.isnan(grid[i, j]) else format_value(float(grid[i, j]), metric)
                dark = np.isnan(grid[i, j]) or (grid[i, j] < middle) == higher_is_better(metric)
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_ylabel("learning rate")
    return _finish(fig, ax, path, _label(metric, target, accuracy_name), lr_note)
