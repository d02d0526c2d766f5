"""optlab.models: output shapes on every dataset shape, parameter counts from the architecture, determinism,
errors."""

import math
import pickle

import pytest
import torch

from optlab.errors import ConfigError
from optlab.models import create, info, names

MNIST, CIFAR, MNIST1D, ABC = (1, 28, 28), (3, 32, 32), (40,), (2,)

# which (model, input shape) pairs are sensible; the rest must be refused with ConfigError
TAKES = {
    "f1": [MNIST, CIFAR, MNIST1D, ABC],
    "c1": [MNIST, CIFAR],
    "mlp1d": [MNIST, CIFAR, MNIST1D, ABC],
    "cnn1d": [MNIST1D],
    "cnn1d_bn": [MNIST1D],
    "logreg": [MNIST, CIFAR, MNIST1D, ABC],
    "mlp": [MNIST, CIFAR, MNIST1D, ABC],
    "conv2bn": [MNIST, CIFAR],
    "cnn1d_bn64": [MNIST1D],
}


def linear(n_in, n_out):
    return n_in * n_out + n_out


def batchnorm(n):
    return 2 * n  # weight and bias (running statistics are buffers, not parameters)


def conv(c_in, c_out, *kernel):
    return c_in * c_out * math.prod(kernel) + c_out


def conv_out(length, kernel, stride, padding):
    return math.floor((length + 2 * padding - kernel) / stride) + 1


