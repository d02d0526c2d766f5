"""One device policy for every command: ``--device auto`` (the default) trains on CUDA when it is available,
else on the CPU; ``cpu``, ``cuda`` and ``cuda:N`` ask for one device (an unavailable one is a usage error).

    from optlab.cli._device import DEVICE_HELP, DEFAULT_DEVICE, resolve

    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = DEFAULT_DEVICE
    ...
    torch_device = resolve(device)  # ConfigError (exit 2, one line) for a bad or unavailable name

``resolve`` is :func:`optlab.train.resolve_device` (the trainer's own rule), so a command and the runs it
starts always agree on the device.
"""

from __future__ import annotations

from typing import Any

DEFAULT_DEVICE = "auto"
DEVICE_HELP = "auto (CUDA if available, else CPU), cpu, cuda or cuda:N."


def resolve(name: str | None = DEFAULT_DEVICE) -> Any:
    """The ``torch.device`` for ``--device NAME`` (``None``: auto); bad or unavailable → ConfigError."""
    from optlab.train import resolve_device

    return resolve_device(name or DEFAULT_DEVICE)
