"""Batch augmentation (optlab.data.augment): flips and translations of whole batches, checked per example
against a direct, per-example computation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from optlab.data.augment import Augment, flip, translate
from optlab.errors import ConfigError


def test_flip_mirrors_about_half_the_examples_and_keeps_the_others():
    x = torch.randn(400, 1, 5, 7, generator=torch.Generator().manual_seed(0))
    out = flip(x, torch.Generator().manual_seed(1))
    mirrored = torch.tensor([torch.equal(o, e.flip(-1)) for o, e in zip(out, x, strict=True)])
    kept = torch.tensor([torch.equal(o, e) for o, e in zip(out, x, strict=True)])
    assert bool((mirrored ^ kept).all())  # each example exactly one of the two
    assert 150 < int(mirrored.sum()) < 250


@pytest.mark.parametrize("shape", [(64, 12), (64, 2, 12), (64, 3, 9, 11)])
def test_translate_is_a_per_example_shift_with_edge_padding(shape):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    shift = 3
    out = translate(x, shift, torch.Generator().manual_seed(2))
    assert out.shape == x.shape and out.dtype == x.dtype
    spatial = 2 if x.ndim == 4 else 1
    seen = set()
    for example, result in zip(x, out, strict=True):
        batch1 = example[None] if example.ndim > 1 else example[None, None]
        padded = F.pad(batch1, (shift, shift) * spatial, mode="replicate")[0]
        if example.ndim == 1:
            padded = padded[0]
        matches = []
        for offset in range((2 * shift + 1) ** spatial):
            dy, dx = divmod(offset, 2 * shift + 1) if spatial == 2 else (0, offset)
            window = (
                padded[..., dy : dy + example.shape[-2], dx : dx + example.shape[-1]]
                if spatial == 2
                else (padded[..., dx : dx + example.shape[-1]])
            )
            if torch.equal(window, result):
                matches.append((dy, dx))
        assert matches, "each output is one window of the edge-padded example"
        seen.update(matches)
    assert len(seen) > (2 * shift + 1) ** spatial // 2  # the offsets vary over the batch


def test_translate_zero_is_the_identity_and_bad_shifts_are_refused():
    x = torch.randn(4, 10)
    assert translate(x, 0) is x
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError, match="shift"):
            translate(x, bad)
    with pytest.raises(ConfigError, match="translate"):
        Augment(translate=-2)
    with pytest.raises(ConfigError, match="batch"):
        flip(torch.randn(5))


def test_augment_draws_from_the_global_rng_deterministically():
    x = torch.randn(32, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    augment = Augment(flip=True, translate=2)
    torch.manual_seed(7)
    first = augment(x)
    torch.manual_seed(7)
    assert torch.equal(augment(x), first)
    assert not torch.equal(augment(x), first)  # the RNG moved on: the next batch is augmented differently
    assert not Augment() and Augment(flip=True) and Augment(translate=1)
    assert Augment()(x) is x


def test_channels_last_batches_stay_correct():
    x = torch.randn(16, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(3)
    plain = translate(flip(x), 2)
    torch.manual_seed(3)
    nhwc = translate(flip(x.contiguous(memory_format=torch.channels_last)), 2)
    assert torch.equal(plain, nhwc)
