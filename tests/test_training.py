"""Tests for training.py: SGD protocol of paper section 6.1 (best-validation-loss epoch, schedules,
masks held through fine-tuning) plus determinism and resume after a kill. CPU, tiny model and data."""

from __future__ import annotations

import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import recall_distortion.training as training
from recall_distortion.atomic import save_torch
from recall_distortion.training import LOG_COLUMNS, TrainingDiverged, TrainResult, init_seed, lr_at, train
from tests.configs import complete_hparams

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent


HP = complete_hparams({"epochs": 8, "batch_size": 32, "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4,
               "schedule": {"name": "multistep", "milestones": [3, 6], "gamma": 0.5}})


class Tiny(nn.Module):
    """Stand-in for models.build_model: features then a `.classifier` Linear."""

    def __init__(self, classes: int = 3):
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU())
        self.classifier = nn.Linear(32, classes)

    def forward(self, x):
        return self.classifier(self.features(x))


def tiny_data() -> dict:
    """Three overlapping Gaussian blobs as 1x8x8 images; 100 train samples (last batch partial)."""
    g = torch.Generator().manual_seed(0)
    centers = 0.5 * torch.randn(3, 64, generator=g)

    def split(n):
        y = torch.arange(n) % 3
        return (centers[y] + 1.5 * torch.randn(n, 64, generator=g)).view(n, 1, 8, 8), y

    return {"train": split(100), "val": split(60)}


def noise_augment(x, generator):
    return x + 0.1 * torch.randn(x.shape, generator=generator, device=x.device)


def half_mask(model) -> dict:
    g = torch.Generator().manual_seed(1)
    w = model.features[1].weight
    return {"features.1.weight": torch.rand(w.shape, generator=g) < 0.5}


def run_tiny(seed=0, hparams=HP, **kwargs) -> tuple[nn.Module, TrainResult]:
    """Init with `init_seed`, then train with masks and augmentation (the resume tests' full run)."""
    init_seed(seed)
    model = Tiny()
    result = train(model, tiny_data(), hparams, seed=seed, augment=noise_augment, masks=half_mask(model),
                   **kwargs)
    return model, result


def assert_bitwise_equal(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def logs_without_time(result):
    return result.log.drop(columns="seconds")


class Interrupt(Exception):
    pass


def after_each_saved_epoch(monkeypatch, hook):
    """Call ``hook(epoch)`` right after `train` has saved an epoch's resume state (where a kill hurts most)."""
    def save_then_hook(state, path):
        save_torch(state, path)
        hook(state["epoch"])
    monkeypatch.setattr(training, "save_torch", save_then_hook)


def interrupt_after(k):
    def hook(epoch):
        if epoch == k:
            raise Interrupt
    return hook


# --- determinism ------------------------------------------------------------------------------------


def test_same_seed_bitwise_identical_and_different_seed_differs():
    m1, r1 = run_tiny(seed=0)
    m2, r2 = run_tiny(seed=0)
    assert_bitwise_equal(m1.state_dict(), m2.state_dict())
    assert_bitwise_equal(r1.best_state, r2.best_state)
    assert logs_without_time(r1).equals(logs_without_time(r2))
    m3, r3 = run_tiny(seed=1)
    assert not torch.equal(m1.classifier.weight, m3.classifier.weight)
    assert not logs_without_time(r1).equals(logs_without_time(r3))


def test_seed_fixes_data_order_independently_of_init():
    """Same initial weights, different train seed -> different result (order/augmentation)."""
    data = tiny_data()
    out = []
    for seed in (0, 1):
        init_seed(42)
        model = Tiny()
        out.append(train(model, data, HP, seed=seed).log)
    assert not out[0].drop(columns="seconds").equals(out[1].drop(columns="seconds"))


# --- best epoch (section 6.1) -----------------------------------------------------------------------


def test_best_state_is_lowest_validation_loss_epoch():
    hp = {**HP, "epochs": 10, "schedule": {"name": "constant"}}
    model, result = run_tiny(hparams=hp)
    log = result.log
    assert list(log.columns) == list(LOG_COLUMNS)
    assert log["epoch"].tolist() == list(range(1, 11))
    assert result.best_epoch == int(log.loc[log["val_loss"].idxmin(), "epoch"])
    assert result.best_val_loss == log["val_loss"].min()
    assert 1 < result.best_epoch < 10  # over-fitting: the test really selects a middle epoch

    # independent re-evaluation of the returned state on the whole validation split
    x_val, y_val = tiny_data()["val"]
    fresh = Tiny()
    fresh.load_state_dict(result.best_state)
    fresh.eval()
    with torch.no_grad():
        out = fresh(x_val)
    assert F.cross_entropy(out, y_val).item() == pytest.approx(result.best_val_loss, abs=1e-6)
    acc = (out.argmax(1) == y_val).double().mean().item()
    assert acc == pytest.approx(log.loc[log["epoch"] == result.best_epoch, "val_accuracy"].item())
    assert all(v.device.type == "cpu" for v in result.best_state.values())
    # the model itself keeps the last epoch's weights
    assert not torch.equal(model.classifier.weight, result.best_state["classifier.weight"])


def test_train_loss_is_sample_weighted_mean_with_partial_last_batch():
    """One epoch, lr 0: weights stay put, so the logged train loss is the loss of the initial model
    on all 100 samples (batches 32, 32, 32, 4 weighted by size)."""
    hp = {**HP, "epochs": 1, "lr": 1e-30, "momentum": 0.0, "weight_decay": 0.0}
    init_seed(0)
    model = Tiny()
    data = tiny_data()
    with torch.no_grad():
        expected = F.cross_entropy(model(data["train"][0]), data["train"][1]).item()
    result = train(model, data, hp, seed=0)
    assert result.log["train_loss"].item() == pytest.approx(expected, rel=1e-5)


# --- learning-rate schedules ------------------------------------------------------------------------


def test_multistep_lr_logged_per_epoch():
    """milestones [3, 6], gamma 0.5: epochs 1-3 at 0.1, 4-6 at 0.05, 7-8 at 0.025 (MultiStepLR)."""
    _, result = run_tiny()
    expected = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]
    assert result.log["lr"].tolist() == pytest.approx(expected, rel=1e-12)

    # same values as torch's own scheduler stepped once per epoch
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[3, 6], gamma=0.5)
    torch_lrs = []
    for _ in range(8):
        torch_lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert torch_lrs == pytest.approx(expected, rel=1e-12)


