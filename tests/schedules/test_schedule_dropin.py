"""Schedules as drop-ins (issue 12): attach() follows add_param_group, state dicts round-trip with any number
of groups, torch's ``last_epoch=N`` resume idiom, the wsd schedule, and bit-identical resumption of every
registered schedule composed with warm-up."""

from __future__ import annotations

import io

import pytest
import torch

import optlab.optim as oo
from optlab.errors import ConfigError
from optlab.schedules import attach, cosine, create, linear_warmup, names, wsd

TOTAL = 40
# the lr sequence is what is under test; the tests step schedulers without optimizer steps between
pytestmark = pytest.mark.filterwarnings(
    "ignore:Detected call of `lr_scheduler.step\\(\\)` before:UserWarning"
)


def _opt(groups: int = 1, lr: float = 0.1) -> torch.optim.Optimizer:
    return oo.Adam(
        [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr * (g + 1)} for g in range(groups)], lr=lr
    )


def _lrs(opt: torch.optim.Optimizer) -> list[float]:
    return [g["lr"] for g in opt.param_groups]


def _roundtrip(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_group_added_mid_run_follows_the_schedule_and_round_trips(relative: bool) -> None:
    """The handed input: attach, add_param_group (unfreeze a layer), step, state_dict round trip; before,
    ``ValueError: zip() argument 2 is shorter`` and then a refused state_dict."""
    schedule = cosine(0.1, total_steps=TOTAL)
    opt = _opt()
    sched = attach(opt, schedule, relative=relative)
    for _ in range(3):
        opt.step()
        sched.step()
    opt.add_param_group({"params": [torch.zeros(3, requires_grad=True)], "lr": 0.02})
    for _ in range(4):
        opt.step()
        sched.step()
    t = sched.last_epoch
    expected_new = schedule(t) * (0.02 / 0.1) if relative else schedule(t)
    assert _lrs(opt) == [schedule(t), expected_new]
    saved_opt, saved_sched = _roundtrip(opt.state_dict()), _roundtrip(sched.state_dict())
    assert saved_sched["base_lrs"] == [0.1, 0.02]

    resumed = _opt()
    resumed.add_param_group({"params": [torch.zeros(3, requires_grad=True)], "lr": 0.02})
    resumed.load_state_dict(saved_opt)
    resumed_sched = attach(resumed, schedule, relative=relative)
    resumed_sched.load_state_dict(saved_sched)
    assert _lrs(resumed) == _lrs(opt)
    for _ in range(5):
        opt.step()
        sched.step()
        resumed.step()
        resumed_sched.step()
        assert _lrs(resumed) == _lrs(opt)


@pytest.mark.parametrize("saved_groups", [1, 2, 4])
@pytest.mark.parametrize("current_groups", [1, 3])
def test_state_dict_loads_with_any_number_of_groups(saved_groups: int, current_groups: int) -> None:
    schedule = linear_warmup(cosine(0.1, TOTAL), 5)
    source = _opt(saved_groups)
    sched = attach(source, schedule, relative=True)
    for _ in range(7):
        sched.step()
    target = _opt(current_groups, lr=0.3)
    target_sched = attach(target, schedule, relative=True)
    target_sched.load_state_dict(_roundtrip(sched.state_dict()))
    assert target_sched.last_epoch == 7
    bases = [0.1 * (g + 1) for g in range(saved_groups)] + [0.3 * (g + 1) for g in range(current_groups)][
        saved_groups:
    ]
    assert target_sched.base_lrs[:current_groups] == bases[:current_groups]
    # a group added after loading takes the saved base lr where the checkpoint has one
    target.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "lr": 0.7})
    target_sched.step()
    index = current_groups
    expected_base = 0.1 * (index + 1) if index < saved_groups else 0.7
    assert target.param_groups[index]["lr"] == pytest.approx(
        schedule(8) * expected_base / bases[0], rel=1e-15
    )


