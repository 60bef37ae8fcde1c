"""Tests for recall_distortion.data.tensors: normalization and resize by hand, augmentation crop by crop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recall_distortion.data.spec import DATASETS
from recall_distortion.data.tensors import augment_batch, to_float_tensor


def all_crops(x: torch.Tensor, padding: int = 4) -> torch.Tensor:
    """Every crop (n, 2*padding+1, 2*padding+1, c, h, w) of the zero-padded images, by explicit slicing."""
    n, c, h, w = x.shape
    p = torch.nn.functional.pad(x, (padding,) * 4)
    k = 2 * padding + 1
    return torch.stack([torch.stack([p[:, :, i:i + h, j:j + w] for j in range(k)], 1) for i in range(k)], 1)


def test_augment_batch_crops_and_flips():
    x = torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = augment_batch(x, torch.Generator().manual_seed(7))
    assert out.shape == x.shape and out.dtype == x.dtype
    crops = all_crops(x)  # (64, 9, 9, 3, 32, 32)
    n_flipped, offsets = 0, set()
    for i in range(64):  # each output is exactly one crop, possibly mirrored
        plain = (crops[i] == out[i]).flatten(2).all(-1).nonzero().tolist()
        mirrored = (crops[i].flip(-1) == out[i]).flatten(2).all(-1).nonzero().tolist()
        assert len(plain) + len(mirrored) == 1
        (dy, dx), = plain or mirrored
        offsets.add((dy, dx))
        if mirrored:
            n_flipped += 1
            assert torch.equal(out[i], torch.flip(crops[i, dy, dx], dims=[-1]))
    assert 16 <= n_flipped <= 48  # Binomial(64, 1/2): well within 4 sd
    assert len(offsets) > 20  # offsets spread over the 81 possibilities

    same = augment_batch(x, torch.Generator().manual_seed(7))
    other = augment_batch(x, torch.Generator().manual_seed(8))
    assert torch.equal(out, same) and not torch.equal(out, other)


def test_augment_batch_pads_with_zeros():
    x = torch.ones(32, 1, 32, 32)
    out = augment_batch(x, torch.Generator().manual_seed(3))
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    ones_per_sample = out.sum(dim=(1, 2, 3))
    assert (ones_per_sample < 1024).any()  # some crops are shifted, so zeros appear
    for img in out[:, 0]:  # the ones form one (32-|dy|) x (32-|dx|) rectangle, |dy|, |dx| <= 4
        rows, cols = img.any(1).nonzero().ravel(), img.any(0).nonzero().ravel()
        height, width = len(rows), len(cols)
        assert 28 <= height <= 32 and 28 <= width <= 32
        assert rows[-1] - rows[0] + 1 == height and cols[-1] - cols[0] + 1 == width
        assert img.sum() == height * width
    flip_only = augment_batch(x[:4] * torch.arange(32.0), torch.Generator().manual_seed(0), padding=0)
    for img, src in zip(flip_only, x[:4] * torch.arange(32.0)):
        assert torch.equal(img, src) or torch.equal(img, src.flip(-1))


def test_to_float_tensor_normalization_by_hand():
    x = np.array([0, 255, 128, 51], dtype=np.uint8).reshape(1, 1, 2, 2)
    got = to_float_tensor(x, DATASETS["mnist"], input_size=2, device="cpu")
    expected = [(v - 0.1307) / 0.3081 for v in (0.0, 1.0, 128 / 255, 0.2)]  # 51 / 255 = 0.2
    assert got.dtype == torch.float32 and got.shape == (1, 1, 2, 2)
    np.testing.assert_allclose(got.ravel().numpy(), expected, rtol=1e-6)

    rgb = np.zeros((2, 3, 32, 32), dtype=np.uint8)
    rgb[:, 1] = 255
    got = to_float_tensor(rgb, "cifar10", input_size=32)
    np.testing.assert_allclose(got[:, 0].unique().numpy(), [-0.4914 / 0.2470], rtol=1e-6)
    np.testing.assert_allclose(got[:, 1].unique().numpy(), [(1 - 0.4822) / 0.2435], rtol=1e-6)
    np.testing.assert_allclose(got[:, 2].unique().numpy(), [-0.4465 / 0.2616], rtol=1e-6)


def test_to_float_tensor_resizes_bilinearly():
    x = np.zeros((5, 1, 8, 8), dtype=np.uint8)
    got = to_float_tensor(x, DATASETS["digits"], input_size=28)
    assert got.shape == (5, 1, 28, 28)
    np.testing.assert_allclose(got.numpy(), -0.30566 / 0.37595, rtol=1e-6)  # constant stays constant

    # 2 -> 4 px with align_corners=False: output pixel centres map to source x = (i + 0.5) / 2 - 0.5
    # = -0.25, 0.25, 0.75, 1.25, clamped to [0, 1]: weights of the right pixel 0, 0.25, 0.75, 1.
    two = np.array([[0, 255], [0, 255]], dtype=np.uint8).reshape(1, 1, 2, 2)
    got = to_float_tensor(two, DATASETS["mnist"], input_size=4)
    row = (np.array([0.0, 0.25, 0.75, 1.0]) - 0.1307) / 0.3081
    np.testing.assert_allclose(got[0, 0].numpy(), np.tile(row, (4, 1)), rtol=1e-5, atol=1e-6)


def test_to_float_tensor_rejects_wrong_input():
    with pytest.raises(ValueError, match="uint8"):
        to_float_tensor(np.zeros((1, 1, 8, 8), np.float32), DATASETS["digits"], 28)
    with pytest.raises(ValueError, match="uint8 \\(N, 3"):
        to_float_tensor(np.zeros((1, 1, 32, 32), np.uint8), DATASETS["cifar10"], 32)
