"""Hand-made predictions tables: populations of models given as lists of predicted labels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recall_distortion.evaluation import compact_predictions


def predictions_table(populations: dict, labels, dataset: str = "digits", model: str = "lenet5") -> pd.DataFrame:
    """``populations[(method, ratio)]`` is a list of prediction vectors, one per seed 0, 1, ...;
    ``labels`` the true classes of the test examples. p_true is 1 where right, 0 where wrong."""
    labels = np.asarray(labels)
    frames = []
    for (method, ratio), models in populations.items():
        for seed, predicted in enumerate(models):
            predicted = np.asarray(predicted)
            frames.append(pd.DataFrame({
                "dataset": dataset, "model": model, "method": method, "ratio": float(ratio), "seed": seed,
                "example": np.arange(labels.size), "label": labels, "predicted": predicted,
                "p_true": (predicted == labels).astype(float),
            }))
    return compact_predictions(pd.concat(frames, ignore_index=True))
