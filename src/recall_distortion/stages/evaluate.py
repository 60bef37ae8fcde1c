"""Stage 5: per-class test metrics of a seed group's dense and fine-tuned models (sections 4-5), and
their per-example predictions (Hooker et al. 2019, section 3) from the same forward pass."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recall_distortion.atomic import write_parquet
from recall_distortion.data import DATASETS
from recall_distortion.device import claim_device
from recall_distortion.evaluation import compact_predictions, evaluate_with_predictions, prediction_rows, recall_rows
from recall_distortion.columns import DENSE
from recall_distortion.stages.files import load_checkpoint, load_splits_as_tensors, new_model
from recall_distortion.structured import remove_channels


def evaluate(
    data, dense, finetuned: list, output, predictions_output=None, *, dataset: str, model: str, input_size: int
) -> None:
    """Write the long recall table (evaluation module's columns) of the group: method "dense" at ratio 1;
    with ``predictions_output``, also its predictions table (one row per model and test example).

    Each fine-tuned checkpoint is labelled with the method it stores, which must also be the name of
    its folder (``<group>/<method>/finetuned.pt``; Appendix H's ``<group>/lth/level<ℓ>.pt`` and
    ``<group>/<criterion>/structured.pt`` too); dataset, model and input size must be the job's. An entry
    with ``removed`` channels (structured pruning) is evaluated on the smaller model rebuilt from them.
    """
    num_classes = DATASETS[dataset].num_classes
    expected = dict(dataset=dataset, model=model, input_size=input_size)
    checkpoints = [(DENSE, {1.0: entry}, seed) for seed, entry in load_checkpoint(dense, **expected)["seeds"].items()]
    for path in finetuned:
        tuned = load_checkpoint(path, **expected, method=Path(path).parent.name)
        checkpoints += [(tuned["method"], per_ratio, seed) for seed, per_ratio in tuned["seeds"].items()]
    tables, predictions = [], []
    with claim_device() as device:
        (x, y), = load_splits_as_tensors(data, dataset, input_size, device, splits=("test",)).values()
        net = new_model(dataset, model, input_size, device)
        for method, per_ratio, seed in checkpoints:
            for ratio, entry in per_ratio.items():
                evaluated = net if "removed" not in entry else remove_channels(net, entry["removed"], x)
                evaluated.load_state_dict(entry["state"])
                table, predicted = evaluate_with_predictions(evaluated, x, y, num_classes)
                key = dict(dataset=dataset, model=model, method=method, seed=seed, ratio=float(ratio))
                tables.append(recall_rows(table, **key))
                predictions.append(prediction_rows(predicted, **key))
    write_parquet(pd.concat(tables, ignore_index=True), output)
    if predictions_output is not None:
        write_parquet(compact_predictions(pd.concat(predictions, ignore_index=True)), predictions_output)

