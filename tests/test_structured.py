"""Structured channel pruning with CHIP and L1 criteria (Appendix H, Table 13)."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from recall_distortion.models import build_model
from recall_distortion.pruning import count_parameters
from recall_distortion.structured import (
    CHIP_RESNET56_SPARSITY,
    CRITERIA,
    channel_independence,
    channel_scores,
    chip_inner_proportions,
    extrapolated_proportions,
    inner_blocks,
    kept_channels,
    parameters_after,
    prune_channels,
    structured_ratio,
)


def nuclear_ci(feature_map: np.ndarray) -> np.ndarray:
    """CI_i = ‖F‖_* − ‖F with row i zeroed‖_* of one C × (h·w) matrix (CHIP eq. 3), with numpy."""
    out = np.zeros(len(feature_map))
    for i in range(len(feature_map)):
        without = feature_map.copy()
        without[i] = 0
        out[i] = np.linalg.norm(feature_map, "nuc") - np.linalg.norm(without, "nuc")
    return out


def test_channel_independence_of_a_hand_sized_feature_map():
    """Two images of 3 channels × (2 × 2): the mean CI equals the direct nuclear norms."""
    maps = np.array(
        [
            [[[1.0, 0.0], [2.0, 1.0]], [[0.0, 3.0], [1.0, 0.0]], [[2.0, 0.0], [4.0, 2.0]]],  # ch 2 = 2 × ch 0
            [[[0.5, 1.5], [0.0, 2.0]], [[1.0, 1.0], [1.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]],  # ch 2 dead
        ]
    )
    expected = np.mean([nuclear_ci(m.reshape(3, 4)) for m in maps], axis=0)
    got = channel_independence(torch.tensor(maps, dtype=torch.float32))
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-12)
    # the same with torch's own nuclear norm on the first image alone
    f = torch.tensor(maps[0].reshape(3, 4))
    direct = [torch.linalg.matrix_norm(f, "nuc") - torch.linalg.matrix_norm(f * (torch.arange(3) != i)[:, None].double(), "nuc")
              for i in range(3)]
    np.testing.assert_allclose(channel_independence(torch.tensor(maps[:1])).numpy(), torch.stack(direct).numpy(), atol=1e-12)
    # a dead channel (all zeros) is fully dependent: CI = 0
    assert abs(float(channel_independence(torch.tensor(maps[1:]))[2])) < 1e-12


def test_l1_score_by_hand():
    conv = nn.Conv2d(1, 2, kernel_size=2, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[[1.0, -2.0], [3.0, 0.0]]], [[[0.5, 0.5], [-0.5, 0.0]]]]))
    assert CRITERIA["l1"].score(conv, None).tolist() == [6.0, 1.5]


def resnet(name="resnet20", seed=0):
    """A CIFAR ResNet with non-trivial BatchNorm (random affine parameters and running statistics)."""
    torch.manual_seed(seed)
    model = build_model(name, 10, 3, 32)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def direct_chip_scores(model, x, batch_size, max_batches):
    """CHIP scores from scratch: conv1 outputs hooked, ReLU(BN1(.)) applied by hand, per-image numpy
    nuclear norms, averaged over the images of the first ``max_batches`` batches."""
    outputs = {}
    blocks = [(name, m) for name, m in model.named_modules() if hasattr(m, "bn1") and name]
    handles = [block.conv1.register_forward_hook(lambda mod, a, out, name=name: outputs.setdefault(name, []).append(out))
               for name, block in blocks]
    with torch.no_grad():
        for b in range(max_batches):
            model(x[b * batch_size : (b + 1) * batch_size])
    for h in handles:
        h.remove()
    scores = {}
    for name, block in blocks:
        with torch.no_grad():
            maps = torch.relu(block.bn1(torch.cat(outputs[name]))).double().numpy()
        scores[name] = np.mean([nuclear_ci(m.reshape(len(m), -1)) for m in maps], axis=0)
    return scores


def test_chip_scores_of_a_resnet_equal_direct_nuclear_norms():
    """CHIP's hooks on relu1 (= ReLU(BN1(conv1 x))), eval mode, mean over the images of the first
    batches (CHIP's calculate_feature_maps.py / calculate_ci.py); the model's state is untouched."""
    model = resnet().double()  # float64 throughout, so both sides see the same feature maps to ~1e-15
    model.train()
    before = copy.deepcopy(model.state_dict())
    x = torch.randn(9, 3, 16, 16, dtype=torch.float64)  # stage 3 maps are 4 × 4: 16 columns < 64 channels
    got = channel_scores(model, "chip", x, batch_size=4, max_batches=2)  # images 0-7, the last batch ignored
    assert model.training
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    model.eval()
    expected = direct_chip_scores(model, x, batch_size=4, max_batches=2)
    assert sorted(got) == sorted(expected) == [name for name, _ in inner_blocks(model)]
    for name in expected:
        np.testing.assert_allclose(got[name].numpy(), expected[name], rtol=1e-9, atol=1e-9, err_msg=name)
    # a last, smaller batch weighs by its size: 4 + 1 images are the mean over 5 images
    got5 = channel_scores(model, "chip", x[:5], batch_size=4, max_batches=5)
    expected5 = direct_chip_scores(model, x[:5], batch_size=5, max_batches=1)
    np.testing.assert_allclose(got5["layer3.2"].numpy(), expected5["layer3.2"], rtol=1e-9, atol=1e-9)


# conv1 of a ResNet-20 block with in/out channels (c_in, c) removes c_in·9 + 2 + c·9 per channel
RESNET20_BLOCKS = [(16, 16)] * 3 + [(16, 32)] + [(32, 32)] * 2 + [(32, 64)] + [(64, 64)] * 2


@pytest.mark.parametrize("criterion", ["l1", "chip"])
def test_pruned_network_equals_original_with_the_channels_zeroed(criterion):
    """Removing channel i of conv1 (and bn1, and conv2's input i) gives the same outputs as zeroing
    conv1's filter i AND bn1's γ_i, β_i (else ReLU(BN) would output ReLU(β_i) ≠ 0), before any
    fine-tuning; the channels are the lowest-scored ones and the count is the one by hand."""
    model = resnet().double()  # float64: CHIP's near-equal scores rank the same on both sides
    original = copy.deepcopy(model.state_dict())
    proportions = [0.25, 0.5, 0.75, 0.1, 0.5, 0.9, 0.3, 0.5, 0.97]
    x = torch.randn(6, 3, 16, 16, dtype=torch.float64)
    pruned = prune_channels(model, criterion, proportions, x, batch_size=3, max_batches=2)
    for name, value in model.state_dict().items():  # the input model is not modified
        assert torch.equal(value, original[name]), name

    if criterion == "chip":
        scores = direct_chip_scores(model, x, batch_size=3, max_batches=2)
    else:
        scores = {name: np.abs(b.conv1.weight.detach().numpy()).sum(axis=(1, 2, 3)) for name, b in inner_blocks(model)}
    reference = copy.deepcopy(model)
    removed_parameters = 0
    with torch.no_grad():
        for (name, block), p, (c_in, c) in zip(inner_blocks(reference), proportions, RESNET20_BLOCKS):
            n_removed = c - int(c * (1 - p))
            removed = np.argsort(scores[name], kind="stable")[:n_removed]
            block.conv1.weight[removed] = 0
            block.bn1.weight[removed] = 0
            block.bn1.bias[removed] = 0
            removed_parameters += n_removed * (c_in * 9 + 2 + c * 9)
            assert pruned.get_submodule(name).conv1.out_channels == c - n_removed
    with torch.no_grad():
        torch.testing.assert_close(pruned.eval()(x), reference(x), rtol=1e-10, atol=1e-10)
    assert count_parameters(pruned)[0] == 269_722 - removed_parameters == parameters_after(model, proportions)


def test_half_of_the_inner_channels_of_resnet20():
    """The issue's measurement: ResNet-20 with half its inner channels has 135,754 parameters."""
    model = resnet()
    pruned = prune_channels(model, "l1", [0.5] * 9, torch.randn(1, 3, 32, 32))
    by_hand = 269_722 - sum((c - c // 2) * (c_in * 9 + 2 + c * 9) for c_in, c in RESNET20_BLOCKS)
    assert count_parameters(pruned)[0] == by_hand == 135_754
    assert structured_ratio(model, [0.5] * 9) == pytest.approx(269_722 / 135_754)


def resnet56_parameters_after(kept):
    """ResNet-56 (853,018 parameters) with its 27 inner convolutions keeping ``kept`` channels, by hand."""
    blocks = [(16, 16)] * 9 + [(16, 32)] + [(32, 32)] * 8 + [(32, 64)] + [(64, 64)] * 8
    return 853_018 - sum((c - k) * (c_in * 9 + 2 + c * 9) for (c_in, c), k in zip(blocks, kept))


def test_chip_resnet56_settings():
    """CHIP's two ResNet-56 lists, inner convolutions only: int(c·(1 − p)) channels kept (CHIP's
    adapt_channel): 9/19/38 for p = 0.4 and 8/12/19 for 0.5/0.6/0.7 in stages 1/2/3."""
    model = build_model("resnet56", 10, 3, 32)
    assert count_parameters(model)[0] == 853_018
    low = chip_inner_proportions(CHIP_RESNET56_SPARSITY[1.75])
    high = chip_inner_proportions(CHIP_RESNET56_SPARSITY[3.33])
    assert low == [0.4] * 27 and high == [0.5] * 9 + [0.6] * 9 + [0.7] * 9
    assert parameters_after(model, low) == resnet56_parameters_after([9] * 9 + [19] * 9 + [38] * 9) == 506_446
    assert parameters_after(model, high) == resnet56_parameters_after([8] * 9 + [12] * 9 + [19] * 9) == 276_568
    assert structured_ratio(model, low) == pytest.approx(853_018 / 506_446)  # 1.684
    assert structured_ratio(model, high) == pytest.approx(853_018 / 276_568)  # 3.084
    pruned = prune_channels(model, "l1", high, torch.randn(1, 3, 32, 32))
    assert count_parameters(pruned)[0] == 276_568


@pytest.mark.parametrize("target", [8.27, 19.11])
def test_extrapolated_proportions_keep_the_relative_widths_of_the_333_setting(target):
    """Appendix H's larger ratios: every layer's kept fraction of the 3.33 list times one factor f,
    the largest f whose ratio reaches the target."""
    model = build_model("resnet56", 10, 3, 32)
    base = chip_inner_proportions(CHIP_RESNET56_SPARSITY[3.33])
    got = extrapolated_proportions(model, base, target)
    factors = [(1 - p) / (1 - q) for p, q in zip(got, base)]
    assert max(factors) - min(factors) < 1e-12
    assert structured_ratio(model, got) >= target
    f = factors[0] * (1 + 1e-9)
    assert structured_ratio(model, [1 - f * (1 - q) for q in base]) < target
    with pytest.raises(ValueError, match="out of reach"):
        extrapolated_proportions(model, base, 60.0)


def test_clear_errors():
    model = resnet()
    with pytest.raises(ValueError, match="one proportion per BasicBlock"):
        parameters_after(model, [0.5] * 8)
    with pytest.raises(ValueError, match="leaves none"):
        kept_channels(16, 0.95)
    with pytest.raises(ValueError, match="unknown channel criterion"):
        channel_scores(model, "hrank", torch.randn(1, 3, 32, 32))
    with pytest.raises(TypeError, match="BasicBlock"):
        inner_blocks(build_model("lenet5", 10, 1, 28))
