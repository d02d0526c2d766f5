"""The layer picture of docs/architecture.md, checked: imports between optlab's packages point one way only.

optim, schedules, data, models ← train ← measure, sweep, speedrun ← experiments ← explore, report ← cli
(``optlab.errors`` and ``optlab._io`` are importable from every layer). Imports inside functions count too."""

import ast
from pathlib import Path

import optlab

LAYERS = {
    "optim": 0, "schedules": 0, "data": 0, "models": 0,
    "train": 1,
    "measure": 2, "sweep": 2, "speedrun": 2,
    "experiments": 3,
    "explore": 4, "report": 4,
    "cli": 5,
}  # fmt: skip
ANYWHERE = {"errors", "_io", "__main__"}
ROOT = Path(optlab.__file__).parent


def package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "optlab" and len(parts) > 1 else None


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names if node.module == "optlab"}
    return found


def violations() -> list[str]:
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        here = rel.parts[0] if len(rel.parts) > 1 else None
        if here is None or here in ANYWHERE:
            continue
        assert here in LAYERS, (
            f"package optlab.{here} is in no layer: add it to docs/architecture.md and here"
        )
        for module in imports(path):
            target = package_of(module)
            if target is None or target in ANYWHERE or target == here:
                continue
            if target not in LAYERS or LAYERS[target] > LAYERS[here]:
                bad.append(f"{rel} imports {module}")
    return bad


def test_imports_point_down_the_layers():
    assert violations() == []


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The rule must be able to fail: a train module importing experiments is reported."""
    fake = tmp_path / "optlab"
    (fake / "train").mkdir(parents=True)
    (fake / "train" / "bad.py").write_text("def f():\n    from optlab.experiments import registry\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", fake)
    assert violations() == ["train/bad.py imports optlab.experiments"]
