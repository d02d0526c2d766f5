"""Time per update of optlab's trainer against a bare loop and the idiomatic DataLoader loop, side by side.

    python benchmarks/train_loop.py [--models logreg mlp] [--batch-sizes 1 10 100 1000 10000] [--seconds 0.7]

(a) ``optlab.train.train`` (Adam from the registry, quiet, in a temporary run folder): the time of its update
    loop as it records it per epoch (``epoch_time`` in metrics.csv: batcher, schedule, forward, backward,
    gradient norm, step, statistics, the periodic NaN check). "a+epoch" is the whole ``train()`` call per
    update: setup, per-epoch evaluation, checkpoints and CSV writes included.
(b) a bare hand-written loop: slices of a ``randperm``, forward, cross-entropy, backward, fused Adam step.
(c) the idiomatic loop: ``DataLoader(TensorDataset(x, y), batch_size, shuffle=True)``, ``torch.optim.Adam``.

All three train the same model from the same initial weights on the same in-memory data (Fashion-MNIST when
it is installed, else random tensors of its shape: the time of an update does not depend on the values). Each
is warmed up, then timed ``--repeats`` times over about ``--seconds`` of updates, the three interleaved with
their order rotated between repeats; the table shows each loop's median. (On this VM one loop's time varies by
±25 % from one timing to the next, idle machine and CPU clock included, and not only upwards: heap and cache
state left by the previous loop matter, so the median of interleaved timings is the fair comparison, not the
minimum; and each cell of the table runs in a fresh process, so that it does not inherit the heap of the
cells before it.) On a shared machine use ``--threads 1 --clock cpu``: process CPU time is not inflated by
other jobs (with more threads, OpenMP spin-waits would count). Bar: (a) <= 1.10 x (b) and (a) < (c) at every
batch size."""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from optlab import data, models
from optlab.data import Dataset, Split
from optlab.errors import DataError
from optlab.train import TrainConfig, core, read_csv, train

CLOCK = time.perf_counter


def load_data() -> tuple[Dataset, str]:
    try:
        return data.load("fashion-mnist"), "Fashion-MNIST"
    except DataError:
        generator = torch.Generator().manual_seed(0)
        x = torch.rand(60000, 1, 28, 28, generator=generator)
        y = torch.randint(0, 10, (60000,), generator=generator)
        split = Split(x, y)
        names = tuple(str(i) for i in range(10))
        test = Split(x[:10000], y[:10000])
        return Dataset("random", split, test, None, 10, names), "random tensors (Fashion-MNIST shape)"


