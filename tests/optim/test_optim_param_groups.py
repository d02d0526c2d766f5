"""optlab.optim.param_groups: which tensor goes where, and the groups work in torch and optlab optimizers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import optlab.optim as oo


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.body = nn.Linear(4, 4)
        self.bn = nn.BatchNorm1d(4)
        self.ln = nn.LayerNorm(4)
        self.head = nn.Linear(4, 3)
        self.frozen = nn.Linear(4, 4)
        self.frozen.requires_grad_(False)
        self.tied = self.head  # a module reached twice: its parameters are grouped once


def _where(groups: oo.ParamGroups) -> dict[str, tuple[int, float, float, str]]:
    return {a.name: (a.group, a.weight_decay, a.lr_scale, a.reason) for a in groups.assignments}


def test_default_no_decay_kinds_and_the_table() -> None:
    model = Net()
    groups = oo.param_groups(model, weight_decay=0.05)
    where = _where(groups)
    assert where["body.weight"][1:] == (0.05, 1.0, "decayed")
    assert where["head.weight"][1] == 0.05
    assert where["body.bias"][1:] == (0.0, 1.0, "bias")
    assert where["bn.weight"][3] == where["bn.bias"][3] == "norm (BatchNorm1d)"
    assert where["ln.weight"][3] == "norm (LayerNorm)"
    assert where["embed.weight"][1:] == (0.0, 1.0, "embedding (Embedding)")
    assert where["frozen.weight"][0] == -1 and "tied.weight" not in where
    # every trainable parameter exactly once, in the group its row names
    trainable = [p for p in model.parameters() if p.requires_grad]
    grouped = [p for g in groups for p in g["params"]]
    assert len(grouped) == len(trainable) and {id(p) for p in grouped} == {id(p) for p in trainable}
    for a in groups.assignments:
        if a.group >= 0:
            assert groups[a.group]["weight_decay"] == a.weight_decay
    table = groups.table()
    assert table.splitlines()[0].split() == ["parameter", "shape", "group", "weight_decay", "lr_scale", "why"]
    assert "frozen (skipped)" in table and len(table.splitlines()) == len(groups.assignments) + 2


def test_lr_scale_by_pattern_and_custom_no_decay_names() -> None:
    model = Net()
    groups = oo.param_groups(model, 0.1, no_decay=("bias", "ln"), lr_scale={"head.*": 10.0}, lr=1e-3)
    where = _where(groups)
    assert where["head.weight"][1:3] == (0.1, 10.0)
    assert groups[where["head.weight"][0]]["lr"] == pytest.approx(1e-2)
    assert where["ln.weight"][1:] == (0.0, 1.0, "name matches 'ln'")
    assert where["bn.weight"][1] == 0.1  # "norm" not asked for
    assert where["embed.weight"][1] == 0.1


def test_groups_drive_optimizers_with_their_decay() -> None:
    model = Net()
    for cls in (torch.optim.AdamW, oo.AdamW):
        opt = cls(oo.param_groups(model, weight_decay=0.3), lr=1e-3)
        decays = sorted(g["weight_decay"] for g in opt.param_groups)
        assert decays == [0.0, 0.3]


def test_weight_decay_none_leaves_the_optimizers_own() -> None:
    groups = oo.param_groups(Net(), weight_decay=None, no_decay=("bias", "norm"))
    opt = oo.AdamW(groups, lr=1e-3, weight_decay=0.2)
    assert sorted(g["weight_decay"] for g in opt.param_groups) == [0.0, 0.2]
    assert "optimizer's" in groups.table()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(weight_decay=-1), "weight_decay must be a number >= 0, got -1"),
        (dict(weight_decay=0.1, lr_scale={"head.*": 0}), r"lr_scale\['head.\*'\] must be a number > 0"),
        (dict(weight_decay=0.1, lr_scale={"head.*": 2.0}), "lr_scale needs lr"),
    ],
)
def test_bad_arguments_are_named(kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        oo.param_groups(Net(), **kwargs)
