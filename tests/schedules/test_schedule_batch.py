"""Batch-size schedules (examples seen -> B): known answers, monotonicity, the registry, the lr and β₂ rules,
bad arguments as one-line ConfigErrors."""

import itertools
import math
import pickle

import pytest

from optlab import schedules
from optlab.errors import ConfigError
from optlab.schedules import (
    batch_schedule_info,
    batch_schedule_names,
    cbs_driven,
    create_batch_schedule,
    half_life_beta2,
    lr_factor,
    piecewise,
    ramp,
)


def values(schedule, examples):
    return [schedule(e) for e in examples]


# ------------------------------------------------------------------------------------------- known answers


def test_piecewise_known_answers():
    s = piecewise((32, 64, 128), (1000, 5000))
    assert values(s, [0, 999, 1000, 4999, 5000, 10**9]) == [32, 32, 64, 64, 128, 128]
    assert values(piecewise(16), [0, 10**12]) == [16, 16]  # one size: a fixed batch
    assert values(piecewise((64, 16), (100,)), [99, 100]) == [64, 16]  # sizes may fall


def test_ramp_doubling_known_answers():
    # 32 -> 256 is n = 3 doublings over E = 3000: B doubles every 1000 examples and is 256 from 3000 on
    s = ramp(32, 256, 3000)
    assert s.shape == "doubling" and s.doublings == 3
    assert values(s, [0, 999, 1000, 1999, 2000, 2999, 3000, 10**9]) == [32, 32, 64, 64, 128, 128, 256, 256]
    # end/start not a power of two: n = ⌈log₂ 6.25⌉ = 3 doublings, the last capped at end
    capped = ramp(32, 200, 3000)
    assert capped.doublings == 3
    assert values(capped, [0, 1000, 2000, 2999, 3000]) == [32, 64, 128, 128, 200]
    assert [ramp(32, end, 10).doublings for end in (32, 33, 64, 65, 128)] == [0, 1, 1, 2, 2]
    assert values(ramp(8, 8, 100), [0, 50, 100]) == [8, 8, 8]


def test_ramp_linear_known_answers():
    # B = 10 + ⌊10·e/100⌋: rounded down, never ahead of the line
    s = ramp(10, 20, 100, shape="linear")
    assert values(s, [0, 9, 10, 55, 99, 100, 10**6]) == [10, 10, 11, 15, 19, 20, 20]


def test_cbs_driven_known_answers():
    # CBS: 10 at 0, 100 at 1000, a dip to 50 at 2000, 300 at 3000; powers of two clipped to [16, 256]
    s = cbs_driven([(0, 10), (1000, 100), (2000, 50), (3000, 300)], min_batch=16, max_batch=256)
    assert s.cbs(500) == 55.0 and s.cbs(2500) == 175.0 and s.cbs(10**6) == 300.0
    examples = [0, 500, 999, 1000, 1500, 2000, 2500, 2999, 3000, 10**7]
    # 10→16 (clip), 55→32, 99.1→64, 100→64, the dip keeps 64 (running max 100), 175→128, 299.75→256 (clip)
    assert values(s, examples) == [16, 32, 64, 64, 64, 64, 128, 256, 256, 256]
    # before the first measurement the first value holds; a power of two exactly is kept
    late = cbs_driven([(100, 64), (200, 64)], 1, 1024)
    assert values(late, [0, 100, 150, 10**9]) == [64, 64, 64, 64]
    # clip bounds that are not powers of two are used as given
    assert cbs_driven([(0, 1000)], 1, 300)(0) == 300 and cbs_driven([(0, 1)], 3, 300)(0) == 3


def test_text_arguments_as_from_a_command_line():
    assert piecewise("32,64,128", "1000,5000") == piecewise((32, 64, 128), (1000, 5000))
    assert piecewise(8) == piecewise((8,))  # a scalar is one item
    assert piecewise(("8", "16"), 1e3) == piecewise((8, 16), (1000,))
    assert ramp("32", 2.56e2, 1e4) == ramp(32, 256, 10_000)
    text = cbs_driven("0:32,2e4:128", 16, 512)
    assert text == cbs_driven(((0, 32.0), (20_000, 128.0)), 16, 512)
    assert text == cbs_driven(("0:32", "20000:128"), "16", 512.0)  # parse_hparam's tuple of strings
    assert text == cbs_driven([[0, 32], [20_000, 128]], 16, 512)  # a TOML array of arrays


