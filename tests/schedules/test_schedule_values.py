"""Schedule values at step 0, at the end of warm-up, at the end and past it, against hand-computed numbers."""

import math
import pickle

import pytest

import optlab.schedules as S
from optlab.errors import ConfigError
from optlab.schedules import (
    constant,
    constant_warmup,
    cosine,
    exponential,
    inverse_time,
    linear_scaling,
    linear_warmup,
    multistep,
    sqrt_scaling,
    step_decay,
    transformer,
)

approx = pytest.approx


def test_constant():
    schedule = constant(0.3)
    assert [schedule(t) for t in (0, 1, 10**6)] == [0.3, 0.3, 0.3]


def test_step_decay_drops_by_gamma_every_step_size():
    schedule = step_decay(0.1, step_size=30, gamma=0.1)
    assert schedule(0) == 0.1
    assert schedule(29) == 0.1
    assert schedule(30) == approx(0.01, rel=1e-15)
    assert schedule(59) == approx(0.01, rel=1e-15)
    assert schedule(65) == approx(0.001, rel=1e-15)


def test_multistep_counts_milestones_reached():
    schedule = multistep(1.0, milestones=[10, 20], gamma=0.5)
    assert [schedule(t) for t in (0, 9, 10, 19, 20, 10_000)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert multistep(0.1, "3, 5", 0.1).milestones == (3, 5)  # the command-line spelling
    assert multistep(0.1, [], 0.1)(100) == 0.1  # no milestones: constant


def test_exponential():
    schedule = exponential(2.0, gamma=0.5)
    assert [schedule(t) for t in (0, 1, 3)] == [2.0, 1.0, 0.25]
    assert exponential(1e-5, gamma=10.0)(5) == approx(1.0, rel=1e-12)  # gamma > 1: an lr range test


def test_inverse_time():
    assert inverse_time(1.0)(0) == 1.0
    assert inverse_time(1.0)(3) == 0.5  # 1/√4
    assert inverse_time(1.0)(99) == approx(0.1, rel=1e-15)
    assert inverse_time(2.0, power=1.0)(9) == approx(0.2, rel=1e-15)
    assert inverse_time(2.0, power=0.0)(9) == 2.0


def test_cosine_end_and_past_end():
    schedule = cosine(0.1, total_steps=100)
    assert schedule(0) == 0.1
    assert schedule(50) == approx(0.05, rel=1e-14)
    assert schedule(100) == approx(0.0, abs=1e-18)
    assert schedule(150) == approx(0.0, abs=1e-18)  # stays at final_lr (torch's would rise again)
    with_floor = cosine(0.1, total_steps=100, final_lr=0.01)
    assert with_floor(50) == approx(0.055, rel=1e-14)
    assert with_floor(25) == approx(0.01 + 0.09 * (1 + math.sqrt(0.5)) / 2, rel=1e-14)  # cos(π/4) = √½
    assert with_floor(100) == approx(0.01, rel=1e-14)
    assert with_floor(10**6) == approx(0.01, rel=1e-14)


def test_linear_warmup_is_not_shifted_and_continuous():
    inner = cosine(0.1, total_steps=100)
    schedule = linear_warmup(inner, warmup_steps=10)
    assert schedule(0) == 0.0
    # half-way up the line to inner(10) = 0.1·(1 + cos(π/10))/2, cos(π/10) = 0.95105651629515357
    assert schedule(5) == approx(0.5 * 0.1 * (1 + 0.95105651629515357) / 2, rel=1e-14)
    assert schedule(10) == inner(10)  # the warm-up ends exactly where the (unshifted) schedule is
    assert schedule(9) < schedule(10)
    assert schedule(37) == inner(37)
    assert schedule(100) == approx(0.0, abs=1e-18)  # the run still ends at step 100
    assert schedule(1000) == approx(0.0, abs=1e-18)

    from_floor = linear_warmup(constant(0.1), warmup_steps=4, start_lr=0.01)
    assert [from_floor(t) for t in range(6)] == approx([0.01, 0.0325, 0.055, 0.0775, 0.1, 0.1], rel=1e-14)
    assert linear_warmup(constant(0.1), warmup_steps=0)(0) == 0.1  # no warm-up


def test_constant_warmup_resnet110():
    # He et al. 2016: 0.01 for ~400 iterations, then 0.1, divided by 10 at 32k and 48k iterations
    schedule = constant_warmup(multistep(0.1, [32_000, 48_000], 0.1), warmup_steps=400, warmup_lr=0.01)
    assert schedule(0) == 0.01
    assert schedule(399) == 0.01
    assert schedule(400) == 0.1
    assert schedule(31_999) == 0.1
    assert schedule(32_000) == approx(0.01, rel=1e-15)
    assert schedule(64_000) == approx(0.001, rel=1e-15)


def test_transformer_matches_the_paper():
    schedule = transformer(d_model=512, warmup_steps=4000)
    # s = 1: 512^-0.5 · 1 · 4000^-1.5
    assert schedule(0) == approx(1.7469281074217108e-07, rel=1e-12)
    # the peak at s = 4000 is 1/√(512·4000) = 1/√2048000 ≈ 6.99e-4
    assert schedule(3999) == approx(6.987712429686843e-04, rel=1e-12)
    assert schedule(3999) == approx(7.0e-4, rel=2e-3)
    assert schedule(3999) == schedule.peak_lr
    assert max(schedule(t) for t in range(3900, 4100)) == schedule(3999)
    # s = 16000 = 4·warmup: half the peak (1/√s decay)
    assert schedule(15_999) == approx(schedule(3999) / 2, rel=1e-12)
    assert transformer(512, 4000, scale=2.0)(123) == 2 * schedule(123)


def test_batch_size_scaling_rules():
    assert linear_scaling(0.1, 256) == 0.1
    assert linear_scaling(0.1, 8192) == approx(3.2, rel=1e-15)  # Goyal et al.: 0.1·kn/256
    assert linear_scaling(0.1, 64, base_batch_size=32) == approx(0.2, rel=1e-15)
    assert sqrt_scaling(0.1, 1024) == approx(0.2, rel=1e-15)
    assert sqrt_scaling(0.1, 64) == approx(0.05, rel=1e-15)
    assert isinstance(sqrt_scaling(0.1, 64), float)


ALL = [
    constant(0.1),
    step_decay(0.1, 10, 0.5),
    multistep(0.1, [5, 9], 0.3),
    exponential(0.1, 0.97),
    inverse_time(0.1, 0.7),
    cosine(0.1, 50, 0.001),
    linear_warmup(cosine(0.1, 50), 5, start_lr=0.001),
    constant_warmup(step_decay(0.1, 10, 0.5), 3, 0.01),
    transformer(64, 20, 0.5),
]


@pytest.mark.parametrize("schedule", ALL, ids=repr)
def test_schedules_pickle_and_repr_round_trip(schedule):
    copy = pickle.loads(pickle.dumps(schedule))
    assert copy == schedule
    assert [copy(t) for t in range(60)] == [schedule(t) for t in range(60)]
    rebuilt = eval(repr(schedule), vars(S))  # the repr is the call that builds it
    assert rebuilt == schedule
    assert hash(rebuilt) == hash(schedule)


@pytest.mark.parametrize("schedule", ALL, ids=repr)
def test_schedules_return_python_floats_and_reject_bad_steps(schedule):
    assert type(schedule(3)) is float
    with pytest.raises(ValueError, match="step must be >= 0"):
        schedule(-1)
    with pytest.raises(TypeError):
        schedule(1.5)


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: constant(-0.1), "lr"),
        (lambda: constant(float("nan")), "lr"),
        (lambda: step_decay(0.1, 0, 0.1), "step_size"),
        (lambda: step_decay(0.1, 2.5, 0.1), "step_size"),
        (lambda: step_decay(0.1, 10, 0.0), "gamma"),
        (lambda: multistep(0.1, [20, 10], 0.1), "strictly increasing"),
        (lambda: multistep(0.1, [-3], 0.1), "milestones"),
        (lambda: multistep(0.1, "10,x", 0.1), "milestones"),
        (lambda: multistep(0.1, [10], -1.0), "gamma"),
        (lambda: exponential(0.1, -0.5), "gamma"),
        (lambda: inverse_time(0.1, power=-1), "power"),
        (lambda: cosine(0.1, 0), "total_steps"),
        (lambda: cosine(0.1, -10), "total_steps"),
        (lambda: cosine(0.1, 10, final_lr=-1.0), "final_lr"),
        (lambda: linear_warmup(constant(0.1), -1), "warmup_steps"),
        (lambda: linear_warmup(lambda t: 0.1, 5), "schedule"),
        (lambda: linear_warmup(constant(0.1), 5, start_lr=float("inf")), "start_lr"),
        (lambda: constant_warmup(constant(0.1), 5, warmup_lr=-0.01), "warmup_lr"),
        (lambda: transformer(0, 4000), "d_model"),
        (lambda: transformer(512, 0), "warmup_steps"),
        (lambda: transformer(512, 4000, scale=0), "scale"),
        (lambda: linear_scaling(0.1, 0), "batch_size"),
        (lambda: linear_scaling(-0.1, 10), "base_lr"),
        (lambda: sqrt_scaling(0.1, 10, base_batch_size=0), "base_batch_size"),
    ],
)
def test_bad_arguments_raise_config_error_naming_them(build, argument):
    with pytest.raises(ConfigError, match=argument) as caught:
        build()
    assert isinstance(caught.value, ValueError)  # ConfigError is a ValueError
    assert "\n" not in str(caught.value)  # one line for the CLI
