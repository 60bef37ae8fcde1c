# Helpers that turn the validated config into target lists and input functions.
import hashlib
import json
from pathlib import Path

from recall_distortion.config import (
    dataset_options,
    experiments,
    input_size,
    parse_group,
    seed_groups,
)

RESULTS = f"results/{config['study']}"
FAMILIES = config["families"]
EXPERIMENTS = experiments(config)
GROUPS = [f"{first}-{last}" for first, last in seed_groups(config)]
PACKAGE = Path(workflow.basedir) / "src" / "recall_distortion"
ENV = "../../envs/recall_distortion.yaml"


wildcard_constraints:
    dataset=r"[a-z0-9_]+",
    model=r"[a-z0-9_]+",
    method=r"[a-z0-9_]+",
    group=r"\d+-\d+",
    family=r"[A-Za-z0-9_]+",


def code_version(*sources):
    """Short hash of package sources (files or folders under src/recall_distortion).

    Snakemake does not see edits to an imported package. Each rule passes the hash of the modules it
    runs as a param, so editing, say, pruning.py changes the prune rule's params and Snakemake reruns
    pruning and what depends on it, but never dense training.
    """
    digest = hashlib.sha256()
    for source in sources:
        path = PACKAGE / source
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(file.relative_to(PACKAGE).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


# What each job runs, for code_version: any job that builds a model on prepared data, and jobs that train.
MODEL_CODE = ("datasets.py", "models", "device.py", "stages/files.py")
TRAINING_CODE = MODEL_CODE + ("training.py", "multiseed.py", "stages/resume.py", "stages/fitting.py")


def experiment(wildcards):
    """The planned Experiment of a (dataset, model) wildcard pair."""
    for planned in EXPERIMENTS:
        if (planned.dataset, planned.model) == (wildcards.dataset, wildcards.model):
            return planned
    raise ValueError(f"{wildcards.dataset}/{wildcards.model} is in no family of the config")


def group_dir(dataset="{dataset}", model="{model}", group="{group}"):
    return f"{RESULTS}/{dataset}/{model}/seeds{group}"


def model_input_size(wildcards):
    """Side of the images the model sees (channels and classes come from the dataset registry)."""
    return input_size(config, wildcards.dataset)


def canonical(value):
    """``value`` with dict keys sorted: params compare equal however the YAML orders its keys."""
    return json.loads(json.dumps(value, sort_keys=True))


def preparation_options(wildcards):
    return canonical(dataset_options(config, wildcards.dataset))


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


def experiment_methods(wildcards):
    return list(experiment(wildcards).methods)


def finetuned_checkpoints(wildcards):
    """Every method's fine-tuned checkpoints of one (dataset, model, seed group), in experiment_methods order."""
    folder = group_dir(wildcards.dataset, wildcards.model, wildcards.group)
    return [f"{folder}/{method}/finetuned.pt" for method in experiment(wildcards).methods]


def group_recall_tables(wildcards):
    """Per-group recall tables of every (dataset, model, seed group) of the study."""
    return [
        f"{group_dir(e.dataset, e.model, group)}/recall.parquet" for e in EXPERIMENTS for group in GROUPS
    ]