# ------------------------------------------------------------------------------------------- monotonicity


@pytest.mark.parametrize(
    "schedule",
    [
        ramp(3, 1000, 5000),
        ramp(3, 1000, 5000, shape="linear"),
        ramp(7, 7, 10),
        piecewise((1, 2, 2, 9), (10, 20, 30)),
        cbs_driven([(0, 2.5), (900, 700), (1500, 90), (2500, 400), (4000, 3000)], 4, 2048),
    ],
    ids=repr,
)
def test_warm_ups_never_shrink_the_batch(schedule):
    sizes = values(schedule, range(0, 6000, 7))
    assert all(b >= a for a, b in itertools.pairwise(sizes))
    assert all(isinstance(b, int) and b >= 1 for b in sizes)


def test_doubling_and_cbs_sizes_are_powers_of_two():
    powers = {1 << k for k in range(20)}
    assert set(values(ramp(4, 512, 10_000), range(0, 12_000, 13))) <= powers
    curve = cbs_driven([(0, 3), (5000, 5000)], 1, 1 << 19)
    assert set(values(curve, range(0, 6000, 11))) <= powers


# ------------------------------------------------------------------------------------------- value objects


@pytest.mark.parametrize(
    "schedule",
    [piecewise((32, 64), (1000,)), ramp(8, 64, 1000, "linear"), cbs_driven("0:8,10:64", 1, 64)],
    ids=repr,
)
def test_repr_is_the_call_and_schedules_pickle(schedule):
    namespace = {"piecewise": piecewise, "ramp": ramp, "cbs_driven": cbs_driven}
    assert eval(repr(schedule), namespace) == schedule  # our own repr
    assert pickle.loads(pickle.dumps(schedule)) == schedule
    assert hash(schedule) == hash(eval(repr(schedule), namespace))


def test_examples_must_be_a_count():
    s = ramp(8, 64, 100)
    with pytest.raises(ValueError, match="examples seen must be >= 0"):
        s(-1)
    with pytest.raises(TypeError):
        s(True)
    with pytest.raises(TypeError):
        s(1.5)


# ------------------------------------------------------------------------------------------------ registry


def test_registry_names_and_entries():
    assert batch_schedule_names() == ["piecewise", "ramp", "cbs_driven"]
    for name in batch_schedule_names():
        entry = batch_schedule_info(name)
        assert entry.description and entry.paper and entry.name == name
        # the docstring gives the rule and its source
        cls = type(create_batch_schedule(name, **REQUIRED[name]))
        assert "B(e)" in cls.__doc__ and any(year in cls.__doc__ for year in ("2018", "2020", "2025"))
    assert batch_schedule_info("ramp").options == ("start", "end", "examples", "shape")
    assert batch_schedule_info("ramp").required == ("start", "end", "examples")
    assert batch_schedule_info("cbs_driven").required == ("points", "min_batch", "max_batch")
    assert create_batch_schedule("ramp", start=8, end=32, examples=99, shape="linear") == ramp(
        8, 32, 99, "linear"
    )


REQUIRED = {
    "piecewise": {"sizes": "8,16", "boundaries": "100"},
    "ramp": {"start": 8, "end": 64, "examples": 1000},
    "cbs_driven": {"points": "0:8,1000:64", "min_batch": 8, "max_batch": 64},
}


def test_rule_names_match_the_configs():
    from optlab.train.config import BATCH_BETA2_RULES, BATCH_LR_RULES

    assert BATCH_LR_RULES == schedules.LR_RULES == ("none", "linear", "sqrt")
    assert BATCH_BETA2_RULES == schedules.BETA2_RULES == ("none", "half-life")


# ------------------------------------------------------------------------------------------------ the rules