def bare_loop(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, steps: int) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    generator = torch.Generator().manual_seed(0)
    n = len(y)
    per_epoch = -(-n // batch)
    start = CLOCK()
    for step in range(steps):
        i = step % per_epoch
        if i == 0:
            perm = torch.randperm(n, generator=generator)
        idx = perm[i * batch : (i + 1) * batch]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    loss.item()  # wait for the last update (a no-op on the CPU, a sync on CUDA)
    return (CLOCK() - start) / steps


def dataloader_loop(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, steps: int
) -> float:
    """The idiomatic loop: DataLoader over a TensorDataset (shuffle=True), torch.optim.Adam (foreach)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True)
    done = 0
    start = CLOCK()
    while done < steps:
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps:
                break
    loss.item()
    return (CLOCK() - start) / steps


def optlab_loop(
    model_name: str, dataset: Dataset, batch: int, steps: int, root: Path, seed: int
) -> tuple[float, float]:
    """(update-loop time per update as the trainer records it, whole-call time per update minus setup)."""
    config = TrainConfig(
        dataset=dataset.name,
        model=model_name,
        optimizer="adam",
        lr=1e-3,
        batch_size=batch,
        epochs=10**6,
        max_steps=steps,
        seed=seed,
        device="cpu",
    )
    run_dir = root / f"{model_name}-{batch}-{steps}-{time.perf_counter_ns()}"
    start = CLOCK()
    train(config, run_dir, dataset=dataset, quiet=True, index=False)
    wall = CLOCK() - start
    rows = read_csv(run_dir / "metrics.csv")
    loop_time = sum(row["epoch_time"] for row in rows)
    return loop_time / steps, wall / steps


def measure(model_name: str, dataset: Dataset, batch: int, seconds: float, repeats: int, root: Path) -> dict:
    x, y = dataset.train.x, dataset.train.y
    torch.manual_seed(0)
    base = models.create(model_name, dataset.input_shape, dataset.num_classes)
    # warm-up + a step count that fills about `seconds` for the bare loop
    bare_loop(copy.deepcopy(base), x, y, batch, 5)
    probe = bare_loop(copy.deepcopy(base), x, y, batch, 20)  # warm: a cold probe would undercount the steps
    steps = max(20, min(20000, int(seconds / max(probe, 1e-6))))
    optlab_loop(model_name, dataset, batch, min(steps, 50), root, seed=0)  # warm-up of the trainer
    dataloader_loop(copy.deepcopy(base), x, y, batch, 5)
    times: dict[str, list[float]] = {"a": [], "a+epoch": [], "b": [], "c": []}
    loops = {
        "a": lambda: optlab_loop(model_name, dataset, batch, steps, root, seed=0),
        "b": lambda: bare_loop(copy.deepcopy(base), x, y, batch, steps),
        "c": lambda: dataloader_loop(copy.deepcopy(base), x, y, batch, steps),
    }
    for repeat in range(repeats):
        # Rotate the order: at large batches the time of a gather depends on the heap the previous loop left
        # (glibc returns and re-faults 30 MB buffers), so no loop should always follow the same one.
        names = list(loops)[repeat % 3 :] + list(loops)[: repeat % 3]
        for name in names:
            result = loops[name]()
            if name == "a":
                times["a"].append(result[0])
                times["a+epoch"].append(result[1])
            else:
                times[name].append(result)
    return {"steps": steps, **{name: statistics.median(values) for name, values in times.items()}}


def measure_in_fresh_process(args: argparse.Namespace, model_name: str, batch: int) -> dict:
    """One cell of the table in its own interpreter: a cell must not inherit the heap that earlier cells left
    (after 30 MB batches of logreg at 10 000, batch-1 timings of the next model were off by 10-15 %)."""
    command = [sys.executable, __file__, "--cell", model_name, str(batch), "--seconds", str(args.seconds)]
    command += ["--repeats", str(args.repeats), "--clock", args.clock]
    if args.threads:
        command += ["--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["logreg", "mlp"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 10, 100, 1000, 10000])
    parser.add_argument("--seconds", type=float, default=0.7, help="time budget per loop and measurement")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="wall or process CPU time")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--cell", nargs=2, metavar=("MODEL", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.clock == "cpu":  # CPU time of this process: robust to other jobs on a shared machine (1 thread)
        global CLOCK
        CLOCK = core.clock = time.process_time
    dataset, source = load_data()
    if args.cell:
        with tempfile.TemporaryDirectory() as tmp:
            print(
                json.dumps(
                    measure(args.cell[0], dataset, int(args.cell[1]), args.seconds, args.repeats, Path(tmp))
                )
            )
        return
    threads = torch.get_num_threads()
    print(f"data: {source}, train {len(dataset.train)}; torch {torch.__version__}, {threads} threads")
    header = (
        f"{'model':<7} {'batch':>6} {'updates':>7}  {'(a) optlab':>11} {'(b) bare':>10}"
        f" {'(c) DataLoader':>14}"
        f"  {'a/b':>5} {'a/c':>5} {'c/b':>5}  {'a+epoch':>9}  bar"
    )
    print(
        f"time per update in ms ({args.clock} clock); median of {args.repeats} interleaved timings per cell"
    )
    print(header)
    print("-" * len(header))
    failures = 0
    for model_name in args.models:
        for batch in args.batch_sizes:
            r = measure_in_fresh_process(args, model_name, batch)
            ok = r["a"] <= 1.10 * r["b"] and r["a"] < r["c"]
            failures += not ok
            print(
                f"{model_name:<7} {batch:>6} {r['steps']:>7}  {1e3 * r['a']:>11.4f} {1e3 * r['b']:>10.4f}"
                f" {1e3 * r['c']:>14.4f}  {r['a'] / r['b']:>5.2f} {r['a'] / r['c']:>5.2f}"
                f" {r['c'] / r['b']:>5.2f}  {1e3 * r['a+epoch']:>9.4f}  {'ok' if ok else 'MISSED'}",
                flush=True,
            )
    verdict = "held everywhere" if not failures else f"missed {failures}x"
    print("bar: (a) <= 1.10 x (b) and (a) < (c):", verdict)


if __name__ == "__main__":
    main()
