"""Iterative magnitude pruning with rewinding (Appendix H, Table 12)."""

import copy

import numpy as np
import pytest
import torch

from recall_distortion.iterative import dense_masks, level_ratio, next_level_masks, pruned_count, rewind
from recall_distortion.models import build_model
from recall_distortion.masks import apply_masks
from recall_distortion.pruning import count_parameters, prunable_parameters

# Table 12's "Pruning ratio" column, levels 0..20 (Appendix H).
TABLE_12_RATIOS = [1.00, 1.25, 1.56, 1.95, 2.44, 3.05, 3.81, 4.77, 5.96, 7.45, 9.31, 11.64, 14.55, 18.19,
                   22.74, 28.42, 35.53, 44.41, 55.51, 69.39, 86.74]


def test_level_ratios_are_table_12():
    """Table 12: 20% of the remaining weights per level gives 1.25^ℓ, to the table's 2 decimals."""
    for level, expected in enumerate(TABLE_12_RATIOS):
        assert round(level_ratio(level), 2) == pytest.approx(expected, abs=1e-9), level
    assert level_ratio(3, rate=0.5) == 8.0
    with pytest.raises(ValueError):
        level_ratio(-1)
    with pytest.raises(ValueError):
        level_ratio(2, rate=1.0)


def resnet20(seed=0):
    torch.manual_seed(seed)
    return build_model("resnet20", 10, 3, 32)


@torch.no_grad()
def train_stand_in(model, masks, seed):
    """What training does to the survivors, as far as pruning is concerned: it moves them."""
    generator = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.add_(0.05 * torch.randn(p.shape, generator=generator))
    apply_masks(model, masks)


def survivor_magnitudes(model, masks):
    params = dict(model.named_parameters())
    return np.concatenate([params[n].detach().abs().numpy()[masks[n].numpy()] for n in masks])


def test_chain_of_levels_nested_magnitude_and_ratio():
    """Each level keeps a subset of the previous one, removes the smallest surviving |θ| (numpy
    threshold), and the whole-model ratio total / nonzero equals 1.25^ℓ up to one weight."""
    model = resnet20()
    total, _ = count_parameters(model)
    masks = dense_masks(model)
    for level in range(1, 21):
        train_stand_in(model, masks, seed=level)
        new = next_level_masks(model, masks, level)
        removed = np.concatenate([(masks[n] & ~new[n]).flatten().numpy() for n in masks])
        alive_before = np.concatenate([masks[n].flatten().numpy() for n in masks])
        params = dict(model.named_parameters())
        magnitude = np.concatenate([params[n].detach().abs().flatten().numpy() for n in masks])
        # nested
        for n in masks:
            assert not bool((new[n] & ~masks[n]).any()), (level, n)
        # k_ℓ = round(total − total / t_ℓ) weights pruned in all, by hand
        t = 1.25**level
        k = int(round(total - total / t))
        assert pruned_count(new) == k
        assert abs(k - (total - total / t)) <= 0.5
        # the removed survivors are exactly the smallest |θ| among the survivors
        n_removed = k - pruned_count(masks)
        threshold = np.sort(magnitude[alive_before])[n_removed - 1]
        assert removed.sum() == n_removed
        assert magnitude[removed].max() == threshold
        assert (magnitude[alive_before & ~removed] >= threshold).all()
        masks = new
        apply_masks(model, masks)
        total_now, nonzero = count_parameters(model)
        assert total_now == total and nonzero == total - k
        # within one weight of t_ℓ: total/(total−k) lies between the ratios of k−1 and k+1 removed
        assert total / (total - k + 1) <= t <= total / (total - k - 1)


def test_previous_masks_of_another_chain_are_refused():
    model = resnet20()
    level1 = next_level_masks(model, None, 1)
    assert pruned_count(level1) == int(round(269_722 - 269_722 / 1.25))
    with pytest.raises(ValueError, match="not level 1's masks"):
        next_level_masks(model, level1, 2, rate=0.5)
    with pytest.raises(ValueError, match="not level 0's masks"):
        next_level_masks(model, level1, 1)
    with pytest.raises(ValueError, match="levels start at 1"):
        next_level_masks(model, level1, 0)


def test_rewind_restores_the_stored_early_state_of_the_survivors():
    """Rewinding (Frankle et al. 2020, OpenLTH): surviving weights get exactly their stored early
    values, pruned ones 0, and every other entry of the state dict (BN statistics, biases,
    classifier) is the early one."""
    model = resnet20()
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, 32, 32))  # move the BN running statistics away from their init
    early = copy.deepcopy(model.state_dict())
    masks = dense_masks(model)
    for level in (1, 2):
        train_stand_in(model, masks, seed=10 + level)
        with torch.no_grad():
            model(torch.randn(8, 3, 32, 32))  # "training" moves the BN statistics too
        masks = next_level_masks(model, masks, level)
        rewind(model, early, masks)
        state = model.state_dict()
        prunable = {name for name, _ in prunable_parameters(model)}
        for name, value in state.items():
            if name in prunable:
                assert torch.equal(value[masks[name]], early[name][masks[name]]), name
                assert bool((value[~masks[name]] == 0).all()), name
            else:
                assert torch.equal(value, early[name]), name
    # the early snapshot itself is untouched by rewinding
    assert int(torch.count_nonzero(early["layer1.0.conv1.weight"])) == early["layer1.0.conv1.weight"].numel()
