"""Appendix H's stages: the replayed rewind point, the rebuilt channel-pruned model, the config checks."""

from __future__ import annotations

import math

import pytest
import torch
import yaml

from recall_distortion.config import ConfigError, experiments, schema_errors
from recall_distortion.iterative import level_ratio
from recall_distortion.models import build_model
from recall_distortion.structured import channel_scores, channels_to_remove, proportions_for, remove_channels
from recall_distortion.training import SingleModel, fit, init_seed, train
from tests.configs import REPO, SCHEMA, check_config

HPARAMS = {"epochs": 1, "batch_size": 32, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": False,
           "schedule": {"name": "constant"}, "eval_batch_size": 256}


def data(n=100):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 1, 16, 16, generator=g), torch.randint(0, 10, (n,), generator=g)
    return {"train": (x, y), "val": (x[:20], y[:20])}


def test_replay_to_a_step_equals_the_full_run_at_that_step_bitwise():
    """The rewind point: a 3-epoch run stopped after one epoch's 4 steps has exactly the weights and
    BatchNorm-free buffers of a complete 1-epoch run of the same seed."""
    init_seed(7)
    full = build_model("lenet5", 10, 1, 16)
    train(full, data(), HPARAMS, seed=7)
    init_seed(7)
    replayed = build_model("lenet5", 10, 1, 16)
    fit([replayed], data(), {**HPARAMS, "epochs": 3}, seeds=[7], engine=SingleModel,
        stop_after_steps=math.ceil(100 / 32))
    for name, value in full.state_dict().items():
        assert torch.equal(value, replayed.state_dict()[name]), name
    init_seed(7)
    untouched = build_model("lenet5", 10, 1, 16)
    fit([untouched], data(), HPARAMS, seeds=[7], engine=SingleModel, stop_after_steps=0)
    init_seed(7)
    assert all(torch.equal(a, b) for a, b in zip(untouched.parameters(), build_model("lenet5", 10, 1, 16).parameters()))


def test_a_stored_channel_pruned_model_is_rebuilt_from_its_removed_channels():
    torch.manual_seed(0)
    net = build_model("resnet20", 10, 1, 16)
    x = data()["train"][0]
    removed = channels_to_remove(net, channel_scores(net, "l1", x), proportions_for(net, 3.33))
    pruned = remove_channels(net, removed, x)
    with torch.no_grad():
        for p in pruned.parameters():
            p.add_(1.0)  # as if fine-tuned
    rebuilt = remove_channels(build_model("resnet20", 10, 1, 16), removed, x)
    rebuilt.load_state_dict(pruned.state_dict())
    pruned.eval(), rebuilt.eval()
    assert torch.equal(pruned(x), rebuilt(x))
    # stage 1 keeps int(16 · (1 − 0.5)) = 8 inner channels at the 3.33 setting, stage 3 int(64 · 0.3) = 19
    assert rebuilt.layer1[0].conv1.out_channels == 8 and rebuilt.layer3[2].conv1.out_channels == 19


def config_with(*families):
    config = yaml.safe_load((REPO / "tests" / "workflow" / "appendix_h_tiny.yaml").read_text())
    config["families"] = list(families)
    return config


def test_iterative_family_defaults_and_derived_ratios():
    config = config_with({"name": "lth", "kind": "iterative", "levels": 3,
                          "experiments": [{"dataset": "digits", "model": "lenet5"}]})
    check_config(config)
    family = config["families"][0]
    assert (family["rate"], family["rewind"], family["hparams"]) == (0.2, {"steps": 0}, None)
    assert family["methods"] == ["lth"] and family["ratios"] == [1.25, 1.5625, 1.953125]
    (plan,) = experiments(config)
    assert plan.iterative["levels"] == 3 and plan.methods == ()


def test_iterative_level_beyond_the_feasible_ratio_is_rejected():
    config = config_with({"name": "lth", "kind": "iterative", "levels": 12,
                          "experiments": [{"dataset": "digits", "model": "lenet5"}]})
    with pytest.raises(ConfigError, match=r"level 12 at rate 0.2"):
        check_config(config)
    assert level_ratio(12) > 14.52  # LeNet5 at 16 px: 14.52 at most


def test_structured_family_needs_a_resnet():
    config = config_with({"name": "chip", "kind": "structured", "methods": ["chip"], "ratios": [2],
                          "experiments": [{"dataset": "digits", "model": "lenet5"}]})
    with pytest.raises(ConfigError, match="structured pruning needs a CIFAR ResNet"):
        check_config(config)


def test_unknown_channel_criterion_lists_the_registered_ones():
    """The registry (structured.CRITERIA) is the one list of criteria: the schema names none."""
    config = config_with({"name": "chip", "kind": "structured", "methods": ["l2"], "ratios": [2],
                          "experiments": [{"dataset": "digits", "model": "resnet20"}]})
    with pytest.raises(ConfigError, match=r"unknown channel criterion 'l2'; valid channel criterions: chip, l1"):
        check_config(config)


def test_one_shot_method_named_like_a_criterion_is_rejected():
    """A user's one-shot method "l1" beside the l1 channel criterion would mix two kinds of model in the
    same (method, ratio) rows."""
    from recall_distortion.pruning import METHODS, magnitude_score, register_method

    assert "l1" not in METHODS
    register_method("l1", needs_gradient=False)(magnitude_score)
    try:
        config = config_with(
            {"name": "oneshot", "kind": "method", "methods": ["l1"], "ratios": [2],
             "experiments": [{"dataset": "digits", "model": "resnet20"}]},
            {"name": "chip", "kind": "structured", "methods": ["l1"], "ratios": [2],
             "experiments": [{"dataset": "digits", "model": "resnet20"}]})
        with pytest.raises(ConfigError, match=r"digits/resnet20: \['l1'\] named both a one-shot method"):
            check_config(config)
    finally:
        METHODS.pop("l1", None)


def test_family_seeds_cannot_exceed_the_study():
    config = config_with({"name": "chip", "kind": "structured", "methods": ["l1"], "ratios": [2], "seeds": 3,
                          "experiments": [{"dataset": "digits", "model": "resnet20"}]})
    with pytest.raises(ConfigError, match=r"families\[0\] \(chip\)\.seeds: 3 is more than the study's 2 seeds"):
        check_config(config)


def test_iterative_family_takes_no_ratios():
    config = config_with({"name": "lth", "kind": "iterative", "levels": 2, "ratios": [2],
                          "experiments": [{"dataset": "digits", "model": "lenet5"}]})
    assert any(line.startswith("families[0].ratios") for line in schema_errors(config, SCHEMA))
