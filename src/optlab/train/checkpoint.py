"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint is a dict of tensors and plain containers only (RNG states are stored as the uint8 tensors torch
returns), so loading never runs pickled code. ``FORMAT`` marks our files: a foreign ``.pt`` file or a damaged
one raises :class:`OptlabError` with one line, and nothing on disk is touched."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from optlab._io import atomic_write_bytes
from optlab.errors import OptlabError

FORMAT = "optlab-checkpoint-v1"


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Serialize ``state`` (tensors and plain containers) atomically to ``path``, tagged with
    :data:`FORMAT`."""
    save_tensors(path, {"format": FORMAT, **state})


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load an optlab checkpoint onto the CPU; a missing, corrupt or foreign file raises
    :class:`OptlabError`."""
    path = Path(path)
    if not path.is_file():
        raise OptlabError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a damaged file raises RuntimeError, UnpicklingError, EOFError, ...
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OptlabError(
            f"checkpoint {path} is corrupt or not a checkpoint torch can read safely: {reason}"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise OptlabError(f"{path} is not an optlab checkpoint (expected format {FORMAT!r})")
    return state


# -- random number generators --------------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    """Every global generator a run may consume: torch CPU and CUDA (dropout, init), Python's and NumPy's."""
    version, internal, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": [version, list(internal), gauss],
        "numpy": [
            np_name,
            torch.from_numpy(np_keys.astype(np.int64)),
            int(np_pos),
            int(np_has_gauss),
            float(np_gauss),
        ],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = state["numpy"]
    np.random.set_state((np_name, np_keys.numpy().astype(np.uint32), np_pos, np_has_gauss, np_gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_tensors(path: str | Path, tensors: dict[str, Any]) -> None:
    """Save a plain ``state_dict`` (e.g. ``final.pt``) atomically; load it with
    ``torch.load(weights_only=True)``."""
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    atomic_write_bytes(path, buffer.getvalue())
