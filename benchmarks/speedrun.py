"""The speed-run recipe as a bare hand-written loop and through optlab, side by side: is the engine free?

    python benchmarks/speedrun.py [--recipe fashion-mnist] [--repeats 3] [--epochs N] [--threads N]

(a) optlab: ``optlab.train.train`` on the recipe's TrainConfig (quiet, a temporary run folder, no index):
    its training seconds as the speed run counts them (the epochs' ``epoch_time``: first update to last,
    per-epoch evaluation and checkpoints outside), and the whole ``train()`` call.
(b) bare: the same recipe written out by hand as a plain PyTorch loop: in-memory tensors, slices of a
    ``randperm``, (if the recipe flips) a vectorised random flip, the recipe's model (in channels-last and
    under bfloat16 autocast if the recipe says so), the one-cycle lr set by hand each step, cross-entropy
    with label smoothing, ``torch.optim.SGD(nesterov=True, fused=True)`` without weight decay on BatchNorm
    parameters and biases. Timed from the first update to the last; the test accuracy is measured after.
    Given the seed it draws the same permutations, flips and initial weights as optlab, so the two reach
    the same accuracy: the comparison is of the loops, not of two recipes.

Both start from the same data in memory and (given the seed) the same initial weights. Each repeat runs both,
the order alternating between repeats (interleaved), after one untimed warm-up of each; the table shows each
loop's median and the ratio of the medians. Bar: (a) <= 1.05 × (b). Run it on an idle machine: the load
average is printed before and after, and a timing taken under load is not a measurement.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from optlab import data, models
from optlab.speedrun import load_recipe
from optlab.train import TrainConfig, train

CLOCK = time.perf_counter


def one_cycle_linear(step: int, total: int, lr: float, pct: float, div: float, final_div: float) -> float:
    """torch's OneCycleLR with linear annealing, written out (the recipe's schedule)."""
    initial, peak = lr / div, pct * total - 1
    final = initial / final_div
    if step <= peak:
        return initial + (lr - initial) * step / peak
    if step >= total - 1:
        return final
    return lr + (final - lr) * (step - peak) / (total - 1 - peak)


def bare_loop(
    config: TrainConfig, dataset: data.Dataset, seed: int, max_steps: int | None = None
) -> tuple[float, float]:
    """(training seconds, test accuracy) of the recipe as a hand-written loop (``max_steps``: stop early)."""
    # what this hand-written loop implements of a recipe
    assert config.optimizer == "nesterov" and config.schedule == "one_cycle" and config.drop_last
    assert config.schedule_kwargs.get("anneal") == "linear" and not config.translate
    torch.manual_seed(seed)
    model = models.create(config.model, dataset.input_shape, dataset.num_classes)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    no_decay = [p for p in model.parameters() if p.ndim <= 1]  # biases and BatchNorm's scales and shifts
    decay = [p for p in model.parameters() if p.ndim > 1]
    hp = config.hparams
    optimizer = torch.optim.SGD(
        [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr, momentum=hp["momentum"], nesterov=True, weight_decay=hp["weight_decay"], fused=True,
    )  # fmt: skip
    sk = config.schedule_kwargs
    x, y = dataset.train.x, dataset.train.y
    n, b = len(y), config.batch_size
    per_epoch = n // b
    total = config.total_steps(per_epoch)
    last = total if max_steps is None else min(total, max_steps)
    generator = torch.Generator().manual_seed(seed)
    step = 0
    start = CLOCK()
    while step < last:
        perm = torch.randperm(n, generator=generator)
        for i in range(min(per_epoch, last - step)):
            idx = perm[i * b : (i + 1) * b]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            if config.flip:
                flip = torch.rand(b) < 0.5
                xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
            lr = one_cycle_linear(
                step, total, config.lr, sk["pct_start"], sk["div_factor"], sk["final_div_factor"]
            )
            for group in optimizer.param_groups:
                group["lr"] = lr
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.precision == "bf16"):
                logits = model(xb).float()
            loss = F.cross_entropy(logits, yb, label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
    seconds = CLOCK() - start
    model.eval()
    with torch.no_grad():
        hits = 0
        for i in range(0, len(dataset.test), 2000):
            xt = dataset.test.x[i : i + 2000]
            logits = model(xt) + model(xt.flip(-1)) if config.tta else model(xt)
            hits += int((logits.argmax(1) == dataset.test.y[i : i + 2000]).sum())
    return seconds, hits / len(dataset.test)


def optlab_loop(
    config: TrainConfig, dataset: data.Dataset, seed: int, root: Path
) -> tuple[float, float, float]:
    """(training seconds as the speed run counts them, test accuracy, seconds of the whole train() call)."""
    run_dir = root / f"seed{seed}-{time.perf_counter_ns()}"
    start = CLOCK()
    result = train(config.replace(seed=seed), run_dir, dataset=dataset, quiet=True, index=False)
    wall = CLOCK() - start
    return sum(row["epoch_time"] for row in result.metrics), result.metrics[-1]["test_acc"], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="fashion-mnist")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    recipe = load_recipe(args.recipe)
    if args.threads or recipe.threads:
        torch.set_num_threads(args.threads or recipe.threads)
    config = recipe.config
    if args.epochs is not None:
        config = config.replace(epochs=args.epochs, max_steps=None)
    dataset = data.load(config.dataset)
    print(
        f"recipe {recipe.name}, epochs {config.epochs or '-'}, max_steps {config.max_steps or '-'}, "
        f"{torch.get_num_threads()} threads, "
        f"torch {torch.__version__}"
    )
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    times: dict[str, list[float]] = {"optlab": [], "optlab train() call": [], "bare": []}
    accuracy: dict[str, list[float]] = {"optlab": [], "bare": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        warm = config.replace(epochs=1, max_steps=30)
        optlab_loop(warm, dataset, 0, root)  # untimed warm-ups: oneDNN primitives, allocator
        bare_loop(config, dataset, 0, max_steps=30)
        for repeat in range(args.repeats):
            order = ("optlab", "bare") if repeat % 2 == 0 else ("bare", "optlab")
            for name in order:
                if name == "bare":
                    seconds, acc = bare_loop(config, dataset, seed=repeat)
                else:
                    seconds, acc, wall = optlab_loop(config, dataset, repeat, root)
                    times["optlab train() call"].append(wall)
                times[name].append(seconds)
                accuracy[name].append(acc)
                print(
                    f"repeat {repeat} {name:>6}: {seconds:7.2f} s, test accuracy {100 * acc:.2f} %",
                    flush=True,
                )
    print(f"load average after:  {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    bare = statistics.median(times["bare"])
    print(f"\n{'loop':<22}{'median s':>10}{'ratio to bare':>15}{'mean accuracy %':>17}")
    for name, values in times.items():
        acc = accuracy.get(name)
        shown = f"{100 * statistics.fmean(acc):17.2f}" if acc else f"{'':>17}"
        print(f"{name:<22}{statistics.median(values):10.2f}{statistics.median(values) / bare:15.3f}{shown}")
    ratio = statistics.median(times["optlab"]) / bare
    print(f"\noptlab / bare = {ratio:.3f} (bar <= 1.05: {'met' if ratio <= 1.05 else 'NOT met'})")


if __name__ == "__main__":
    main()