def test_lr_rules_known_answers():
    assert lr_factor("none", 256, 32) == 1.0
    assert lr_factor("linear", 256, 32) == 8.0  # Goyal et al.: k× the batch, k× the lr
    assert lr_factor("linear", 48, 32) == 1.5
    assert lr_factor("sqrt", 128, 32) == 2.0  # Malladi et al.: √k
    assert lr_factor("sqrt", 64, 32) == math.sqrt(2)
    assert lr_factor("linear", 16, 32) == 0.5  # a smaller batch scales down


def test_half_life_beta2_keeps_the_half_life_in_examples():
    assert half_life_beta2(0.999, 32, 32) == 0.999
    assert half_life_beta2(0.999, 64, 32) == 0.999**2
    assert half_life_beta2(0.95, 16, 32) == 0.95**0.5
    # the half-life in examples, B · ln ½ / ln β₂, is the same before and after
    for size in (8, 32, 96, 1024):
        beta2 = half_life_beta2(0.999, size, 32)
        assert size * math.log(0.5) / math.log(beta2) == pytest.approx(32 * math.log(0.5) / math.log(0.999))


# ----------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: create_batch_schedule("rampe"), "unknown batch schedule 'rampe'; valid: piecewise, ramp"),
        (lambda: create_batch_schedule("ramp", start=8), "batch schedule 'ramp': missing option 'end'"),
        (lambda: create_batch_schedule("ramp", strat=8), "unknown option 'strat'; valid options: start, end"),
        (lambda: piecewise(()), "piecewise: sizes must hold at least one batch size, got none"),
        (lambda: piecewise((8, 0)), "piecewise: sizes must be an integer >= 1, got 0"),
        (lambda: piecewise((8, 16)), r"boundaries must hold one example count fewer than sizes \(1\), got 0"),
        (lambda: piecewise((8, 16, 32), (50, 50)), r"boundaries must be strictly increasing, got \[50, 50\]"),
        (lambda: piecewise((8, 16), (0,)), "piecewise: boundaries must be an integer >= 1, got 0"),
        (lambda: piecewise("8,x"), "piecewise: sizes must be an integer >= 1, got 'x'"),
        (lambda: ramp(0, 8, 10), "ramp: start must be an integer >= 1, got 0"),
        (lambda: ramp(8, 4, 10), r"ramp: end must be >= start \(8\), got 4"),
        (lambda: ramp(8, 16, 0), "ramp: examples must be an integer >= 1, got 0"),
        (lambda: ramp(8, 16, 2.5), "ramp: examples must be an integer >= 1, got 2.5"),
        (lambda: ramp(8, 16, 10, shape="cubic"), "ramp: shape must be one of doubling, linear, got 'cubic'"),
        (lambda: cbs_driven((), 1, 8), "cbs_driven: points must hold at least one"),
        (lambda: cbs_driven("0:8,0:16", 1, 8), r"strictly increasing, got \[0, 0\]"),
        (lambda: cbs_driven("0:8:1", 1, 8), "each point must be a pair examples:cbs, got '0:8:1'"),
        (lambda: cbs_driven("0:-8", 1, 8), r"points \(cbs\) must be a finite number > 0, got -8"),
        (lambda: cbs_driven("-5:8", 1, 8), r"points \(examples\) must be an integer >= 0, got -5"),
        (lambda: cbs_driven("0:8", 16, 8), r"max_batch must be >= min_batch \(16\), got 8"),
        (lambda: cbs_driven("0:8", 0, 8), "min_batch must be an integer >= 1, got 0"),
        (lambda: lr_factor("cube", 8, 8), "lr_factor: rule must be one of none, linear, sqrt, got 'cube'"),
        (lambda: lr_factor("linear", 0, 8), "lr_factor: batch_size must be an integer >= 1, got 0"),
        (lambda: half_life_beta2(1.0, 8, 8), r"beta2 must be a number in \[0, 1\), got 1.0"),
    ],
)
def test_bad_arguments_are_one_line_config_errors(call, message):
    with pytest.raises(ConfigError, match=message) as caught:
        call()
    assert len(str(caught.value).splitlines()) == 1
