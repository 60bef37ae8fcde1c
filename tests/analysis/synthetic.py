"""Synthetic alpha / recall tables with planted effects, and the families that analyse them.

Planted (section 9's conclusions, so that the analysis must recover them):
α = 1 + (f(t) - 1) * k_model * k_dataset + δ_method + seed effect + noise, with f(t) < 1 for t <= 4
(de-intensification) and f(t) > 1 growing for t >= 10 (intensification growing with t); smaller
models and more complex datasets have larger k (more intensification at high t); UP has a lower α
than MP (δ = -0.06) and a smaller accuracy drop; RP has α ≈ 0.5 at every ratio.

Collapse (recall_distortion.collapse): no planted model collapses; :func:`collapse_cell` makes models
of one cell collapse (accuracy near chance, α anywhere in -10...+5, as in the issue-14 study), and
:func:`make_recall` can make a cell's models predict one class.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recall_distortion.collapse import MIN_RETAINED, accuracy_retained

F = {2: 0.80, 4: 0.85, 6: 0.90, 8: 0.95, 10: 1.20, 20: 1.40, 50: 1.80}
K_MODEL = {"resnet20": 1.6, "resnet32": 1.3, "resnet56": 1.0, "lenet5": 1.0}
K_DATASET = {"mnist": 0.7, "cifar10": 1.0, "cifar100": 1.4}
DELTA_METHOD = {"mp": 0.0, "gp": 0.03, "up": -0.06}
ACC_DATASET = {"mnist": 0.99, "cifar10": 0.90, "cifar100": 0.67}
CLASSES = {"mnist": 10, "cifar10": 10, "cifar100": 100}
RATIOS = [2, 4, 10, 20, 50]

FAMILIES = [
    {"name": "methods", "kind": "method", "experiments": [{"dataset": "cifar10", "model": "resnet56"}],
     "methods": ["mp", "gp", "up", "rp"], "ratios": RATIOS},
    {"name": "sizes", "kind": "model",
     "experiments": [{"dataset": "cifar10", "model": m} for m in ("resnet20", "resnet32", "resnet56")],
     "methods": ["mp", "up"], "ratios": RATIOS},
    {"name": "tasks", "kind": "dataset",
     "experiments": [{"dataset": "mnist", "model": "lenet5"}, {"dataset": "cifar10", "model": "resnet56"},
                     {"dataset": "cifar100", "model": "resnet56"}],
     "methods": ["mp"], "ratios": RATIOS},
    {"name": "tradeoff", "kind": "tradeoff", "experiments": [{"dataset": "cifar10", "model": "resnet56"}],
     "methods": ["mp", "up"], "ratios": [2, 4, 6, 8, 10]},
]


def planted_alpha(dataset: str, model: str, method: str, ratio: float) -> float:
    if method == "rp":
        return 0.5
    return 1 + (F[int(ratio)] - 1) * K_MODEL[model] * K_DATASET[dataset] + DELTA_METHOD[method]


def make_alpha(families=FAMILIES, seeds: int = 30, noise: float = 0.02, rng_seed: int = 0) -> pd.DataFrame:
    """An alpha table (documented columns of docs/CONTRACTS.md) with the planted α."""
    rng = np.random.default_rng(rng_seed)
    cells = {}
    for f in families:
        for e in f["experiments"]:
            for p in f["methods"]:
                cells.setdefault((e["dataset"], e["model"], p), set()).update(float(r) for r in f["ratios"])
    rows = []
    dense = {}  # one dense model per (dataset, model, seed), shared by every method (section 6.2)
    for (d, m, p), ratios in cells.items():
        if (d, m) not in dense:
            dense[d, m] = (rng.normal(0, noise, seeds), ACC_DATASET[d] + rng.normal(0, 0.005, seeds),
                           0.004 + rng.normal(0, 0.0002, seeds))
        seed_effect, acc_dense, var_dense = dense[d, m]
        for r in sorted(ratios):
            a = planted_alpha(d, m, p, r) + seed_effect + rng.normal(0, noise, seeds)
            drop = 0.02 * np.log2(r) * (0.5 if p == "up" else 1.0) - 0.01
            for s in range(seeds):
                rows.append(dict(dataset=d, model=m, method=p, ratio=float(r), seed=s, alpha=a[s], alpha_reason="",
                                 accuracy=acc_dense[s] - drop, accuracy_dense=acc_dense[s],
                                 recall_variance=var_dense[s] * a[s] ** 2, recall_variance_dense=var_dense[s]))
    return _mark(pd.DataFrame(rows))


def _mark(alpha: pd.DataFrame) -> pd.DataFrame:
    """The collapse columns the aggregate stage adds (recall_distortion.collapse.mark_collapsed)."""
    classes = alpha["dataset"].map(CLASSES)
    retained = accuracy_retained(alpha["accuracy"], alpha["accuracy_dense"], classes)
    return alpha.assign(accuracy_retained=retained, collapsed=~(retained >= MIN_RETAINED))


def collapse_cell(alpha: pd.DataFrame, cell: tuple, n: int, rng_seed: int = 1) -> pd.DataFrame:
    """A copy of ``alpha`` where the first ``n`` seeds of ``cell`` (dataset, model, method, ratio) collapsed:
    accuracy 1.5 / C (near chance: a CIFAR-10 model keeps 0.06 of its dense accuracy above chance), α uniform in
    [-10, 5]."""
    rng = np.random.default_rng(rng_seed)
    dataset, model, method, ratio = cell
    hit = (alpha.dataset == dataset) & (alpha.model == model) & (alpha.method == method) & (alpha.ratio == ratio)
    hit &= alpha.seed.isin(sorted(alpha.loc[hit, "seed"])[:n])
    out = alpha.copy()
    out.loc[hit, "alpha"] = rng.uniform(-10, 5, int(hit.sum()))
    out.loc[hit, "accuracy"] = 1.5 / CLASSES[dataset]
    return _mark(out.drop(columns=["accuracy_retained", "collapsed"]))


def make_recall(families, seeds: int = 3, classes: int = 4, rng_seed: int = 0, collapsed=()) -> pd.DataFrame:
    """A recall table whose B̄_t^c = α B̄^c exactly (planted α), dense rows method='dense', ratio 1.

    In the ``collapsed`` cells (dataset, model, method, ratio) every model predicts one class (recall 1,
    a second class 0.2, the others 0: accuracy 1.2 / C, B̄_t far from α B̄).
    """
    rng = np.random.default_rng(rng_seed)
    cells = {}
    for f in families:
        for e in f["experiments"]:
            for p in f["methods"]:
                cells.setdefault((e["dataset"], e["model"]), {}).setdefault(p, set()).update(
                    float(r) for r in f["ratios"]
                )
    rows = []

    def add(d, m, p, r, s, acc, bbar):
        recall = acc * (1 + bbar)
        for c in range(classes):
            rows.append(dict(dataset=d, model=m, method=p, ratio=r, seed=s, **{"class": c}, support=100,
                             recall=recall[c], precision=recall[c], f1=recall[c], accuracy=acc, loss=0.3,
                             params_total=1000, params_nonzero=int(1000 / r)))

    for (d, m), methods in cells.items():
        for s in range(seeds):
            bbar = rng.normal(0, 0.05, classes)
            bbar -= bbar.mean()  # balanced test set: Σ_c B̄^c = 0 (Corollary 4.1.1)
            acc = ACC_DATASET[d]
            add(d, m, "dense", 1.0, s, acc, bbar)
            for p, ratios in methods.items():
                for r in sorted(ratios):
                    a = planted_alpha(d, m, p, r) + rng.normal(0, 0.01)
                    if (d, m, p, r) in collapsed:
                        fallback = np.zeros(classes)
                        fallback[rng.choice(classes, 2, replace=False)] = (1.0, 0.2)
                        add(d, m, p, r, s, fallback.mean(), fallback / fallback.mean() - 1)
                    else:
                        add(d, m, p, r, s, acc - 0.01 * np.log2(r), a * bbar)
    return pd.DataFrame(rows)


def cell_alpha(alpha: pd.DataFrame, dataset: str, model: str, method: str, ratio: float) -> pd.Series:
    """α of one (dataset, model, method, ratio) cell by seed, read directly from the alpha table."""
    cell = (alpha.dataset == dataset) & (alpha.model == model) & (alpha.method == method) & (alpha.ratio == ratio)
    sel = alpha[cell]
    return sel.set_index("seed")["alpha"].sort_index()
