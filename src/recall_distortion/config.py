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

from dataclasses import dataclass, field


class ConfigError(ValueError):
    """A study config that cannot be run; the message names the offending key."""


# Family kinds of Appendix H, whose methods and ratios come from elsewhere than the one-shot ``pruning.METHODS``.
ITERATIVE, STRUCTURED = "iterative", "structured"


@dataclass(frozen=True)
class Experiment:
    """One (dataset, model) pair trained with ``seeds`` seeds and pruned one-shot with ``ratios[method]``;
    ``iterative``: its LTH chain {levels, rate, rewind, hparams, seeds} or None; ``structured``: {criterion:
    {"ratios": sorted ratio labels, "score_batches", "score_batch_size", "seeds"}} (Appendix H); ``seeds``: how
    many of the study's first seeds they prune (None: all)."""

    dataset: str
    model: str
    methods: tuple[str, ...]
    ratios: dict  # method -> tuple of ratios, sorted
    iterative: dict | None = None
    structured: dict = field(default_factory=dict)


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


def with_derived_families(config: dict) -> dict:
    """``config`` with ``methods`` and ``ratios`` filled in for iterative families, which configure
    ``levels`` and ``rate`` instead: method ``lth`` at ratios t_1 .. t_L (``iterative.level_ratio``,
    Table 12), so the analysis reads every family alike. Idempotent."""
    from recall_distortion.iterative import METHOD, level_ratio

    for family in config.get("families", []):
        if family.get("kind") == ITERATIVE:
            family["methods"] = [METHOD]
            family["ratios"] = [level_ratio(level, family["rate"]) for level in range(1, family["levels"] + 1)]
    return config


def _check_structured(family: dict, where: str, experiment: dict, j: int, spec, size: int) -> None:
    """A structured family needs a CIFAR ResNet (BasicBlocks) and ratios its channels can reach."""
    import torch

    from recall_distortion.models import build_model
    from recall_distortion.structured import CRITERIA, proportions_for

    for criterion in family["methods"]:
        _check_name("channel criterion", criterion, CRITERIA, f"{where}.methods")
    with torch.device("meta"):
        net = build_model(experiment["model"], spec.num_classes, spec.channels, size)
    for ratio in family["ratios"]:
        try:
            proportions_for(net, ratio)
        except TypeError:
            raise ConfigError(
                f"{where}.experiments[{j}]: structured pruning needs a CIFAR ResNet (resnet20, resnet32, ...), "
                f"got {experiment['model']!r}"
            ) from None
        except ValueError as err:
            raise ConfigError(f"{where}.ratios: {ratio} for {experiment['model']}: {err}") from None


def check_study(config: dict) -> None:
    """Raise ConfigError for names outside the registries, missing hyper-parameters or infeasible ratios."""
    from recall_distortion.data import DATASETS
    from recall_distortion.models import MODELS
    from recall_distortion.pruning import METHODS, feasible_ratio_limit

    with_derived_families(config)

    for name in config.get("datasets", {}):
        _check_name("dataset", name, DATASETS, f"datasets.{name}")
    for name in config["models"]:
        _check_name("model", name, MODELS, f"models.{name}")
    names = [family["name"] for family in config["families"]]
    if len(set(names)) != len(names):
        raise ConfigError(f"families: names must be unique, got {names}")
    for i, family in enumerate(config["families"]):
        where = f"families[{i}] ({family['name']})"
        if (family.get("seeds") or 0) > config["seeds"]:
            raise ConfigError(f"{where}.seeds: {family['seeds']} is more than the study's {config['seeds']} seeds")
        if family["kind"] not in (ITERATIVE, STRUCTURED):
            for method in family["methods"]:
                _check_name("method", method, METHODS, f"{where}.methods")
        for j, experiment in enumerate(family["experiments"]):
            dataset, model = experiment["dataset"], experiment["model"]
            _check_name("dataset", dataset, DATASETS, f"{where}.experiments[{j}].dataset")
            _check_name("model", model, MODELS, f"{where}.experiments[{j}].model")
            if model not in config["models"]:
                raise ConfigError(f"{where}.experiments[{j}]: model {model!r} has no hyper-parameters under models.{model}")
            spec = DATASETS[dataset]
            if family["kind"] == STRUCTURED:
                _check_structured(family, where, experiment, j, spec, input_size(config, dataset))
                continue
            limit = feasible_ratio_limit(model, spec.num_classes, spec.channels, input_size(config, dataset),
                                         config.get("pruning", {}).get("ratio_convention", "exact"))
            too_high = [r for r in family["ratios"] if r > limit]
            if too_high:
                raise ConfigError(
                    f"{where}.ratios: {too_high} infeasible for {model} on {dataset}: "
                    f"the classifier and biases cannot be pruned, so the largest feasible ratio is {limit:.2f}"
                    + (f" (level {family['levels']} at rate {family['rate']})" if family["kind"] == ITERATIVE else "")
                )
        if family["kind"] == "dataset":
            listed = {e["dataset"] for e in family["experiments"]}
            for pair in family.get("comparisons", []):
                for dataset in pair:
                    if dataset not in listed:
                        raise ConfigError(f"{where}.comparisons: {dataset!r} is not among the family's datasets {sorted(listed)}")
    for plan in experiments(config):  # every model's rows are keyed by method name (columns.MODEL_KEY)
        shared = set(plan.methods) & (set(plan.structured) | ({"lth"} if plan.iterative else set()))
        if shared:
            raise ConfigError(f"{plan.dataset}/{plan.model}: {sorted(shared)} named both a one-shot method and an "
                              "Appendix H method; their models would share rows in recall.parquet")


