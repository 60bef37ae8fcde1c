"""Design check of a study config: mean accuracy and lowest accuracy retention per cell (issue 14, part 2).

    PYTHONPATH=src .venv/bin/python benchmarks/default_study_design.py [--config config/config.yaml] [--seeds N]

Runs the study's stages in one process, through the package's stage functions (data, dense training,
pruning, fine-tuning, evaluation: the same code and hyper-parameters the workflow's jobs run), for
the first N seeds, then prints one row per (dataset, model, method, ratio) cell: mean accuracy of the
pruned models, mean dense accuracy, and the lowest per-model retention (A_t - 1/C) / (A - 1/C)
(``collapse.accuracy_retained``) beside the number of models the config's collapse rule flags.
This is how config/config.yaml was chosen (docs/default_study_design.md). Not a test: nothing is
asserted. ``run_pipeline`` is also what benchmarks/fashion_convention.py runs.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import yaml
from snakemake.utils import validate

from recall_distortion.collapse import mark_collapsed
from recall_distortion.config import check_study, experiments, input_size, with_dataset_entries
from recall_distortion.metrics import alpha_table
from recall_distortion.stages.data import prepare_data
from recall_distortion.stages.evaluate import evaluate
from recall_distortion.stages.finetune import finetune
from recall_distortion.stages.prune import prune
from recall_distortion.stages.train import train_dense

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def load_config(path) -> dict:
    """The config as the workflow sees it: checked, with the schema's defaults filled in."""
    config = with_dataset_entries(yaml.safe_load(Path(path).read_text()))
    validate(config, str(SCHEMA), set_default=True)
    check_study(config)
    return config


def run_pipeline(
    config: dict, dataset: str, model: str, methods: dict, seeds: list[int], scratch: Path,
    conventions=("exact",), dense: Path | None = None,
) -> dict[str, pd.DataFrame]:
    """{convention: recall table} of ``model`` on ``dataset``, trained once per seed, then pruned with
    ``methods`` ({method: ratios}) under each ratio convention and fine-tuned from the same dense models.

    Each convention keeps its checkpoints and resume files in its own folder of ``scratch``, so runs
    for different conventions can share one scratch folder (and its dense models) side by side."""
    size = input_size(config, dataset)
    job = dict(dataset=dataset, model=model, input_size=size)
    hparams = config["models"][model]
    data = scratch / f"{dataset}.npz"
    if not data.exists():
        prepare_data(data, dataset=dataset, **config["datasets"][dataset])
    dense = dense or scratch / f"{model}-dense.pt"
    if not dense.exists():
        train_dense(data, dense, scratch / "dense_log.tsv", seeds=seeds, hparams=hparams["train"],
                    resume_dir=scratch / ".resume", code="design", **job)
    pruning = {k: v for k, v in config["pruning"].items() if k != "ratio_convention"}
    tables = {}
    for convention in conventions:
        finetuned = []
        for method, ratios in methods.items():
            folder = scratch / convention / model / method  # evaluate labels a checkpoint by its folder
            prune(data, dense, folder / "masks.pt", method=method, ratios=list(ratios), ratio_convention=convention,
                  **pruning, **job)
            finetune(data, dense, folder / "masks.pt", folder / "finetuned.pt", folder / "log.tsv", method=method,
                     hparams=hparams["finetune"], resume_dir=scratch / convention / ".resume", code="design", **job)
            finetuned.append(folder / "finetuned.pt")
        evaluate(data, dense, finetuned, scratch / convention / f"{model}-recall.parquet", **job)
        tables[convention] = pd.read_parquet(scratch / convention / f"{model}-recall.parquet")
    return tables


def design_table(recall: pd.DataFrame, min_retained: float) -> pd.DataFrame:
    """Per cell: mean accuracy, mean dense accuracy, lowest retention, models flagged collapsed."""
    alpha = mark_collapsed(alpha_table(recall), recall, min_retained)
    return alpha.groupby(["dataset", "model", "method", "ratio"], sort=False).agg(
        n=("seed", "size"), accuracy=("accuracy", "mean"), accuracy_dense=("accuracy_dense", "mean"),
        min_retained=("accuracy_retained", "min"), collapsed=("collapsed", "sum"), alpha_mean=("alpha", "mean"),
    ).reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    parser.add_argument("--seeds", type=int, default=None, help="first N seeds of the config (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_config(args.config)
    seeds = list(range(config["first_seed"], config["first_seed"] + (args.seeds or config["seeds"])))
    min_retained = config["collapse"]["min_retained"]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="study-design-") as scratch:
        convention = config["pruning"]["ratio_convention"]
        rows = []
        for plan in experiments(copy.deepcopy(config)):
            tables = run_pipeline(config, plan.dataset, plan.model, plan.ratios, seeds, Path(scratch), (convention,))
            rows.append(design_table(tables[convention], min_retained))
    print(f"{args.config}, seeds {seeds[0]}..{seeds[-1]}, ratio convention {convention}, "
          f"collapse rule: retained < {min_retained}; {time.perf_counter() - start:.0f} s\n")
    print(pd.concat(rows).to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
