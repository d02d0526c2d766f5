"""Keep data tests off the user's folders: a temporary cache, no $OPTLAB_DATA, an empty 'system' data dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from optlab.data import _common


@pytest.fixture(autouse=True)
def isolated_data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "optlab-cache"
    system = tmp_path / "system-datasets"
    system.mkdir()
    monkeypatch.setenv("OPTLAB_CACHE", str(cache))
    monkeypatch.delenv("OPTLAB_DATA", raising=False)
    monkeypatch.setattr(_common, "SYSTEM_DATA_DIRS", (system,))
    return tmp_path