def test_per_group_schedules_refuse_an_unknown_new_group_in_one_line() -> None:
    opt = _opt(2)
    sched = attach(opt, [cosine(0.1, TOTAL), cosine(0.2, TOTAL)])
    opt.add_param_group({"params": [torch.zeros(1, requires_grad=True)]})
    with pytest.raises(ValueError, match="param group 2 was added after the scheduler was built with one"):
        sched.step()


@pytest.mark.parametrize("n", [0, 1, 5, 17])
def test_last_epoch_resume_idiom_starts_at_the_closed_form_value(n: int) -> None:
    """torch's idiom: a fresh optimizer (no initial_lr) and last_epoch=N; before, torch's KeyError."""
    schedule = linear_warmup(wsd(0.1, TOTAL, 10, shape="1-sqrt"), 5)
    straight_opt = _opt(2)
    straight = attach(straight_opt, schedule, relative=True)
    for _ in range(n + 1):
        straight.step()
    resumed_opt = _opt(2)
    resumed = attach(resumed_opt, schedule, relative=True, last_epoch=n)
    assert resumed.last_epoch == straight.last_epoch == n + 1
    assert _lrs(resumed_opt) == _lrs(straight_opt)
    assert resumed_opt.param_groups[0]["lr"] == schedule(n + 1)


def test_wsd_values() -> None:
    lr, final = 0.1, 0.01
    linear = wsd(lr, total_steps=100, decay_steps=20, final_lr=final)
    root = wsd(lr, total_steps=100, decay_steps=20, final_lr=final, shape="1-sqrt")
    for s in (linear, root):
        assert s(0) == s(79) == s(80) == lr  # stable until the cool-down starts at S = 80
        assert s(100) == s(150) == final
    assert linear(90) == pytest.approx((lr + final) / 2, rel=1e-15)  # p = 1/2
    assert root(85) == pytest.approx(final + (lr - final) * 0.5, rel=1e-15)  # p = 1/4: 1 − √p = 1/2
    assert root(81) < linear(81)  # 1 − √p falls faster at first
    with pytest.raises(ConfigError, match="wsd: decay_steps must be <= total_steps"):
        wsd(lr, 10, 11)
    with pytest.raises(ConfigError, match="wsd: shape must be one of linear, 1-sqrt, got 'cosine'"):
        wsd(lr, 10, 5, shape="cosine")
    built = create("wsd", lr, 100, warmup_steps=10, decay_fraction=0.2, shape="1-sqrt")
    cooled = wsd(lr, 100, 20, shape="1-sqrt")
    assert built(5) == pytest.approx(lr / 2, rel=1e-15)  # the linear warm-up from 0 to lr over 10 steps
    assert built(50) == lr and built(85) == cooled(85) == pytest.approx(lr / 2, rel=1e-15)


@pytest.mark.parametrize("name", names())
def test_every_schedule_with_warmup_resumes_bit_identically(name: str) -> None:
    schedule = create(name, 0.1, TOTAL, warmup_steps=6)
    opt = _opt(2)
    sched = attach(opt, schedule, relative=True)
    straight, snapshots = [], []
    for _ in range(TOTAL + 3):
        straight.append(_lrs(opt))
        snapshots.append((_roundtrip(opt.state_dict()), _roundtrip(sched.state_dict())))
        opt.step()
        sched.step()
    for r in range(1, TOTAL + 3):
        # resume from a checkpoint taken before update r
        saved_opt, saved_sched = snapshots[r]
        opt_r = _opt(2)
        opt_r.load_state_dict(saved_opt)
        sched_r = attach(opt_r, schedule, relative=True)
        sched_r.load_state_dict(saved_sched)
        # and by torch's idiom: r updates done = last_epoch r − 1
        opt_e = _opt(2)
        sched_e = attach(opt_e, schedule, relative=True, last_epoch=r - 1)
        for t in range(r, TOTAL + 3):
            assert _lrs(opt_r) == straight[t], (r, t)
            assert _lrs(opt_e) == straight[t], (r, t)
            sched_r.step()
            sched_e.step()
