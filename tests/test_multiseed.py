"""Tests for multiseed.py: K seeds trained together equal K separate `training.train` runs (section 6.1
protocol: data order, augmentation, SGD with momentum and weight decay, masks held, BatchNorm
statistics, best-validation-loss epoch), plus resume. CPU, tiny."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from recall_distortion.data import augment_batch
from recall_distortion.models import build_model
from recall_distortion.multiseed import train_many
from recall_distortion.training import TrainingDiverged, init_seed, train
from tests.configs import complete_hparams
from tests.test_training import HP, Tiny, assert_bitwise_equal, logs_without_time, noise_augment, tiny_data

SEEDS = [0, 1, 2]


def seed_mask(model: nn.Module, seed: int) -> dict:
    """A different random half of features.1.weight for every seed."""
    w = model.features[1].weight
    return {"features.1.weight": torch.rand(w.shape, generator=torch.Generator().manual_seed(100 + seed)) < 0.5}


def assert_states_close(a: dict, b: dict, atol: float):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=atol, rtol=0, msg=k)


def tiny_models(seeds=SEEDS) -> list[nn.Module]:
    models = []
    for seed in seeds:
        init_seed(seed)
        models.append(Tiny())
    return models


def test_seeds_trained_together_equal_separate_train_calls():
    # float32 Tiny, multistep schedule, momentum, weight decay, per-seed masks and augmentation.
    separate = []
    for seed, model in zip(SEEDS, tiny_models()):
        separate.append((model, train(model, tiny_data(), HP, seed=seed, augment=noise_augment,
                                      masks=seed_mask(model, seed))))
    together = tiny_models()
    results = train_many(together, tiny_data(), HP, seeds=SEEDS, augment=noise_augment,
                         masks=[seed_mask(m, s) for m, s in zip(together, SEEDS)])
    assert len(results) == len(SEEDS)
    for seed, (model, ref), got_model, got in zip(SEEDS, separate, together, results):
        assert got.best_epoch == ref.best_epoch
        assert got.best_val_loss == pytest.approx(ref.best_val_loss, abs=1e-5)
        assert_states_close(got.best_state, ref.best_state, atol=1e-5)
        assert_states_close(got_model.state_dict(), model.state_dict(), atol=1e-5)  # left at the last epoch
        assert logs_without_time(got).columns.tolist() == logs_without_time(ref).columns.tolist()
        torch.testing.assert_close(torch.tensor(logs_without_time(got).values),
                                   torch.tensor(logs_without_time(ref).values), atol=1e-5, rtol=0)
        pruned = ~seed_mask(got_model, seed)["features.1.weight"]
        for weights in (got.best_state["features.1.weight"], got_model.features[1].weight.detach()):
            assert torch.equal(weights[pruned], torch.zeros(int(pruned.sum())))  # exactly zero, per seed


def test_each_seed_draws_its_own_data_order():
    # Two copies of one initialisation: only the seeds (data order, augmentation) can separate them.
    def twins():
        init_seed(7)
        pair = [Tiny(), Tiny()]
        pair[1].load_state_dict(pair[0].state_dict())
        return pair

    hp = {**HP, "epochs": 2}
    different = train_many(twins(), tiny_data(), hp, seeds=[3, 4], augment=noise_augment)
    weights = [result.best_state["classifier.weight"] for result in different]
    assert not torch.allclose(weights[0], weights[1])
    same = train_many(twins(), tiny_data(), hp, seeds=[3, 3], augment=noise_augment)
    assert_bitwise_equal(same[0].best_state, same[1].best_state)


def resnet_data() -> dict:
    """16 training and 8 validation CIFAR-shaped images in float64 (see the BatchNorm test)."""
    g = torch.Generator().manual_seed(0)

    def split(n):
        return torch.randn(n, 3, 32, 32, generator=g, dtype=torch.float64), torch.randint(0, 10, (n,), generator=g)

    return {"train": split(16), "val": split(8)}


def test_resnet_batchnorm_statistics_and_augmentation_per_seed():
    # ResNet-20, batch 8 (2 steps per epoch), 2 epochs, Nesterov, data.augment_batch. In float64:
    # on random images with 8-image BatchNorm batches, float32 rounding differences between batched and
    # single kernels grow over a few steps, which would hide a real mistake; float64 shows the two
    # computations are the same (agreement to 1e-9, while e.g. a wrong data order is off by O(1)).
    hp = complete_hparams({"epochs": 2, "batch_size": 8, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": True,
                   "schedule": {"name": "multistep", "milestones": [1], "gamma": 0.1}})
    seeds = [0, 1]  # two show per-seed statistics; float64 convolutions are slow on a CPU

    def resnets():
        out = []
        for seed in seeds:
            init_seed(seed)
            out.append(build_model("resnet20", 10, 3, 32).double())
        return out

    separate = [(m, train(m, resnet_data(), hp, seed=s, augment=augment_batch)) for s, m in zip(seeds, resnets())]
    together = resnets()
    results = train_many(together, resnet_data(), hp, seeds=seeds, augment=augment_batch)
    for (model, ref), got_model, got in zip(separate, together, results):
        assert got.best_epoch == ref.best_epoch
        assert_states_close(got.best_state, ref.best_state, atol=1e-9)
        final = got_model.state_dict()
        assert_states_close(final, model.state_dict(), atol=1e-9)  # running_mean/var and counters included
        assert int(final["bn1.num_batches_tracked"]) == 4
    means = [m.bn1.running_mean for m in together]
    assert not torch.allclose(means[0], means[1])  # statistics are per seed, not shared


def test_divergence_names_the_seed():
    with pytest.raises(TrainingDiverged, match=r"^seed 5: training diverged at epoch 1\b.*learning rate"):
        train_many(tiny_models([5, 6]), tiny_data(), {**HP, "lr": 1e6}, seeds=[5, 6])


def test_argument_counts_must_match():
    with pytest.raises(ValueError, match="one seed"):
        train_many(tiny_models([0, 1]), tiny_data(), HP, seeds=[0])
    models = tiny_models([0, 1])
    with pytest.raises(ValueError, match="same parameters"):
        train_many(models, tiny_data(), HP, seeds=[0, 1], masks=[seed_mask(models[0], 0), {}])


class Interrupt(Exception):
    pass


class AugmentThenFail:
    """noise_augment that counts its calls and raises at call number `fail_at`: a kill mid-epoch."""

    def __init__(self, fail_at: int | None = None):
        self.fail_at, self.calls = fail_at, 0

    def __call__(self, x, generator):
        self.calls += 1
        if self.calls == self.fail_at:
            raise Interrupt
        return noise_augment(x, generator)


def test_resume_after_interruption_is_bitwise_identical(tmp_path):
    hp = {**HP, "epochs": 4}
    reference_models = tiny_models()
    reference = train_many(reference_models, tiny_data(), hp, seeds=SEEDS, augment=AugmentThenFail(),
                           masks=[seed_mask(m, s) for m, s in zip(reference_models, SEEDS)])
    state = tmp_path / "group.state.pt"
    steps_per_epoch = 4  # 100 samples, batch 32
    with pytest.raises(Interrupt):  # dies in epoch 3, after epoch 2's state was saved
        models = tiny_models()
        fail = AugmentThenFail(fail_at=len(SEEDS) * (2 * steps_per_epoch + 1))  # K calls per step
        train_many(models, tiny_data(), hp, seeds=SEEDS, augment=fail,
                   masks=[seed_mask(m, s) for m, s in zip(models, SEEDS)], state_path=state)
    assert torch.load(state, weights_only=True)["epoch"] == 2
    models, counting = tiny_models(), AugmentThenFail()
    resumed = train_many(models, tiny_data(), hp, seeds=SEEDS, augment=counting,
                         masks=[seed_mask(m, s) for m, s in zip(models, SEEDS)], state_path=state)
    assert counting.calls == len(SEEDS) * 2 * steps_per_epoch  # epochs 3 and 4 only: it resumed
    assert not state.exists()
    for ref_model, ref, model, got in zip(reference_models, reference, models, resumed):
        assert_bitwise_equal(got.best_state, ref.best_state)
        assert_bitwise_equal(model.state_dict(), ref_model.state_dict())
        assert logs_without_time(got).equals(logs_without_time(ref))
