"""One device policy for the library and every command: ``auto`` (the default) is CUDA when it is available,
else the CPU; ``cpu``, ``cuda`` and ``cuda:N`` ask for one device, and an unknown or unavailable one is a
:class:`~optlab.errors.ConfigError` (one line, exit 2 at the CLI)."""

from __future__ import annotations

import os
import platform

import torch

from optlab.errors import ConfigError


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """``None``/``"auto"`` → CUDA when available, else CPU; an unknown or unavailable device → ConfigError."""
    if name is None or str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"invalid value for --device: {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"invalid value for --device: {name!r} (CUDA is not available on this machine)")
    return device


def describe_device(device: torch.device) -> str:
    """A readable name, e.g. ``NVIDIA H100 (cuda)`` or ``CPU x86_64, 2 cores, 1 thread``."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (cuda)"
    threads = torch.get_num_threads()
    name = platform.processor() or platform.machine()
    return f"CPU {name}, {os.cpu_count()} cores, {threads} thread{'s' if threads != 1 else ''}"
