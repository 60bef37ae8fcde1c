"""Global one-shot pruning (paper section 3) and the whole-model pruning ratio (section 4)."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from recall_distortion.masks import apply_masks
from recall_distortion.models import build_model
from recall_distortion.pruning import (
    METHODS,
    check_ratio,
    compute_scores,
    count_parameters,
    feasible_ratio_limit,
    loss_gradient,
    max_ratio,
    prunable_parameters,
    prune_masks,
    weights_to_remove,
)
from recall_distortion.training import train
from tests.configs import complete_hparams

RATIOS = [2, 4, 10, 20, 50]  # section 6.1


class Tiny(nn.Module):
    """fc: Linear(2, 3) (6 prunable weights + 3 biases); classifier: Linear(3, 2) (8, never pruned)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 3)
        self.classifier = nn.Linear(3, 2)

    def forward(self, x):
        return self.classifier(F.relu(self.fc(x)))


THETA = [0.5, -1.0, 2.0, 0.1, -0.3, 0.05]
GRAD = [0.2, 0.4, -0.01, 3.0, 2.0, -4.0]


def tiny():
    model = Tiny()
    with torch.no_grad():
        model.fc.weight.copy_(torch.tensor(THETA).reshape(3, 2))
        model.fc.bias.fill_(0.01)  # tiny biases: never pruned even though |b| < every |θ|
        model.classifier.weight.fill_(0.001)
    grad = {"fc.weight": torch.tensor(GRAD).reshape(3, 2)}
    return model, grad


def flat_keep(masks):
    return torch.cat([m.flatten() for m in masks.values()])


def test_registry():
    assert set(METHODS) == {"mp", "gp", "up", "rp"}
    assert [METHODS[m].needs_gradient for m in ("mp", "gp", "up", "rp")] == [False, True, True, False]


def test_tiny_scores_by_hand():
    model, grad = tiny()
    _, mp = compute_scores(model, "mp")
    assert mp.tolist() == pytest.approx([0.5, 1.0, 2.0, 0.1, 0.3, 0.05])
    _, gp = compute_scores(model, "gp", gradient=grad)
    # |θ g| = |0.1|, |-0.4|, |-0.02|, |0.3|, |-0.6|, |-0.2|
    assert gp.tolist() == pytest.approx([0.1, 0.4, 0.02, 0.3, 0.6, 0.2])
    _, up = compute_scores(model, "up", gradient=grad, weight_decay=0.1)
    # |−θg + εθ²| with εθ² = 0.025, 0.1, 0.4, 0.001, 0.009, 0.00025:
    # -0.1+0.025, 0.4+0.1, 0.02+0.4, -0.3+0.001, 0.6+0.009, 0.2+0.00025
    assert up.tolist() == pytest.approx([0.075, 0.5, 0.42, 0.299, 0.609, 0.20025])


def test_tiny_pruned_weights_by_hand():
    model, grad = tiny()
    total = 6 + 3 + 6 + 2
    assert count_parameters(model)[0] == total
    assert max_ratio(model) == pytest.approx(17 / 11)
    t = 17 / 14  # keep 14 of 17 parameters: remove k = 3 weights
    assert weights_to_remove(total, t) == 3
    keep = {
        # lowest |θ|: idx 5 (0.05), 3 (0.1), 4 (0.3)
        "mp": [True, True, True, False, False, False],
        # lowest |θg|: idx 2 (0.02), 0 (0.1), 5 (0.2)
        "gp": [False, True, False, True, True, False],
        # lowest |−θg + εθ²|: idx 0 (0.075), 5 (0.20025), 3 (0.299). A sign error, |θg + εθ²|,
        # would prune 0, 5, 1; the authors' signed score without abs would prune 3, 0, 5.
        "up": [False, True, True, False, True, False],
    }
    for method, expected in keep.items():
        masks = prune_masks(model, method, [t], gradient=grad, weight_decay=0.1)[t]
        assert list(masks) == ["fc.weight"]
        assert masks["fc.weight"].flatten().tolist() == expected, method
        pruned = copy.deepcopy(model)
        apply_masks(pruned, masks)
        w = pruned.fc.weight.flatten()
        assert w.tolist() == pytest.approx([th if k else 0.0 for th, k in zip(THETA, expected)])
        assert count_parameters(pruned) == (17, 14)


