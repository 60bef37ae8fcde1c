"""Architectures of section 6.1: LeNet5 and the CIFAR ResNets of He et al. (2016); LeNet-300-100."""

import pytest
import torch
from torch import nn

from recall_distortion.models import MODELS, build_model, register_model
from recall_distortion.pruning import feasible_ratio_limit, max_ratio

RESNET_PARAMS_10 = {  # He et al. 2016 / akamaster's table, option-A shortcuts, BN params counted
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registry_names():
    assert set(MODELS) == {"lenet5", "lenet300100", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110"}


@pytest.mark.parametrize("name", sorted(RESNET_PARAMS_10))
def test_resnet_parameter_counts(name):
    assert n_params(build_model(name, 10, 3, 32)) == RESNET_PARAMS_10[name]
    # 100 classes: the classifier grows by 90 * (64 weights + 1 bias) = 5,850
    assert n_params(build_model(name, 100, 3, 32)) == RESNET_PARAMS_10[name] + 5_850


def test_resnet_depth_structure():
    # n = (depth - 2) / 6 BasicBlocks per stage, two 3x3 convs each, plus the stem conv: depth - 1 convs
    for name, depth in [("resnet20", 20), ("resnet56", 56)]:
        model = build_model(name, 10, 3, 32)
        n = (depth - 2) // 6
        assert [len(model.layer1), len(model.layer2), len(model.layer3)] == [n, n, n]
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        assert len(convs) == depth - 1
        assert all(m.bias is None for m in convs)


def lenet_params_by_hand(in_channels, num_classes, side):
    conv1 = 6 * in_channels * 5 * 5 + 6
    conv2 = 16 * 6 * 5 * 5 + 16
    fc1 = (16 * side * side) * 120 + 120
    fc2 = 120 * 84 + 84
    fc3 = 84 * num_classes + num_classes
    return conv1 + conv2 + fc1 + fc2 + fc3


def test_lenet_parameter_counts():
    # 28x28: 28-4=24, pool 12, 12-4=8, pool 4 -> flatten 16*4*4
    assert n_params(build_model("lenet5", 10, 1, 28)) == lenet_params_by_hand(1, 10, 4) == 44_426
    # 32x32: 32-4=28, pool 14, 14-4=10, pool 5 -> flatten 16*5*5
    assert n_params(build_model("lenet5", 10, 3, 32)) == lenet_params_by_hand(3, 10, 5) == 62_006


def test_lenet300100_parameter_count_and_ratio_cap():
    # 8x8 digits, 10 classes: fc1 64*300 + 300, fc2 300*100 + 100, classifier 100*10 + 10
    model = build_model("lenet300100", 10, 1, 8)
    assert n_params(model) == 19_500 + 30_100 + 1_010 == 50_610
    # not prunable (section 3): the classifier (1,010) and the biases of fc1 and fc2 (400)
    assert max_ratio(model) == pytest.approx(50_610 / 1_410) == pytest.approx(35.894, abs=1e-3)
    assert feasible_ratio_limit("lenet300100", 10, 1, 8) == pytest.approx(50_610 / 1_410)
    # 28x28 MNIST: the classic 266,610 parameters (Frankle & Carbin 2019, 266k)
    assert n_params(build_model("lenet300100", 10, 1, 28)) == 784 * 300 + 300 + 30_100 + 1_010 == 266_610
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize("in_channels,size", [(1, 28), (3, 32), (1, 32), (3, 28), (1, 16), (3, 17)])
def test_lenet_forward_shapes(in_channels, size):
    model = build_model("lenet5", 7, in_channels, size)
    assert model(torch.randn(2, in_channels, size, size)).shape == (2, 7)


def test_lenet_rejects_small_inputs():
    with pytest.raises(ValueError, match="input_size >= 16"):
        build_model("lenet5", 10, 1, 8)
    with pytest.raises(ValueError, match="input_size >= 16"):
        build_model("lenet5", 10, 1, 15)


@pytest.mark.parametrize("name", sorted(RESNET_PARAMS_10))
def test_resnet_forward_shapes(name):
    model = build_model(name, 100, 3, 32)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 100)


def test_resnet_other_inputs():
    assert build_model("resnet20", 10, 1, 28)(torch.randn(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize("name,args", [("lenet5", (10, 1, 28)), ("resnet20", (10, 3, 32)), ("lenet300100", (10, 1, 8))])
def test_classifier_is_last_linear(name, args):
    model = build_model(name, *args)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert model.classifier is linears[-1]
    assert model.classifier.out_features == 10


@pytest.mark.parametrize("name,args", [("lenet5", (10, 1, 28)), ("resnet20", (10, 3, 32))])
def test_same_seed_same_init(name, args):
    torch.manual_seed(3)
    a = build_model(name, *args).state_dict()
    torch.manual_seed(3)
    b = build_model(name, *args).state_dict()
    torch.manual_seed(4)
    c = build_model(name, *args).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_resnet_kaiming_init_scale():
    # Kaiming normal (fan_in, gain sqrt 2): std = sqrt(2 / fan_in); layer3 convs have fan_in 64*9
    torch.manual_seed(0)
    model = build_model("resnet110", 10, 3, 32)
    w = torch.cat([b.conv2.weight.flatten() for b in model.layer3])
    assert w.std().item() == pytest.approx((2 / (64 * 9)) ** 0.5, rel=0.02)


def test_option_a_shortcut_is_parameter_free():
    model = build_model("resnet20", 10, 3, 32)
    block = model.layer2[0]
    assert sum(p.numel() for p in block.shortcut.parameters()) == 0
    x = torch.randn(2, 16, 8, 8)
    out = block.shortcut(x)
    assert out.shape == (2, 32, 4, 4)
    assert torch.equal(out[:, 8:24], x[:, :, ::2, ::2])  # zero-padded planes//4 = 8 on each side
    assert torch.count_nonzero(out[:, :8]) == 0 and torch.count_nonzero(out[:, 24:]) == 0


def test_unknown_model_and_registration():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("vgg16", 10)

    class Tiny(nn.Module):
        def __init__(self, num_classes, in_channels, input_size):
            super().__init__()
            self.classifier = nn.Linear(in_channels * input_size**2, num_classes)

        def forward(self, x):
            return self.classifier(x.flatten(1))

    @register_model("_tiny_test_model")
    def _tiny(num_classes, in_channels, input_size):
        return Tiny(num_classes, in_channels, input_size)

    try:
        assert build_model("_tiny_test_model", 3, 1, 4)(torch.randn(2, 1, 4, 4)).shape == (2, 3)
        with pytest.raises(ValueError, match="registered twice"):
            register_model("_tiny_test_model")(_tiny)
    finally:
        MODELS.pop("_tiny_test_model")
