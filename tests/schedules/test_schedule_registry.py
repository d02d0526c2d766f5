"""names() / info() / create(): schedules by name for the CLI and the trainer."""

import math

import pytest

from optlab.errors import ConfigError
from optlab.schedules import cosine, create, info, names

NAMES = [
    "constant",
    "step",
    "multistep",
    "exponential",
    "inverse_time",
    "cosine",
    "transformer",
    "wsd",
    "one_cycle",
]


def test_names():
    assert names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_is_documented_and_builds_with_defaults(name):
    entry = info(name)
    assert entry.name == name
    assert entry.description and entry.paper
    schedule = create(name, 0.1, 200, warmup_steps=20)
    values = [schedule(t) for t in range(260)]
    assert all(math.isfinite(v) and 0.0 <= v <= 0.1 + 1e-12 for v in values)
    if name == "transformer":  # its own warm-up peaks at lr
        assert max(values) == pytest.approx(0.1, rel=1e-12)
    elif name == "one_cycle":  # starts at lr / 25 and peaks at lr; create's warm-up replaces its start
        unwrapped = create(name, 0.1, 200)
        assert unwrapped(0) == pytest.approx(0.1 / 25, rel=1e-12)
        assert values[0] == 0.0
        assert values[20:] == [unwrapped(t) for t in range(20, 260)]
        assert max(values) == pytest.approx(0.1, rel=1e-12)
    else:  # the warm-up climbs to the unshifted schedule's value at step 20, then follows it
        unwrapped = create(name, 0.1, 200)
        assert unwrapped(0) == 0.1
        assert values[0] == 0.0
        assert values[20:] == [unwrapped(t) for t in range(20, 260)]
        assert max(values) == values[20] == unwrapped(20)


def test_defaults_for_a_run_length():
    assert create("constant", 0.1, 10)(9) == 0.1
    step = create("step", 0.1, 90)  # decay every third of the run
    assert (step(29), step(30), step(60)) == pytest.approx((0.1, 0.01, 0.001), rel=1e-15)
    multistep = create("multistep", 0.1, 100)  # drops at 50 % and 75 %
    assert (multistep(49), multistep(50), multistep(75)) == pytest.approx((0.1, 0.01, 0.001), rel=1e-15)
    assert create("exponential", 0.1, 100)(100) == pytest.approx(0.001, rel=1e-12)  # 100-fold over the run
    assert create("inverse_time", 0.1, 100)(3) == pytest.approx(0.05, rel=1e-15)
    assert create("cosine", 0.1, 100)(100) == pytest.approx(0.0, abs=1e-18)
    assert create("cosine", 0.1, 100, final_lr=0.01)(100) == pytest.approx(0.01, rel=1e-14)
    assert create("step", 0.1, 100, step_size=10, gamma=0.5)(25) == pytest.approx(0.025, rel=1e-15)
    assert create("multistep", 0.1, 100, milestones=[10])(10) == pytest.approx(0.01, rel=1e-15)


def test_warmup_wraps_without_shifting():
    schedule = create("cosine", 0.1, 100, warmup_steps=10)
    plain = cosine(0.1, 100)
    assert schedule(0) == 0.0
    assert schedule(5) == pytest.approx(plain(10) / 2, rel=1e-14)
    assert schedule(10) == plain(10)
    assert schedule(60) == plain(60)
    assert create("cosine", 0.1, 100, warmup_steps=0) == plain


def test_transformer_lr_is_its_peak():
    schedule = create("transformer", 1e-3, 10_000, warmup_steps=100)
    assert schedule(99) == pytest.approx(1e-3, rel=1e-12)  # s = warmup
    assert max(schedule(t) for t in range(1000)) == schedule(99)
    assert schedule(399) == pytest.approx(5e-4, rel=1e-12)  # s = 4·warmup: 1/√4 of the peak
    assert schedule(49) == pytest.approx(0.5e-3, rel=1e-12)  # linear warm-up: half-way at s = 50
    # the paper's setting: d_model 512, 4000 warm-up steps, scale 1 ⇔ lr = 1/√(512·4000)
    paper = create("transformer", 1 / math.sqrt(512 * 4000), 100_000, warmup_steps=4000)
    assert paper.scale == pytest.approx(1.0, rel=1e-12)
    assert paper.d_model == 512


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: create("cosinus", 0.1, 10), "unknown schedule 'cosinus'; valid: constant, step, multistep"),
        (lambda: create("cosine", 0.0, 10), "lr must be a finite number > 0"),
        (lambda: create("cosine", float("nan"), 10), "lr must be"),
        (lambda: create("cosine", 0.1, 0), "total_steps must be an integer >= 1, got 0"),
        (lambda: create("cosine", 0.1, -5), "total_steps must be an integer >= 1"),
        (lambda: create("cosine", 0.1, 10, warmup_steps=-1), "warmup_steps must be an integer >= 0"),
        (lambda: create("cosine", 0.1, 10, warmup_steps=11), r"warmup_steps must be <= total_steps \(10\)"),
        (lambda: create("step", 0.1, 10, gama=0.5), "unknown option 'gama'; valid options: step_size, gamma"),
        (lambda: create("constant", 0.1, 10, gamma=0.5), "valid options: none"),
        (lambda: create("step", 0.1, 10, gamma=0.0), "gamma must be a finite number > 0"),
        (lambda: create("exponential", 0.1, 10, gamma=-1), "gamma"),
        (lambda: create("multistep", 0.1, 10, milestones=[5, 2]), "strictly increasing"),
        (lambda: create("transformer", 0.1, 10), "warmup_steps must be >= 1"),
        (lambda: create("transformer", 0.1, 10, warmup_steps=5, d_model=0), "d_model"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


def test_info_unknown_name():
    with pytest.raises(ConfigError, match="valid: constant, step, multistep, exponential, inverse_time"):
        info("warmup")
