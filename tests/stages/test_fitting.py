"""Tests for stages/fitting.py: the multi_seed option changes how a job trains its group of seeds,
never what it writes (section 6.1 protocol either way). CPU, digits."""

from __future__ import annotations

import pandas as pd
import pytest

from recall_distortion.stages.data import prepare_data
from recall_distortion.stages.files import load_checkpoint
from recall_distortion.stages.finetune import finetune
from recall_distortion.stages.fitting import MODES, check_mode
from recall_distortion.stages.prune import prune
from recall_distortion.stages.train import train_dense
from tests.test_multiseed import assert_states_close
from tests.configs import complete_hparams


def test_unknown_mode_is_named():
    with pytest.raises(ValueError, match="'parallel'"):
        check_mode("parallel")


def test_stages_write_the_same_checkpoints_and_logs_in_both_modes(tmp_path):
    # The multi_seed option only changes how a job runs (config schema): train_dense and finetune
    # write the same seeds, ratios, best epochs and weights (to float rounding) and logs in the same order.
    data = tmp_path / "digits.npz"
    prepare_data(data, dataset="digits", val_fraction=0.1, split_seed=0)
    hp = complete_hparams({"epochs": 2, "batch_size": 128, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4,
                   "schedule": {"name": "constant"}})
    common = {"dataset": "digits", "model": "lenet5", "input_size": 16, "hparams": hp, "code": "test"}
    for mode in MODES:
        out = tmp_path / mode
        train_dense(data, out / "dense.pt", out / "dense_log.tsv", seeds=[0, 1], resume_dir=out / "resume",
                    multi_seed=mode, **common)
    masks = tmp_path / "masks.pt"  # from one dense checkpoint, so that both fine-tunes hold the same masks
    prune(data, tmp_path / "sequential" / "dense.pt", masks, dataset="digits", model="lenet5", method="mp",
          ratios=[2.0, 4.0], input_size=16)
    for mode in MODES:
        out = tmp_path / mode
        finetune(data, tmp_path / "sequential" / "dense.pt", masks, out / "finetuned.pt", out / "finetune_log.tsv",
                 method="mp", resume_dir=out / "resume", multi_seed=mode, **common)

    for name in ("dense.pt", "finetuned.pt"):
        seq, vm = (load_checkpoint(tmp_path / mode / name)["seeds"] for mode in MODES)
        assert list(seq) == list(vm) == [0, 1]
        if name == "dense.pt":
            pairs = [(seq[s], vm[s]) for s in seq]
        else:
            assert all(list(seq[s]) == list(vm[s]) == [2.0, 4.0] for s in seq)
            pairs = [(seq[s][r], vm[s][r]) for s in seq for r in seq[s]]
        for a, b in pairs:
            assert a["best_epoch"] == b["best_epoch"]
            assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-5)
            assert_states_close(a["state"], b["state"], atol=1e-5)
    for name in ("dense_log.tsv", "finetune_log.tsv"):
        seq, vm = (pd.read_csv(tmp_path / mode / name, sep="\t").drop(columns="seconds") for mode in MODES)
        pd.testing.assert_frame_equal(seq, vm, atol=1e-5)
    assert not [f for mode in MODES for f in (tmp_path / mode / "resume").rglob("*.pt")]  # scratch cleared
