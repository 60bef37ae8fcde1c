"""What a study config means: checks against the registries, and the job plan derived from it.

The JSON schema (workflow/schemas/config.schema.yaml) checks structure and types and holds every
default; ``workflow/rules/common.smk`` validates the config against it (Snakemake's ``validate``
with ``set_default=True``, after :func:`schema_errors` has reported any error one line per key), so
the functions here read a config whose defaults are filled in. The checks here need the package: a
name must be in its registry (the error lists the valid ones), and every ratio must be feasible for
its model (section 4's ratio counts every parameter, but only non-classifier weights can go, so each
model has a largest feasible ratio). Both run when Snakemake builds the DAG, before any job starts.
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


def schema_errors(config: dict, schema_path) -> list[str]:
    """Every schema violation of ``config``, one ``key.path: problem`` line each (jsonschema's own
    message would dump the whole schema); empty when the config is valid."""
    import jsonschema
    import yaml

    schema = yaml.safe_load(open(schema_path))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    return [f"{_key_path(error.absolute_path)}: {error.message}" for error in errors]


def with_dataset_entries(config: dict) -> dict:
    """``config`` with an (empty) ``datasets`` entry for every dataset a family uses, so that schema
    validation fills in that dataset's defaults too."""
    datasets = config.setdefault("datasets", {})
    for family in config.get("families", []):
        for experiment in family.get("experiments", []):
            if isinstance(experiment, dict) and "dataset" in experiment:
                datasets.setdefault(experiment["dataset"], {})
    return config


def _key_path(path) -> str:
    """``["families", 0, "ratios"]`` -> ``families[0].ratios`` (``<top level>`` for the root)."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
    return text or "<top level>"


def _check_name(kind: str, name: str, registry, where: str) -> None:
    if name not in registry:
        raise ConfigError(f"{where}: unknown {kind} {name!r}; valid {kind}s: {', '.join(sorted(registry))}")


def check_study(config: dict) -> None:
    """Raise ConfigError for names outside the registries, missing hyper-parameters or infeasible ratios."""
    from recall_distortion.data import DATASETS
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
            limit = feasible_ratio_limit(model, spec.num_classes, spec.channels, input_size(config, dataset),
                                         config.get("pruning", {}).get("ratio_convention", "exact"))
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
    from recall_distortion.data import DATASETS

    return config["datasets"][dataset]["input_size"] or DATASETS[dataset].image_size


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
    first, count, size = config["first_seed"], config["seeds"], config["seeds_per_job"]
    return [(s, min(s + size, first + count) - 1) for s in range(first, first + count, size)]