def input_size(config: dict, dataset: str) -> int:
    """Side of the images fed to the model: the configured size, else the stored one."""
    from recall_distortion.data import DATASETS

    return config["datasets"][dataset]["input_size"] or DATASETS[dataset].image_size


def experiments(config: dict) -> list[Experiment]:
    """Every (dataset, model) of the study, once, with the union of its families' methods and ratios.

    Work shared between families is done once: the dense ResNet-56/CIFAR-10 seed 7 serves the
    methods, model-size and dataset families alike.
    """
    with_derived_families(config)
    plan: dict[tuple[str, str], dict[str, set]] = {}
    chains: dict[tuple[str, str], dict] = {}
    channels: dict[tuple[str, str], dict[str, dict]] = {}
    for family in config["families"]:
        for experiment in family["experiments"]:
            pair = (experiment["dataset"], experiment["model"])
            methods = plan.setdefault(pair, {})
            if family["kind"] == ITERATIVE:
                chains[pair] = _one_chain(chains.get(pair), family, pair)
            elif family["kind"] == STRUCTURED:
                for criterion in family["methods"]:
                    _add_structured(channels.setdefault(pair, {}), criterion, family, pair)
            else:
                for method in family["methods"]:
                    methods.setdefault(method, set()).update(float(r) for r in family["ratios"])
    return [
        Experiment(dataset, model, tuple(sorted(methods)), {m: tuple(sorted(r)) for m, r in methods.items()},
                   chains.get((dataset, model)),
                   {c: {**o, "ratios": tuple(sorted(o["ratios"]))} for c, o in sorted(channels.get((dataset, model), {}).items())})
        for (dataset, model), methods in plan.items()
    ]


def _add_structured(known: dict, criterion: str, family: dict, pair: tuple[str, str]) -> None:
    """Add a structured family's ratios to ``known[criterion]``; its families must score alike (one job)."""
    scoring = {key: family[key] for key in ("score_batches", "score_batch_size")}
    entry = known.setdefault(criterion, {**scoring, "ratios": set(), "seeds": family["seeds"]})
    if {key: entry[key] for key in scoring} != scoring:
        raise ConfigError(f"structured families on {pair[0]}/{pair[1]} with {criterion} must share score_batches "
                          "and score_batch_size")
    entry["ratios"].update(float(r) for r in family["ratios"])
    entry["seeds"] = _more_seeds(entry["seeds"], family["seeds"])


def _one_chain(known: dict | None, family: dict, pair: tuple[str, str]) -> dict:
    """The LTH chain of a (dataset, model): one per pair, the longest of its families' (they must
    otherwise agree: the levels of a chain are shared files)."""
    chain = {key: family[key] for key in ("levels", "rate", "rewind", "hparams", "seeds")}
    if known is None:
        return chain
    shared = ("rate", "rewind", "hparams")
    if any(known[key] != chain[key] for key in shared):
        raise ConfigError(f"iterative families on {pair[0]}/{pair[1]} must share rate, rewind and hparams")
    return {**chain, "levels": max(chain["levels"], known["levels"]), "seeds": _more_seeds(known["seeds"], chain["seeds"])}


def _more_seeds(a: int | None, b: int | None) -> int | None:
    """The larger of two family seed counts (None: every seed)."""
    return None if a is None or b is None else max(a, b)


def seed_groups(config: dict) -> list[tuple[int, int]]:
    """Consecutive seeds cut into jobs of ``seeds_per_job``, as inclusive (first, last) pairs.

    Groups are aligned to ``first_seed``, so adding seeds at the end leaves existing groups (and
    their outputs) untouched whenever the old count was a multiple of ``seeds_per_job``.
    """
    first, count, size = config["first_seed"], config["seeds"], config["seeds_per_job"]
    return [(s, min(s + size, first + count) - 1) for s in range(first, first + count, size)]
