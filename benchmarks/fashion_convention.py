"""The two ratio conventions at nominal 50x on Fashion-MNIST with the paper's LeNet5 protocol (issue 14, part 2b).

    PYTHONPATH=src .venv/bin/python benchmarks/fashion_convention.py [--seeds 0 1] [--scratch DIR]

Needs Debian's package `dataset-fashion-mnist` (files in /usr/share/datasets/fashion-mnist/). The
protocol is config/paper.yaml's (section 6.1: 30 epochs + 15 of fine-tuning, batch 128, lr 0.01, 32x32
inputs), MP only. Each seed's dense model is trained once; both conventions (``pruning.RATIO_CONVENTIONS``)
prune and fine-tune that same model. Prints, per seed and convention: dense and pruned test accuracy,
the achieved ratio (parameters / nonzero parameters), the recall variance (appendix F) and alpha
(section 5). About 12 min per seed on one core. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from default_study_design import REPO, load_config, run_pipeline
from recall_distortion.metrics import alpha_table
from recall_distortion.pruning import RATIO_CONVENTIONS

RATIO = 50.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--conventions", nargs="+", default=list(RATIO_CONVENTIONS), choices=RATIO_CONVENTIONS)
    parser.add_argument("--scratch", default=None, help="keep checkpoints here (default: a temporary folder); "
                        "runs for different --conventions may share it and run side by side once its dense models exist")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_config(REPO / "config" / "paper.yaml")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fashion-convention-") as tmp:
        scratch = Path(args.scratch or tmp)
        scratch.mkdir(parents=True, exist_ok=True)
        tables = run_pipeline(config, "fashion_mnist", "lenet5", {"mp": [RATIO]}, args.seeds, scratch, args.conventions)
    rows = []
    for convention, recall in tables.items():
        alpha = alpha_table(recall)
        sizes = recall[recall["method"] == "mp"].groupby("seed")[["params_total", "params_nonzero"]].first()
        alpha = alpha.merge((sizes["params_total"] / sizes["params_nonzero"]).rename("achieved_ratio").reset_index(),
                            on="seed")
        alpha.insert(0, "convention", convention)
        rows.append(alpha)
    table = pd.concat(rows)[["convention", "seed", "ratio", "achieved_ratio", "accuracy_dense", "accuracy",
                             "recall_variance_dense", "recall_variance", "alpha"]]
    print(f"Fashion-MNIST, LeNet5 (config/paper.yaml), MP at nominal {RATIO:g}x, seeds {args.seeds}; "
          f"{time.perf_counter() - start:.0f} s\n")
    print(table.to_markdown(index=False, floatfmt=".4f"))


if __name__ == "__main__":
    main()
