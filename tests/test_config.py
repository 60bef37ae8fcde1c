"""Bad configs are rejected before any job runs, with the offending key named (issues: workflow, reliability)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from recall_distortion.config import ConfigError, experiments, seed_groups
from tests.configs import SCHEMA, check_config

REPO = Path(__file__).resolve().parents[1]



@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def rejected(config) -> str:
    with pytest.raises(ConfigError) as error:
        check_config(config, SCHEMA)
    return str(error.value)


def test_shipped_configs_are_valid(config):
    for name in ("config.yaml", "paper.yaml", "fashion.yaml"):
        check_config(yaml.safe_load((REPO / "config" / name).read_text()), SCHEMA)


def test_defaults_are_filled_in(config):
    del config["first_seed"]
    check_config(config, SCHEMA)
    assert config["first_seed"] == 0
    assert config["pruning"]["gradient_includes_weight_decay"] is False


def test_unknown_key_is_named(config):
    config["familes"] = []
    assert "'familes' was unexpected" in rejected(config)
    del config["familes"]
    config["models"]["lenet300100"]["train"]["learning_rate"] = 0.1
    message = rejected(config)
    assert "models.lenet300100.train" in message and "'learning_rate' was unexpected" in message


@pytest.mark.parametrize(
    "kind, key, value, valid",
    [
        ("dataset", "experiments", [{"dataset": "cifar11", "model": "lenet5"}], "cifar10, cifar100, digits, fashion_mnist, mnist"),
        ("model", "experiments", [{"dataset": "digits", "model": "resnet21"}], "lenet300100, lenet5, resnet110, resnet20"),
        ("method", "methods", ["mp", "snip"], "gp, mp, rp, up"),
    ],
)
def test_unknown_names_list_the_valid_ones(config, kind, key, value, valid):
    config["families"][0][key] = value
    message = rejected(config)
    assert f"unknown {kind}" in message and valid in message


def test_ratio_at_most_one_is_rejected(config):
    config["families"][0]["ratios"] = [1, 2]
    assert "families[0].ratios[0]: 1 is less than or equal to the minimum of 1" in rejected(config)


def test_infeasible_ratio_names_the_largest_feasible(config):
    # LeNet-300-100 on 8x8 digits: 50,610 parameters, 1,410 of them (classifier, biases) unprunable -> 35.89x
    config["families"][0]["ratios"] = [2, 50]
    message = rejected(config)
    assert "[50]" in message and "largest feasible ratio is 35.89" in message


def test_the_ratio_limit_follows_the_ratio_convention(config):
    # LeNet5 at 32 px: 61,706 parameters; exact leaves the classifier and all biases (1,076): 57.35x;
    # ShrinkBench counts the prunable layers' biases (226) as prunable, leaving 850: 72.60x
    config["datasets"]["digits"]["input_size"] = 32
    config["models"]["lenet5"] = config["models"].pop("lenet300100")
    config["families"][0]["experiments"] = [{"dataset": "digits", "model": "lenet5"}]
    config["families"][0]["ratios"] = [2, 60]
    assert "largest feasible ratio is 57.35" in rejected(copy.deepcopy(config))
    config["pruning"]["ratio_convention"] = "shrinkbench"
    check_config(copy.deepcopy(config), SCHEMA)
    config["families"][0]["ratios"] = [2, 73]
    assert "largest feasible ratio is 72.60" in rejected(config)
    config["pruning"]["ratio_convention"] = "nominal"
    assert "pruning.ratio_convention: 'nominal' is not one of ['exact', 'shrinkbench']" in rejected(config)


@pytest.mark.parametrize("seeds, problem", [(-3, "less than the minimum of 1"), (2.5, "is not of type 'integer'"), ("30", "is not of type 'integer'")])
def test_bad_seed_counts(config, seeds, problem):
    config["seeds"] = seeds
    message = rejected(config)
    assert message.count("seeds:") == 1 and problem in message


@pytest.mark.parametrize("key", ["methods", "ratios", "experiments"])
def test_empty_lists_are_rejected(config, key):
    config["families"][0][key] = []
    assert f"families[0].{key}: [] should be non-empty" in rejected(config)


def test_wrong_types_are_named(config):
    config["models"]["lenet300100"]["finetune"]["epochs"] = "three"
    assert "models.lenet300100.finetune.epochs: 'three' is not of type 'integer'" in rejected(config)


def test_model_without_hyperparameters(config):
    config["families"][0]["experiments"] = [{"dataset": "digits", "model": "resnet20"}]
    assert "no hyper-parameters under models.resnet20" in rejected(config)


def test_seed_groups_are_aligned_so_added_seeds_form_new_groups():
    assert seed_groups({"seeds": 30, "first_seed": 0, "seeds_per_job": 5}) == [(s, s + 4) for s in range(0, 30, 5)]
    assert seed_groups({"seeds": 7, "first_seed": 10, "seeds_per_job": 3}) == [(10, 12), (13, 15), (16, 16)]
    grown = seed_groups({"seeds": 40, "first_seed": 0, "seeds_per_job": 5})
    assert grown[:6] == seed_groups({"seeds": 30, "first_seed": 0, "seeds_per_job": 5})


def test_every_dataset_of_a_family_gets_the_schemas_defaults(config):
    config["datasets"] = {"digits": {"input_size": 32}}
    config["models"]["lenet5"] = config["models"]["lenet300100"]
    config["families"].append({"name": "fashion", "kind": "method", "methods": ["mp"], "ratios": [2],
                               "experiments": [{"dataset": "fashion_mnist", "model": "lenet5"}]})
    check_config(config)
    defaults = {"input_size": None, "val_fraction": 0.1, "split_seed": 0, "data_dir": None, "download": False}
    assert config["datasets"] == {"digits": defaults | {"input_size": 32}, "fashion_mnist": defaults}


def test_families_share_experiments_and_take_the_union_of_ratios(config):
    config["families"].append(
        {"name": "low", "kind": "tradeoff", "experiments": [{"dataset": "digits", "model": "lenet300100"}],
         "methods": ["mp"], "ratios": [2, 6, 8]}
    )
    (plan,) = experiments(config)
    assert plan.ratios["mp"] == (2.0, 4.0, 6.0, 8.0, 10.0, 20.0, 30.0)
    assert plan.ratios["gp"] == (2.0, 4.0, 10.0, 20.0, 30.0)
