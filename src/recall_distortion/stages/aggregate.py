"""Stage 6: the study's recall table and its alpha table (section 5), each pruned model marked collapsed or not;
and the study's predictions table (one row per model and test example)."""

from __future__ import annotations

import pandas as pd

from recall_distortion.atomic import write_parquet
from recall_distortion.collapse import mark_collapsed
from recall_distortion.columns import MODEL_KEY
from recall_distortion.evaluation import compact_predictions
from recall_distortion.metrics import alpha_table


def aggregate(group_tables: list, recall_output, alpha_output, *, min_retained: float) -> None:
    """Concatenate the groups' recall tables and compute alpha per (dataset, model, method, ratio, seed),
    with the share of dense accuracy above chance each model retained and whether it collapsed."""
    recall = pd.concat([pd.read_parquet(path) for path in group_tables], ignore_index=True)
    recall = recall.sort_values(MODEL_KEY + ["class"], kind="stable", ignore_index=True)
    write_parquet(recall, recall_output)
    write_parquet(mark_collapsed(alpha_table(recall), recall, min_retained), alpha_output)


def aggregate_predictions(group_tables: list, output) -> None:
    """Concatenate the groups' predictions tables, sorted by model and example, in compact dtypes
    (concatenation turns categories of different groups into strings; :func:`compact_predictions`
    makes them categories again)."""
    predictions = pd.concat([pd.read_parquet(path) for path in group_tables], ignore_index=True)
    predictions = predictions.sort_values(MODEL_KEY + ["example"], kind="stable", ignore_index=True)
    write_parquet(compact_predictions(predictions), output)
