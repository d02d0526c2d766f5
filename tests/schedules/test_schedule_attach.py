"""attach(): a torch LRScheduler that runs update t at schedule(t), and resumes at the exact step."""

import io
import warnings

import pytest
import torch

from optlab.schedules import ScheduledLR, attach, constant, cosine, linear_warmup, step_decay


def lrs_seen(optimizer, scheduler, steps, group=0):
    """Run `steps` updates of a torch loop; return the lr each update ran at."""
    seen = []
    for _ in range(steps):
        seen.append(optimizer.param_groups[group]["lr"])
        for g in optimizer.param_groups:
            for p in g["params"]:
                p.grad = torch.ones_like(p)
        optimizer.step()
        scheduler.step()
    return seen


def test_update_t_runs_at_schedule_t():
    schedule = linear_warmup(cosine(0.1, 60), 10)
    parameter = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.SGD([parameter], lr=123.0)  # the optimizer's own lr is overridden
    scheduler = attach(optimizer, schedule)
    assert isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler)
    assert optimizer.param_groups[0]["lr"] == schedule(0)  # applied at construction
    assert scheduler.last_epoch == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the right loop order triggers none of torch's warnings
        seen = lrs_seen(optimizer, scheduler, 70)
    assert seen == [schedule(t) for t in range(70)]
    assert scheduler.last_epoch == 70
    assert scheduler.get_last_lr() == [schedule(70)]


def test_state_dict_round_trip_continues_identically():
    schedule = linear_warmup(step_decay(0.2, 7, 0.5), 5)
    data = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))

    def build():
        torch.manual_seed(1)
        model = torch.nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.9)
        return model, optimizer, attach(optimizer, schedule)

    def train(model, optimizer, scheduler, steps):
        lrs = []
        for _ in range(steps):
            lrs.append(optimizer.param_groups[0]["lr"])
            loss = model(data).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        return lrs

    model, optimizer, scheduler = build()
    uninterrupted = train(model, optimizer, scheduler, 40)

    model2, optimizer2, scheduler2 = build()
    first = train(model2, optimizer2, scheduler2, 17)
    buffer = io.BytesIO()
    torch.save(
        {"model": model2.state_dict(), "opt": optimizer2.state_dict(), "sched": scheduler2.state_dict()},
        buffer,
    )
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)  # only plain data in the scheduler's state

    model3, optimizer3, scheduler3 = build()  # a fresh process: scheduler at step 0
    model3.load_state_dict(checkpoint["model"])
    optimizer3.load_state_dict(checkpoint["opt"])
    scheduler3.load_state_dict(checkpoint["sched"])
    assert scheduler3.last_epoch == 17
    assert optimizer3.param_groups[0]["lr"] == schedule(17)
    rest = train(model3, optimizer3, scheduler3, 23)

    assert first + rest == uninterrupted == [schedule(t) for t in range(40)]
    for a, b in zip(model.parameters(), model3.parameters(), strict=True):
        assert torch.equal(a, b)


def test_load_state_dict_sets_lr_even_when_optimizer_state_is_not_loaded():
    schedule = cosine(0.1, 50)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = attach(optimizer, schedule)
    lrs_seen(optimizer, scheduler, 20)
    state = scheduler.state_dict()
    fresh_optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    fresh = attach(fresh_optimizer, schedule)
    fresh.load_state_dict(state)
    assert fresh_optimizer.param_groups[0]["lr"] == schedule(20)
    assert fresh.get_last_lr() == [schedule(20)]


def test_relative_mode_keeps_each_groups_ratio():
    schedule = cosine(0.1, 50)
    body, head = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.SGD([{"params": [body], "lr": 0.1}, {"params": [head], "lr": 1.0}], lr=0.1)
    scheduler = attach(optimizer, schedule, relative=True)
    lrs = []
    for _ in range(55):
        lrs.append([g["lr"] for g in optimizer.param_groups])
        lrs_seen(optimizer, scheduler, 1)
    assert [lr[0] for lr in lrs] == [schedule(t) for t in range(55)]
    assert [lr[1] for lr in lrs] == pytest.approx([10 * schedule(t) for t in range(55)], rel=1e-15)


def test_one_schedule_per_group():
    schedules = [constant(0.5), step_decay(0.1, 3, 0.1)]
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([{"params": [a]}, {"params": [b]}], lr=1.0)
    scheduler = attach(optimizer, schedules)
    assert lrs_seen(optimizer, scheduler, 8, group=1) == [schedules[1](t) for t in range(8)]
    assert optimizer.param_groups[0]["lr"] == 0.5


def test_works_with_a_plain_callable_and_a_tensor_lr():
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(3))], lr=torch.tensor(0.01))
    scheduler = attach(optimizer, lambda t: 0.01 / (t + 1))
    assert optimizer.param_groups[0]["lr"].item() == pytest.approx(0.01)
    lrs_seen(optimizer, scheduler, 3)
    assert isinstance(optimizer.param_groups[0]["lr"], torch.Tensor)
    assert optimizer.param_groups[0]["lr"].item() == pytest.approx(0.0025)
    scheduler.load_state_dict(scheduler.state_dict())
    assert optimizer.param_groups[0]["lr"].item() == pytest.approx(0.0025)


def test_bad_uses_raise():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="2 schedules for 1 param groups"):
        attach(optimizer, [constant(0.1), constant(0.2)])
    with pytest.raises(ValueError, match="relative=True takes one schedule"):
        attach(optimizer, [constant(0.1)], relative=True)
    with pytest.raises(TypeError, match="callable"):
        attach(optimizer, 0.1)
    scheduler = attach(optimizer, constant(0.1))
    with pytest.raises(ValueError, match="missing last_epoch"):
        scheduler.load_state_dict({"base_lrs": [0.1]})
    zero = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.0}], lr=0.0)
    with pytest.raises(ValueError, match="group 0 to start with an lr > 0"):
        attach(zero, constant(0.1), relative=True)


def test_repr_names_the_schedule_and_step():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = attach(optimizer, cosine(0.1, 10))
    assert isinstance(scheduler, ScheduledLR)
    assert repr(scheduler) == "ScheduledLR(cosine(lr=0.1, total_steps=10, final_lr=0.0), last_epoch=0)"
