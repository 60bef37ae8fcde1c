# Config validation, and the helpers that turn the validated config into target lists and input functions.
import json
from pathlib import Path

from snakemake.utils import validate

from recall_distortion.config import (
    ConfigError,
    check_study,
    experiments,
    input_size,
    schema_errors,
    seed_groups,
    with_dataset_entries,
)
from recall_distortion.sources import code_version

# Structure and types first, one line per offending key; then Snakemake fills in every default the
# schema holds (the package takes defaults from nowhere else); then names and ratios against the
# package's registries. All before any job runs.
SCHEMA = f"{workflow.basedir}/workflow/schemas/config.schema.yaml"
with_dataset_entries(config)
if errors := schema_errors(config, SCHEMA):
    raise ConfigError("invalid config:\n  " + "\n  ".join(errors))
validate(config, SCHEMA, set_default=True)
check_study(config)

RESULTS = f"results/{config['study']}"
FAMILIES = config["families"]
EXPERIMENTS = experiments(config)
GROUPS = [f"{first}-{last}" for first, last in seed_groups(config)]
SOURCES = Path(workflow.basedir) / "src"
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"
ENV = "../../envs/recall_distortion.yaml"


wildcard_constraints:
    dataset=r"[a-z0-9_]+",
    model=r"[a-z0-9_]+",
    method=r"[a-z0-9_]+",
    group=r"\d+-\d+",
    family=r"[A-Za-z0-9_]+",


def script_code(script):
    """Hash of workflow/scripts/<script>.py and every package module it imports, directly or not.

    Snakemake does not see edits to an imported package. Each rule passes this hash as a param, so
    editing, say, pruning.py changes the prune rule's params and Snakemake reruns pruning and what
    depends on it, but never dense training, whose script never imports pruning.py. The module list
    comes from the real imports (recall_distortion.sources), so it cannot drift from the code.
    """
    return code_version(SCRIPTS / f"{script}.py", SOURCES)


def experiment(wildcards):
    """The planned Experiment of a (dataset, model) wildcard pair."""
    for planned in EXPERIMENTS:
        if (planned.dataset, planned.model) == (wildcards.dataset, wildcards.model):
            return planned
    raise ValueError(
        f"{wildcards.dataset}/{wildcards.model} is in no family of the config"
    )


def group_dir(dataset="{dataset}", model="{model}", group="{group}"):
    return f"{RESULTS}/{dataset}/{model}/seeds{group}"


def model_input_size(wildcards):
    """Side of the images the model sees (channels and classes come from the dataset registry)."""
    return input_size(config, wildcards.dataset)


def canonical(value):
    """``value`` with dict keys sorted: params compare equal however the YAML orders its keys."""
    return json.loads(json.dumps(value, sort_keys=True))


def preparation_options(wildcards):
    return canonical(config["datasets"][wildcards.dataset])


def group_seeds(wildcards):
    """Seeds of a group wildcard such as ``"5-9"``."""
    first, last = (int(part) for part in wildcards.group.split("-"))
    return list(range(first, last + 1))


def pruned_seeds(wildcards, count):
    """Seeds of the group among the study's first ``count`` (an Appendix H family's ``seeds``; None: all)."""
    return [
        seed
        for seed in group_seeds(wildcards)
        if count is None or seed < config["first_seed"] + count
    ]


def train_hparams(wildcards):
    return canonical(config["models"][wildcards.model]["train"])


def finetune_hparams(wildcards):
    return canonical(config["models"][wildcards.model]["finetune"])


def method_ratios(wildcards):
    """Union of the ratios of every family that prunes this (dataset, model) with this method."""
    return list(experiment(wildcards).ratios[wildcards.method])


def scoring_gpus(wildcards):
    """GP and UP score with a gradient pass over the training split: worth a GPU; MP and RP are not."""
    from recall_distortion.pruning import METHODS

    return int(METHODS[wildcards.method].needs_gradient)


def finetuned_checkpoints(wildcards):
    """Every pruned model's checkpoint of one (dataset, model, seed group), each in its method's folder:
    one-shot fine-tuned, every level of the LTH chain, every structured criterion (Appendix H).
    """
    folder = group_dir(wildcards.dataset, wildcards.model, wildcards.group)
    planned = experiment(wildcards)
    chain = planned.iterative
    levels = chain["levels"] if chain and pruned_seeds(wildcards, chain["seeds"]) else 0
    return (
        [f"{folder}/{method}/finetuned.pt" for method in planned.methods]
        + [f"{folder}/lth/level{level}.pt" for level in range(1, levels + 1)]
        + [
            f"{folder}/{criterion}/structured.pt"
            for criterion, options in planned.structured.items()
            if pruned_seeds(wildcards, options["seeds"])
        ]
    )


def group_recall_tables(wildcards, table="recall"):
    """Per-group recall (or predictions) tables of every (dataset, model, seed group) of the study."""
    return [
        f"{group_dir(e.dataset, e.model, group)}/{table}.parquet"
        for e in EXPERIMENTS
        for group in GROUPS
    ]


def group_prediction_tables(wildcards):
    """Per-group predictions tables (one row per model and test example), in group_recall_tables' order."""
    return group_recall_tables(wildcards, table="predictions")


def noise_floor_options():
    """The config's noise floor of α (draws, seed): the params of the rules that compute it."""
    return {
        key: config["analysis"][key]
        for key in ("noise_floor_draws", "noise_floor_seed")
    }


# Appendix H (workflow/rules/appendix_h.smk)
def lth_chain(wildcards):
    """The (dataset, model)'s LTH chain {levels, rate, rewind, hparams} (config.experiments)."""
    chain = experiment(wildcards).iterative
    if chain is None:
        raise ValueError(
            f"{wildcards.dataset}/{wildcards.model} is in no iterative family"
        )
    return chain


def previous_level(wildcards):
    """Level ℓ−1 of the chain: the dense models for level 1."""
    level = int(wildcards.level)
    folder = group_dir(wildcards.dataset, wildcards.model, wildcards.group)
    return f"{folder}/dense.pt" if level == 1 else f"{folder}/lth/level{level - 1}.pt"


def level_hparams(wildcards):
    """Training of every level: the family's hparams, else the model's train hparams (the dense run's)."""
    return canonical(
        lth_chain(wildcards)["hparams"] or config["models"][wildcards.model]["train"]
    )


def structured_options(wildcards):
    """The criterion's ratio labels, scoring batches and the group's seeds it prunes."""
    options = dict(experiment(wildcards).structured[wildcards.criterion])
    options["seeds"] = pruned_seeds(wildcards, options["seeds"])
    return canonical(options)
