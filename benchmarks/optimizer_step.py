"""Optimizer step speed against the memory floor, measured side by side with torch's fused Adam.

10 M float32 parameters in 50 tensors on the CPU. For each optimizer: ms/step (median after warm-up, one-off
compile time printed separately), the bytes its minimal passes move (each tensor read or written once per
pass), and its ms-per-byte divided by torch's fused Adam's ms-per-byte. The baseline's steps are interleaved
with the candidate's (one each, in turn), so the ratio survives other processes sharing the CPU. The same
ratio is printed for torch.optim's foreach implementation of every algorithm torch has.

Bar (issue 2): ≤ 1.25 for SGD (momentum), Adagrad, RMSProp, Adam, AdamW, RAdam; ≤ 1.6 for LARS and LAMB.

Run:  .venv/bin/python benchmarks/optimizer_step.py [--steps 20] [--numel 10000000] [--tensors 50]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

import torch

import optlab.optim as oo

BYTES_PER_ELEMENT = 4  # float32

# Tensors each optimizer must read or write per element, summed over its minimal passes
# (p = parameter, g = gradient, m/v/b/s = state):
PASS_TENSORS = {
    "sgd(momentum)": 5,  # read p g b, write p b
    "adagrad": 5,  # read p g s, write p s
    "rmsprop": 5,  # read p g v, write p v
    "adam": 7,  # read p g m v, write p m v
    "adamw": 7,
    "radam": 7,
    "lars": 7,  # pass 1 read p g (norms); pass 2 read p g b, write p b
    "lamb": 10,  # pass 1 read p g m v, write m v (+ norms of w, u); pass 2 read p m v, write p
}

OPTLAB: dict[str, Callable[[list[torch.Tensor]], torch.optim.Optimizer]] = {
    "sgd(momentum)": lambda ps: oo.SGD(ps, lr=1e-3, momentum=0.9),
    "adagrad": lambda ps: oo.Adagrad(ps, lr=1e-2),
    "rmsprop": lambda ps: oo.RMSProp(ps, lr=1e-3),
    "adam": lambda ps: oo.Adam(ps, lr=1e-3),
    "adamw": lambda ps: oo.AdamW(ps, lr=1e-3),
    "radam": lambda ps: oo.RAdam(ps, lr=1e-3),
    "lars": lambda ps: oo.LARS(ps, lr=1.0, weight_decay=1e-4),
    "lamb": lambda ps: oo.LAMB(ps, lr=1e-3, weight_decay=1e-2),
}

TORCH_FOREACH: dict[str, Callable[[list[torch.Tensor]], torch.optim.Optimizer]] = {
    "sgd(momentum)": lambda ps: torch.optim.SGD(ps, lr=1e-3, momentum=0.9, foreach=True),
    "adagrad": lambda ps: torch.optim.Adagrad(ps, lr=1e-2, foreach=True),
    "rmsprop": lambda ps: torch.optim.RMSprop(ps, lr=1e-3, foreach=True),
    "adam": lambda ps: torch.optim.Adam(ps, lr=1e-3, foreach=True),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-3, foreach=True),
    "radam": lambda ps: torch.optim.RAdam(ps, lr=1e-3, foreach=True),
}

BAR = {"lars": 1.6, "lamb": 1.6}


def make_params(numel: int, tensors: int, seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    # 2-D tensors (rows × 1000), like weight matrices: LARS's exclude_1d would skip 1-D ones' trust ratio
    shape = (numel // tensors // 1000, 1000)
    params = []
    for _ in range(tensors):
        p = torch.randn(shape, generator=gen).requires_grad_()
        p.grad = torch.randn(shape, generator=gen) * 1e-2
        params.append(p)
    return params


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(
    factory: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
    baseline: torch.optim.Optimizer,
    args: argparse.Namespace,
) -> tuple[float, float, float, float]:
    """(first step s, median ms/step, baseline median ms/step, median of the paired time ratios)."""
    params = make_params(args.numel, args.tensors, seed=1)
    opt = factory(params)
    first = timed(opt.step)  # includes compilation, if any
    for _ in range(3):
        opt.step()
        baseline.step()
    mine, base = [], []
    for _ in range(args.steps):
        mine.append(timed(opt.step))
        base.append(timed(baseline.step))
    del opt, params
    gc.collect()
    # The ratio is the median of per-round ratios: each pair of steps ran back to back, under the same load.
    paired = statistics.median(m / b for m, b in zip(mine, base, strict=True))
    return first, statistics.median(mine) * 1e3, statistics.median(base) * 1e3, paired


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--numel", type=int, default=10_000_000, help="a multiple of 1000 × tensors")
    parser.add_argument("--tensors", type=int, default=50)
    parser.add_argument("--steps", type=int, default=21, help="timed steps per optimizer (median)")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads (0: torch's default); 1: steadier on a busy CPU"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base_params = make_params(args.numel, args.tensors, seed=0)
    baseline = torch.optim.Adam(base_params, lr=1e-3, fused=True)
    for _ in range(3):
        baseline.step()
    adam_bytes = PASS_TENSORS["adam"] * BYTES_PER_ELEMENT * args.numel

    print(
        f"{args.numel / 1e6:g} M float32 parameters in {args.tensors} tensors, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}; median of {args.steps} steps, "
        "baseline torch Adam(fused=True) interleaved"
    )
    header = (
        f"{'optimizer':<15} {'impl':<16} {'MB moved':>9} {'ms/step':>9} {'GB/s':>6} "
        f"{'adam ms':>8} {'ratio':>6} {'bar':>5}  first step"
    )
    print(header)
    print("-" * len(header))
    compile_times = []
    for name, factory in OPTLAB.items():
        rows = [("optlab", factory)]
        if name in TORCH_FOREACH:
            rows.append(("torch foreach", TORCH_FOREACH[name]))
        for impl, fac in rows:
            first, ms, base_ms, paired = measure(fac, baseline, args)
            moved = PASS_TENSORS[name] * BYTES_PER_ELEMENT * args.numel
            ratio = paired * adam_bytes / moved  # (ms / byte) ÷ (fused Adam's ms / byte)
            bar = BAR.get(name, 1.25)
            mark = "" if impl != "optlab" else ("ok" if ratio <= bar else "MISS")
            print(
                f"{name:<15} {impl:<16} {moved / 1e6:9.0f} {ms:9.2f} {moved / ms / 1e6:6.1f} "
                f"{base_ms:8.2f} {ratio:6.2f} {bar if impl == 'optlab' else '':>5}  {first:6.2f} s {mark}"
            )
            if impl == "optlab" and first > 1.0:
                compile_times.append(f"{name}: {first:.1f} s")
    if compile_times:
        print("one-off compile time (first step): " + ", ".join(compile_times))


if __name__ == "__main__":
    main()
