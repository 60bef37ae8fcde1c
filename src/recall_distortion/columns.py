"""Names of the keys that identify rows of the long-format tables (recall, alpha, predictions).

One name per concept, shared by every module that reads or writes those tables (docs/CONTRACTS.md).
They are lists because pandas takes a list of columns (a tuple would name one column); never mutate
them, concatenate instead (``MODEL_KEY + ["class"]``).
"""

#: ``method`` of a model before pruning; its ``ratio`` is 1.0 (paper section 4: t = 1 when absent).
DENSE = "dense"

#: One trained dense model m: the before-pruning side of every pruned model with the same key.
DENSE_KEY = ["dataset", "model", "seed"]
#: One evaluated model: a dense model (method "dense", ratio 1.0) or one pruned and fine-tuned from it.
MODEL_KEY = ["dataset", "model", "method", "ratio", "seed"]
#: One setting of the study, across its models m (seeds): where E[α_t] is estimated (section 6.2).
CELL_KEY = ["dataset", "model", "method", "ratio"]
#: One (dataset, model, method) series of cells over the ratios: a panel of the paper's figures.
SERIES_KEY = ["dataset", "model", "method"]


def require_columns(table, columns, what: str) -> None:
    """Raise ValueError naming the ``columns`` that ``table`` (a DataFrame, the ``what`` table) lacks."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what} table lacks columns {missing}")
