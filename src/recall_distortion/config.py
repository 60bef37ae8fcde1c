"""What a study config means: checks against the registries, and the job plan derived from it.

The JSON schema (workflow/schemas/config.schema.yaml) checks structure and types. The checks here
need the package: a name must be in its registry (the error lists the valid ones), and every ratio
must be feasible for its model (section 4's ratio counts every parameter, but only non-classifier
weights can go, so each model has a largest feasible ratio). Both run when Snakemake builds the DAG,
before any job starts.
"""

from __future__ import annotations

from dataclasses import dataclass


class ConfigError(ValueError):
    """A study config that cannot be run; the message names the offending key."""


@dataclass(frozen=True)
class Experiment:
    """One (dataset, model) pair trained with ``seeds`` seeds and pruned with ``ratios[method]``."""

    dataset: str
    model: str
    methods: tuple[str, ...]
    ratios: dict  # method -> tuple of ratios, sorted


def check_config(config: dict, schema_path) -> None:
    """Validate a study config before any job runs: schema (with defaults filled in), then names and ratios.

    Schema errors are reported one line each, as ``key.path: problem``, instead of jsonschema's dump
    of the whole schema.
    """
    import jsonschema
    import yaml

    schema = yaml.safe_load(open(schema_path))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{_key_path(error.absolute_path)}: {error.message}" for error in errors]
        raise ConfigError("invalid config:\n  " + "\n  ".join(lines))
    _with_defaults(jsonschema.Draft202012Validator)(schema).validate(config)
    check_study(config)


def _with_defaults(validator_class):
    """A validator that also sets each missing property that has a schema ``default`` (the jsonschema FAQ
    recipe, as Snakemake's ``validate(set_default=True)`` does), so the package needs no Snakemake."""
    import copy

    from jsonschema import validators

    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if validator.is_type(instance, "object"):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


def _key_path(path) -> str:
    """``["families", 0, "ratios"]`` -> ``families[0].ratios`` (``<top level>`` for the root)."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
    return text or "<top level>"


def _check_name(kind: str, name: str, registry, where: str) -> None:
    if name not in registry:
        raise ConfigError(f"{where}: unknown {kind} {name!r}; valid {kind}s: {', '.join(sorted(registry))}")


def check_study(config: dict) -> None:
    """Raise ConfigError for names outside the registries, missing hyper-parameters or infeasible ratios."""
    from recall_distortion.datasets import DATASETS
    from recall_distortion.models import MODELS
    from recall_distortion.pruning import METHODS, feasible_ratio_limit

    for name in config.get("datasets", {}):
        _check_name("dataset", name, DATASETS, f"datasets.{name}")
    for name in config["models"]:
        _check_name("model", name, MODELS, f"models.{name}")
    names = [family["name"] for family in config["families"]]
    if len(set(names)) != len(names):
        raise ConfigError(f"families: names must be unique, got {names}")
    for i, family in enumerate(config["families"]):
        where = f"families[{i}] ({family['name']})"
        for method in family["methods"]:
            _check_name("method", method, METHODS, f"{where}.methods")
        for j, experiment in enumerate(family["experiments"]):
            dataset, model = experiment["dataset"], experiment["model"]
            _check_name("dataset", dataset, DATASETS, f"{where}.experiments[{j}].dataset")
            _check_name("model", model, MODELS, f"{where}.experiments[{j}].model")
            if model not in config["models"]:
                raise ConfigError(f"{where}.experiments[{j}]: model {model!r} has no hyper-parameters under models.{model}")
            spec = DATASETS[dataset]
            limit = feasible_ratio_limit(model, spec.num_classes, spec.channels, input_size(config, dataset))
            too_high = [r for r in family["ratios"] if r > limit]
            if too_high:
                raise ConfigError(
                    f"{where}.ratios: {too_high} infeasible for {model} on {dataset}: "
                    f"the classifier and biases cannot be pruned, so the largest feasible ratio is {limit:.2f}"
                )
        if family["kind"] == "dataset":
            listed = {e["dataset"] for e in family["experiments"]}
            for pair in family.get("comparisons", []):
                for dataset in pair:
                    if dataset not in listed:
                        raise ConfigError(f"{where}.comparisons: {dataset!r} is not among the family's datasets {sorted(listed)}")


def input_size(config: dict, dataset: str) -> int:
    """Side of the images fed to the model: the configured size, else the stored one."""
    from recall_distortion.datasets import DATASETS

    size = config.get("datasets", {}).get(dataset, {}).get("input_size")
    return size or DATASETS[dataset].image_size


def dataset_options(config: dict, dataset: str) -> dict:
    """The dataset's options with the schema's defaults for any that are absent."""
    defaults = {"input_size": None, "val_fraction": 0.1, "split_seed": 0, "data_dir": None, "download": False}
    return defaults | config.get("datasets", {}).get(dataset, {})


def experiments(config: dict) -> list[Experiment]:
    """Every (dataset, model) of the study, once, with the union of its families' methods and ratios.

    Work shared between families is done once: the dense ResNet-56/CIFAR-10 seed 7 serves the
    methods, model-size and dataset families alike.
    """
    plan: dict[tuple[str, str], dict[str, set]] = {}
    for family in config["families"]:
        for experiment in family["experiments"]:
            methods = plan.setdefault((experiment["dataset"], experiment["model"]), {})
            for method in family["methods"]:
                methods.setdefault(method, set()).update(float(r) for r in family["ratios"])
    return [
        Experiment(dataset, model, tuple(sorted(methods)), {m: tuple(sorted(r)) for m, r in methods.items()})
        for (dataset, model), methods in plan.items()
    ]


def seed_groups(config: dict) -> list[tuple[int, int]]:
    """Consecutive seeds cut into jobs of ``seeds_per_job``, as inclusive (first, last) pairs.

    Groups are aligned to ``first_seed``, so adding seeds at the end leaves existing groups (and
    their outputs) untouched whenever the old count was a multiple of ``seeds_per_job``.
    """
    first, count, size = config.get("first_seed", 0), config["seeds"], config.get("seeds_per_job", 1)
    return [(s, min(s + size, first + count) - 1) for s in range(first, first + count, size)]


def parse_group(group: str) -> list[int]:
    """Seeds of a group wildcard such as ``"5-9"``."""
    first, last = (int(part) for part in group.split("-"))
    return list(range(first, last + 1))