def test_up_with_zero_weight_decay_is_gp():
    torch.manual_seed(0)
    model = build_model("lenet5", 10, 1, 28)
    grad = {n: torch.randn_like(p) for n, p in model.named_parameters()}
    _, gp = compute_scores(model, "gp", gradient=grad)
    _, up = compute_scores(model, "up", gradient=grad, weight_decay=0.0)
    assert torch.equal(gp, up)
    a = prune_masks(model, "gp", [2, 10], gradient=grad)
    b = prune_masks(model, "up", [2, 10], gradient=grad, weight_decay=0.0)
    assert all(torch.equal(flat_keep(a[t]), flat_keep(b[t])) for t in a)


def test_up_with_zero_gradient_ranks_like_mp():
    torch.manual_seed(0)
    model = build_model("lenet5", 10, 1, 28)
    zero = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    a = prune_masks(model, "mp", [2, 4, 10, 20])
    b = prune_masks(model, "up", [2, 4, 10, 20], gradient=zero, weight_decay=5e-4)
    assert all(torch.equal(flat_keep(a[t]), flat_keep(b[t])) for t in a)


def test_prunable_parameters_exclude_classifier_biases_and_batchnorm():
    lenet = build_model("lenet5", 10, 1, 28)
    assert [n for n, _ in prunable_parameters(lenet)] == ["conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"]
    resnet = build_model("resnet20", 10, 3, 32)
    names = [n for n, _ in prunable_parameters(resnet)]
    assert len(names) == 19  # 19 convs, all bias-free; the classifier is the only Linear
    assert all(n.endswith("conv1.weight") or n.endswith("conv2.weight") for n in names)
    # ResNet-20, 10 classes: not prunable = classifier 640 + 10, BN 2 * (16 + 6*16 + 6*32 + 6*64)
    assert 269_722 - sum(p.numel() for _, p in prunable_parameters(resnet)) == 650 + 1376


