"""Stage 6: the study's recall table and its alpha table (section 5)."""

from __future__ import annotations

import pandas as pd

from recall_distortion.atomic import write_parquet
from recall_distortion.columns import MODEL_KEY
from recall_distortion.metrics import alpha_table


def aggregate(group_tables: list, recall_output, alpha_output) -> None:
    """Concatenate the groups' recall tables and compute alpha per (dataset, model, method, ratio, seed)."""
    recall = pd.concat([pd.read_parquet(path) for path in group_tables], ignore_index=True)
    recall = recall.sort_values(MODEL_KEY + ["class"], kind="stable", ignore_index=True)
    write_parquet(recall, recall_output)
    write_parquet(alpha_table(recall), alpha_output)