def expected_parameters(name, shape, classes):
    """The parameter count, from the architecture as the papers describe it."""
    d = math.prod(shape)
    if name == "logreg":
        return linear(d, classes)
    if name == "mlp":
        return linear(d, 256) + linear(256, 256) + linear(256, classes)
    if name == "f1":
        hidden = linear(d, 512) + batchnorm(512) + 4 * (linear(512, 512) + batchnorm(512))
        return hidden + linear(512, classes)
    if name == "c1":
        channels, height, width = shape
        # two 'same' 3×3/2 max-pools: each side is halved, rounding up (28 → 14 → 7, 32 → 16 → 8)
        side_h, side_w = math.ceil(math.ceil(height / 2) / 2), math.ceil(math.ceil(width / 2) / 2)
        convs = conv(channels, 64, 5, 5) + batchnorm(64) + conv(64, 64, 5, 5) + batchnorm(64)
        dense = linear(64 * side_h * side_w, 384) + batchnorm(384) + linear(384, 192) + batchnorm(192)
        return convs + dense + linear(192, classes)
    if name == "mlp1d":
        return linear(d, 100) + linear(100, 100) + linear(100, classes)
    if name == "cnn1d":
        (length,) = shape
        for kernel in (5, 3, 3):
            length = conv_out(length, kernel, stride=2, padding=1)
        return conv(1, 25, 5) + 2 * conv(25, 25, 3) + linear(25 * length, classes)
    if name == "cnn1d_bn":  # cnn1d plus a BatchNorm (weight and bias) per convolution
        return expected_parameters("cnn1d", shape, classes) + 3 * batchnorm(25)
    if name == "cnn1d_bn64":  # cnn1d_bn with 64 channels: 1→64 (k 5), 64→64 (k 3) twice, length 40 → 5
        return conv(1, 64, 5) + 2 * conv(64, 64, 3) + 3 * batchnorm(64) + linear(64 * 5, classes)
    if name == "conv2bn":  # bias-free 3×3 convolutions, two 2×2 pools (28 → 7, 32 → 8)
        channels, height, width = shape
        convs = 9 * channels * 32 + batchnorm(32) + 9 * 32 * 64 + batchnorm(64)
        return convs + linear(64 * (height // 4) * (width // 4), classes)
    raise AssertionError(name)


def test_names():
    assert names() == ["f1", "c1", "mlp1d", "cnn1d", "cnn1d_bn", "logreg", "mlp", "conv2bn", "cnn1d_bn64"]
    for name in names():
        entry = info(name)
        assert entry.name == name and entry.description and entry.paper and entry.inputs


CASES = [(name, shape) for name, shapes in TAKES.items() for shape in shapes]


@pytest.mark.parametrize(("name", "shape"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_output_shape_and_parameter_count(name, shape):
    torch.manual_seed(0)
    classes = 3 if shape == ABC else 10
    model = create(name, shape, classes)
    assert isinstance(model, torch.nn.Module)
    x = torch.randn(5, *shape)
    model.train()
    assert model(x).shape == (5, classes)
    model.eval()
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (5, classes)
    assert torch.isfinite(logits).all()
    assert sum(p.numel() for p in model.parameters()) == expected_parameters(name, shape, classes)


def test_published_sizes():
    # MNIST-1D: the authors' ConvBase has a 125-feature linear layer on length-40 input (25 channels × 5)
    cnn = create("cnn1d", MNIST1D, 10)
    assert cnn[-1].in_features == 125
    assert sum(p.numel() for p in cnn.parameters()) == 5210
    assert sum(p.numel() for p in create("mlp1d", MNIST1D, 10).parameters()) == 15210
    # Keskar's C1 on CIFAR-10 flattens 64 × 8 × 8 features into the 384-unit layer
    c1 = create("c1", CIFAR, 10)
    assert [m.in_features for m in c1 if isinstance(m, torch.nn.Linear)] == [4096, 384, 192]
    assert sum(isinstance(m, torch.nn.Dropout) and m.p == 0.5 for m in c1) == 2


def test_mlp1d_second_layer_is_residual():
    torch.manual_seed(0)
    model = create("mlp1d", MNIST1D, 10)
    x = torch.randn(4, 40)
    h1 = torch.relu(x @ model.linear1.weight.T + model.linear1.bias)
    h2 = h1 + torch.relu(h1 @ model.linear2.weight.T + model.linear2.bias)
    expected = h2 @ model.linear3.weight.T + model.linear3.bias
    torch.testing.assert_close(model(x), expected)


def test_cnn1d_accepts_an_explicit_channel_axis():
    torch.manual_seed(0)
    flat = create("cnn1d", (40,), 10)
    torch.manual_seed(0)
    channelled = create("cnn1d", (1, 40), 10)
    x = torch.randn(3, 40)
    torch.testing.assert_close(flat(x), channelled(x.unsqueeze(1)))


def test_mlp_trains_at_batch_size_one():
    torch.manual_seed(0)
    model = create("mlp", MNIST, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = torch.randn(1, *MNIST), torch.tensor([3])
    losses = []
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


@pytest.mark.parametrize("name", names())
def test_deterministic_given_the_seed(name):
    shape = TAKES[name][0]
    x = torch.randn(4, *shape, generator=torch.Generator().manual_seed(1))
    outputs, states = [], []
    for _ in range(2):
        torch.manual_seed(123)
        model = create(name, shape, 10)
        outputs.append(model(x))  # training mode: dropout draws from the same seeded generator
        states.append(model.state_dict())
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key])
    torch.manual_seed(124)
    other = create(name, shape, 10)
    assert not all(
        torch.equal(a, b) for a, b in zip(states[0].values(), other.state_dict().values(), strict=True)
    )


def test_models_pickle():
    model = create("mlp1d", MNIST1D, 10)
    copy = pickle.loads(pickle.dumps(model))
    x = torch.randn(2, 40)
    torch.testing.assert_close(model(x), copy(x))


def test_accepts_torch_size():
    assert create("logreg", torch.Size([1, 28, 28]), 10)(torch.randn(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: create("resnet", MNIST, 10),
            "unknown model 'resnet'; valid: f1, c1, mlp1d, cnn1d, cnn1d_bn, logreg, mlp, conv2bn, cnn1d_bn64",
        ),
        (lambda: create("c1", MNIST1D, 10), r"model 'c1' takes images shaped \(channels, height, width\)"),
        (lambda: create("c1", ABC, 10), "model 'c1' takes images"),
        (lambda: create("cnn1d", MNIST, 10), r"model 'cnn1d' takes sequences shaped \(length,\)"),
        (lambda: create("conv2bn", MNIST1D, 10), "model 'conv2bn' takes images"),
        (lambda: create("conv2bn", (1, 3, 8), 10), "model 'conv2bn' needs images of at least 4×4 pixels"),
        (lambda: create("cnn1d", CIFAR, 10), "model 'cnn1d' takes sequences"),
        (lambda: create("cnn1d", ABC, 3), "model 'cnn1d' needs sequences of length >= 3; got length 2"),
        (lambda: create("mlp", (), 10), "input_shape must be a non-empty tuple of positive integers"),
        (lambda: create("mlp", (0, 28), 10), "input_shape must be"),
        (lambda: create("mlp", "28", 10), "input_shape must be"),
        (lambda: create("mlp", (2.5,), 10), "input_shape must be"),
        (lambda: create("mlp", MNIST, 1), "num_classes must be an integer >= 2, got 1"),
        (lambda: create("mlp", MNIST, 10.0), "num_classes must be an integer >= 2"),
    ],
)
def test_errors(call, message):
    with pytest.raises(ConfigError, match=message) as caught:
        call()
    assert "\n" not in str(caught.value)


def test_conv2bn_pools_before_batchnorm_and_relu():
    model = create("conv2bn", MNIST, 10)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU"] * 2 + ["Flatten", "Linear"]
    assert model[0].bias is None and model[4].bias is None  # BatchNorm's shift makes a bias redundant
    assert model[-1].in_features == 64 * 7 * 7