def _nonzero_everywhere(model):
    """Make every parameter nonzero (BN biases start at 0) so count_parameters sees only pruning."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.where(p == 0, torch.full_like(p, 0.5), p))


@pytest.mark.parametrize("name,args", [("lenet5", (10, 3, 32)), ("resnet20", (10, 3, 32))])
@pytest.mark.parametrize("method", ["mp", "rp"])
def test_exact_count_removed(name, args, method):
    torch.manual_seed(0)
    model = build_model(name, *args)
    _nonzero_everywhere(model)
    total, nonzero = count_parameters(model)
    assert nonzero == total
    masks = prune_masks(model, method, RATIOS, seed=1)
    assert list(masks) == [float(t) for t in RATIOS]
    prunable_names = {n for n, _ in prunable_parameters(model)}
    for t in RATIOS:
        k = weights_to_remove(total, t)
        assert set(masks[t]) == prunable_names  # classifier and biases never masked
        assert int((~flat_keep(masks[t])).sum()) == k
        pruned = copy.deepcopy(model)
        apply_masks(pruned, masks[t])
        _, remaining = count_parameters(pruned)
        assert remaining == total - k
        assert abs(remaining - total / t) <= 0.5  # achieved ratio is t up to one weight
        assert torch.equal(pruned.classifier.weight, model.classifier.weight)
    if name == "resnet20":  # by hand: 269,722 / 50 = 5,394.44 -> keep 5,394, remove 264,328
        assert weights_to_remove(269_722, 50) == 264_328
    # global ranking, computed once: a larger ratio prunes a superset
    for lo, hi in zip(RATIOS, RATIOS[1:]):
        assert not (flat_keep(masks[hi]) & ~flat_keep(masks[lo])).any()


def test_ratio_errors_name_the_largest_feasible_ratio():
    lenet = build_model("lenet5", 10, 1, 28)
    # 44,426 parameters, 1,076 not prunable (biases 6+16+120+84, classifier 840+10): 41.29x
    assert max_ratio(lenet) == pytest.approx(44_426 / 1_076)
    with pytest.raises(ValueError, match=r"largest feasible ratio .* 41\.29"):
        prune_masks(lenet, "mp", [2, 50])
    for bad in (1, 1.0, 0.5, 0, -2, math.inf, math.nan):
        with pytest.raises(ValueError, match=r"largest feasible ratio .* 41\.29"):
            prune_masks(lenet, "mp", [bad])
    resnet = build_model("resnet20", 100, 3, 32)
    # 275,572 parameters, 6,500 classifier + 1,376 BN not prunable: 34.99x; 50x is infeasible
    assert max_ratio(resnet) == pytest.approx(275_572 / 7_876)
    with pytest.raises(ValueError, match=r"largest feasible ratio .* 34\.99"):
        prune_masks(resnet, "mp", [50])
    assert feasible_ratio_limit("resnet20", 100, 3, 32) == pytest.approx(275_572 / 7_876)
    assert feasible_ratio_limit("lenet5", 10, 1, 28) == pytest.approx(44_426 / 1_076)


def test_shrinkbench_convention_by_hand():
    # LeNet5, 32x32, 10 classes: 61,706 parameters; prunable weights 150 + 2,400 + 48,000 + 10,080 = 60,630;
    # their layers' biases 6 + 16 + 120 + 84 = 226; classifier 840 + 10 = 850.
    lenet = build_model("lenet5", 10, 1, 32)
    assert count_parameters(lenet)[0] == 61_706
    # exact (section 4): keep 61,706 / 50 = 1,234.12 -> 1,234 parameters, i.e. 1,234 - 850 - 226 = 158 weights
    assert check_ratio(lenet, 50) == weights_to_remove(61_706, 50) == 60_630 - 158
    # ShrinkBench: f = (1,234.12 - 850) / (60,630 + 226) = 0.0063120; keep 0.0063120 * 60,630 = 382.69 -> 383
    assert check_ratio(lenet, 50, "shrinkbench") == 60_630 - 383
    assert weights_to_remove(61_706, 50, "shrinkbench", prunable=60_630, prunable_biases=226) == 60_630 - 383
    assert 61_706 / (850 + 226 + 383) == pytest.approx(42.2933, abs=1e-4)  # the achieved ratio
    masks = prune_masks(lenet, "mp", [50], ratio_convention="shrinkbench")[50.0]
    assert int(flat_keep(masks).sum()) == 383
    # the nominal limit: every weight gone leaves 850 parameters under ShrinkBench's count, 1,076 under exact
    assert max_ratio(lenet, "shrinkbench") == pytest.approx(61_706 / 850)
    assert max_ratio(lenet) == pytest.approx(61_706 / 1_076)
    # bias-free convolutions (ResNets): the two conventions agree
    resnet = build_model("resnet20", 10, 3, 32)
    assert [check_ratio(resnet, t, "shrinkbench") for t in RATIOS] == [check_ratio(resnet, t) for t in RATIOS]
    with pytest.raises(ValueError, match="ratio_convention must be one of"):
        check_ratio(lenet, 2, "shrinkbnch")


def test_ties_prune_lowest_flat_index_first():
    model = build_model("lenet5", 10, 1, 28)
    with torch.no_grad():
        for _, p in prunable_parameters(model):
            p.fill_(0.25)
    masks = prune_masks(model, "mp", [2, 10])
    for t in (2.0, 10.0):
        k = weights_to_remove(44_426, t)
        keep = flat_keep(masks[t])
        assert not keep[:k].any() and keep[k:].all()
    # conv1 (150), conv2 (2,400) and the first fc1 rows go first at 2x (k = 22,213)
    assert not masks[2.0]["conv1.weight"].any() and not masks[2.0]["conv2.weight"].any()
    assert masks[2.0]["fc2.weight"].all()


def test_random_pruning_seeded():
    model = build_model("lenet5", 10, 1, 28)
    a = flat_keep(prune_masks(model, "rp", [4], seed=7)[4.0])
    b = flat_keep(prune_masks(model, "rp", [4], seed=7)[4.0])
    c = flat_keep(prune_masks(model, "rp", [4], seed=8)[4.0])
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # random pruning does not follow magnitudes
    assert not torch.equal(a, flat_keep(prune_masks(model, "mp", [4])[4.0]))


def test_gradient_methods_need_a_gradient():
    model, _ = tiny()
    with pytest.raises(ValueError, match="needs the loss gradient"):
        prune_masks(model, "gp", [1.1])
    with pytest.raises(ValueError, match="unknown pruning method"):
        prune_masks(model, "snip", [1.1])


@pytest.fixture(scope="module")
def tiny_resnet_batch():
    torch.manual_seed(0)
    model = build_model("resnet20", 10, 3, 32)
    with torch.no_grad():  # non-trivial BN statistics, as after training
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    x = torch.randn(10, 3, 8, 8)
    y = torch.randint(0, 10, (10,))
    return model, x, y


def test_loss_gradient_is_full_split_mean_gradient(tiny_resnet_batch):
    model, x, y = tiny_resnet_batch
    model.train()
    stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    g = loss_gradient(model, x, y, batch_size=4)  # batches of 4, 4, 2: weighted by size
    assert model.training  # previous mode restored
    for k, v in model.state_dict().items():
        if k in stats:
            assert torch.equal(v, stats[k]), k  # BN statistics untouched
    assert all(p.grad is None for p in model.parameters())

    reference = copy.deepcopy(model).eval()
    F.cross_entropy(reference(x), y).backward()
    for name, p in reference.named_parameters():
        assert torch.allclose(g[name], p.grad, atol=1e-6, rtol=1e-5), name

    # max_batches: the mean over the samples of the first batch only
    g1 = loss_gradient(model, x, y, batch_size=4, max_batches=1)
    first = copy.deepcopy(model).eval()
    F.cross_entropy(first(x[:4]), y[:4]).backward()
    for name, p in first.named_parameters():
        assert torch.allclose(g1[name], p.grad, atol=1e-6, rtol=1e-5), name


def test_loss_gradient_include_weight_decay_adds_eps_theta(tiny_resnet_batch):
    model, x, y = tiny_resnet_batch
    eps = 5e-4
    g = loss_gradient(model, x, y, batch_size=5)
    gw = loss_gradient(model, x, y, batch_size=5, include_weight_decay=True, weight_decay=eps)
    for name, p in model.named_parameters():
        assert torch.allclose(gw[name], g[name] + eps * p.detach(), atol=1e-7), name
    # with ∇L read as including weight decay, UP's score is |θ g_CE|: the GP score without it
    _, gp = compute_scores(model, "gp", gradient=g)
    _, up = compute_scores(model, "up", gradient=gw, weight_decay=eps)
    assert torch.allclose(gp, up, atol=1e-9)


def test_masks_hold_through_sgd_with_momentum_and_weight_decay():
    """Fine-tuning (training.train with the masks) keeps every pruned LeNet5 weight at exactly 0."""
    torch.manual_seed(0)
    model = build_model("lenet5", 10, 1, 28)
    masks = prune_masks(model, "mp", [2])[2.0]
    assert all(m.any() and not m.all() for m in masks.values())  # each layer partly pruned
    apply_masks(model, masks)
    free = copy.deepcopy(model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    g = torch.Generator().manual_seed(1)
    data = {split: (torch.randn(16, 1, 28, 28, generator=g), torch.randint(0, 10, (16,), generator=g))
            for split in ("train", "val")}
    hp = complete_hparams({"epochs": 2, "batch_size": 8, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4})
    train(model, data, hp, seed=0, masks=masks)
    params = dict(model.named_parameters())
    for name, m in masks.items():
        assert torch.count_nonzero(params[name][~m]) == 0, name  # pruned stay exactly 0
        assert not torch.equal(params[name][m], before[name][m]), name  # kept ones train
    assert count_parameters(model)[1] == 44_426 - weights_to_remove(44_426, 2)

    # without the masks, the same training revives pruned weights (so the check above is meaningful)
    train(free, data, hp, seed=0)
    assert torch.count_nonzero(dict(free.named_parameters())["fc1.weight"][~masks["fc1.weight"]]) > 0