def test_constant_and_cosine_lr():
    hp = {**HP, "schedule": {"name": "cosine"}}
    assert lr_at(1, hp) == pytest.approx(0.1)
    assert lr_at(5, hp) == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 4 / 8)))
    assert lr_at(5, hp) == pytest.approx(0.05)
    hp = {**HP, "schedule": {"name": "constant"}}
    assert [lr_at(e, hp) for e in (1, 4, 8)] == [0.1, 0.1, 0.1]


# --- masks ------------------------------------------------------------------------------------------


def test_masked_weights_stay_exactly_zero_with_momentum_and_weight_decay():
    init_seed(0)
    model = Tiny()
    masks = half_mask(model)
    keep = masks["features.1.weight"]
    before = model.features[1].weight.detach().clone()
    hp = {**HP, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": True}
    result = train(model, tiny_data(), hp, seed=0, masks=masks)
    w = model.features[1].weight.detach()
    assert torch.all(w[~keep] == 0)
    assert torch.all(result.best_state["features.1.weight"][~keep] == 0)
    assert not torch.equal(w[keep], before[keep])  # the kept weights did train
    assert torch.count_nonzero(w[keep]) == keep.sum()


def test_mask_for_unknown_parameter_is_rejected():
    with pytest.raises(KeyError, match="nope.weight"):
        train(Tiny(), tiny_data(), HP, seed=0, masks={"nope.weight": torch.ones(3, dtype=torch.bool)})


# --- divergence -------------------------------------------------------------------------------------


def test_huge_learning_rate_raises_training_diverged(tmp_path):
    state = tmp_path / "state.pt"
    init_seed(0)
    with pytest.raises(TrainingDiverged, match=r"epoch 1\b.*learning rate") as err:
        train(Tiny(), tiny_data(), {**HP, "lr": 1e6}, seed=0, state_path=state)
    assert isinstance(err.value, RuntimeError)
    assert "1e+06" in str(err.value)
    assert not state.exists()


# --- resume -----------------------------------------------------------------------------------------


def test_resume_after_in_process_interruption_is_bitwise_identical(tmp_path, monkeypatch):
    ref_model, ref = run_tiny()
    state = tmp_path / "state.pt"
    after_each_saved_epoch(monkeypatch, interrupt_after(4))
    with pytest.raises(Interrupt):
        run_tiny(state_path=state)
    assert state.exists() and torch.load(state, weights_only=True)["epoch"] == 4
    epochs_seen = []
    after_each_saved_epoch(monkeypatch, epochs_seen.append)
    model, result = run_tiny(state_path=state)
    assert epochs_seen == [5, 6, 7, 8]
    assert_bitwise_equal(model.state_dict(), ref_model.state_dict())
    assert_bitwise_equal(result.best_state, ref.best_state)
    assert result.best_epoch == ref.best_epoch
    assert logs_without_time(result).equals(logs_without_time(ref))
    assert not state.exists()


SUBPROCESS_SCRIPT = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
import test_training as T

def save_then_wait(state, path):
    T.save_torch(state, path)
    if state["epoch"] == {k}:
        Path({marker!r}).write_text("saved")
        time.sleep(120)  # wait here to be SIGKILLed

T.training.save_torch = save_then_wait
T.run_tiny(state_path={state!r})
"""


def test_resume_after_sigkill_is_bitwise_identical(tmp_path):
    state, marker = tmp_path / "state.pt", tmp_path / "marker"
    script = SUBPROCESS_SCRIPT.format(tests=str(TESTS_DIR), k=3, marker=str(marker), state=str(state))
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "subprocess never reached epoch 3"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert torch.load(state, weights_only=True)["epoch"] == 3

    model, result = run_tiny(state_path=state)
    ref_model, ref = run_tiny()
    assert_bitwise_equal(model.state_dict(), ref_model.state_dict())
    assert_bitwise_equal(result.best_state, ref.best_state)
    assert logs_without_time(result).equals(logs_without_time(ref))
    assert not state.exists()


def test_state_with_other_fingerprint_is_ignored(tmp_path, caplog, monkeypatch):
    state = tmp_path / "state.pt"
    after_each_saved_epoch(monkeypatch, interrupt_after(2))
    with pytest.raises(Interrupt):
        run_tiny(seed=0, state_path=state)
    seen = []
    after_each_saved_epoch(monkeypatch, seen.append)
    with caplog.at_level(logging.WARNING, logger="recall_distortion.training"):
        model, result = run_tiny(seed=1, state_path=state)
    assert seen == list(range(1, 9))  # started over
    assert "ignoring training state" in caplog.text
    ref_model, _ = run_tiny(seed=1)
    assert_bitwise_equal(model.state_dict(), ref_model.state_dict())
    assert not state.exists()


# --- hyper-parameters -------------------------------------------------------------------------------


def test_missing_hparam_is_named():
    without_epochs = {k: v for k, v in HP.items() if k != "epochs"}
    with pytest.raises(ValueError, match="'epochs'"):
        train(Tiny(), tiny_data(), without_epochs, seed=0)


def test_schema_fills_every_default_train_needs():
    """The config schema is the one source of defaults: a config's minimal training block comes out
    with every key `train` requires, and bad values are rejected there, naming the key."""
    hp = complete_hparams({"epochs": 3, "batch_size": 16, "lr": 0.1})
    assert set(hp) == set(training.HPARAM_KEYS)
    assert hp["nesterov"] is False and hp["eval_batch_size"] == 1024 and hp["schedule"] == {"name": "constant"}
    assert hp["momentum"] == 0.9 and hp["weight_decay"] == 0.0
    for bad, key in [({"nesterov": True, "momentum": 0}, "momentum"), ({"batch_size": 0}, "batch_size"),
                     ({"eval_batch_size": 0}, "eval_batch_size"), ({"learning_rate": 0.1}, "learning_rate"),
                     ({"schedule": {"name": "multistep", "milestones": [2]}}, "gamma"),
                     ({"schedule": {"name": "constant", "gamma": 0.1}}, "gamma"),
                     ({"schedule": {"name": "linear"}}, "schedule")]:
        with pytest.raises(ValueError, match=key):
            complete_hparams({"epochs": 3, "batch_size": 16, "lr": 0.1, **bad})


def test_eval_batch_size_changes_memory_not_results():
    """Validation in pieces of 7 images: the same weights, and the same validation numbers up to the
    order of float summation."""
    model, whole = run_tiny(hparams={**HP, "eval_batch_size": 1024})
    pieces_model, pieces = run_tiny(hparams={**HP, "eval_batch_size": 7})
    assert_bitwise_equal(model.state_dict(), pieces_model.state_dict())
    pd.testing.assert_frame_equal(logs_without_time(whole), logs_without_time(pieces), rtol=1e-6)
