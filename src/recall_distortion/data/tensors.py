"""The tensor side: uint8 arrays become normalized float tensors, and CIFAR batches are augmented.

:func:`to_float_tensor` divides by 255, normalizes per channel with the spec's mean/std and resizes
bilinearly when the model's input size differs. :func:`augment_batch` is the standard CIFAR training
augmentation (random 32x32 crop of the 4-pixel zero-padded image + random horizontal flip), vectorised
over a whole batch on its device and driven by a ``torch.Generator`` so it is reproducible. torch is
imported inside the functions, so importing the package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recall_distortion.data.spec import DatasetSpec, dataset_spec

if TYPE_CHECKING:  # torch is imported inside the functions that need it (cheap module import)
    import torch

__all__ = ["augment_batch", "to_float_tensor"]


def to_float_tensor(x_uint8, spec: DatasetSpec | str, input_size: int | None = None, device="cpu") -> torch.Tensor:
    """Normalized float32 tensor (N, C, input_size, input_size) on ``device``.

    Pixels are divided by 255, then ``(x - mean[c]) / std[c]`` per channel with the spec's constants;
    when ``input_size`` differs from the stored size the images are resized with bilinear interpolation
    (``align_corners=False``). Bilinear weights sum to one, so normalizing before or after resizing gives
    the same result; normalizing first touches fewer pixels.

    ``input_size`` is the config's ``datasets.<name>.input_size`` (the stored size when unset). The 8x8
    ``digits`` must be upsampled for LeNet5: its two 5x5 convolutions, each followed by 2x2 pooling,
    need at least 16 pixels (16 -> 12 -> 6 -> 2 -> 1). The default config feeds them at their native
    8x8 to LeNet-300-100, which needs no upsampling (config/config.yaml says why).
    """
    import torch
    import torch.nn.functional as F

    spec = dataset_spec(spec) if isinstance(spec, str) else spec
    x = torch.as_tensor(x_uint8)
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] != spec.channels:
        raise ValueError(
            f"to_float_tensor expects uint8 (N, {spec.channels}, H, W) images for {spec.name}, "
            f"got {x.dtype} {tuple(x.shape)}"
        )
    x = x.to(device=device, non_blocking=True).to(torch.float32).div_(255.0)
    mean = torch.tensor(spec.mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    x = (x - mean) / std
    size = input_size or spec.image_size
    if (x.shape[2], x.shape[3]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.contiguous()


def augment_batch(x: torch.Tensor, generator: torch.Generator, padding: int = 4, flip: bool = True) -> torch.Tensor:
    """Random crop of the zero-padded image plus random horizontal flip, for a whole batch at once.

    Each sample is padded with ``padding`` zeros on every side, cropped back to its size at an offset
    drawn uniformly from ``0..2*padding`` in each direction, and mirrored left-right with probability
    1/2 (the CIFAR augmentation of He et al., 2016). The zeros are zeros of ``x`` itself: on a
    normalized tensor they are the channel mean. Randomness comes only from ``generator`` (offsets
    first, then flips, drawn on the generator's device and moved to ``x``'s), so a seed fixes the
    result. No Python loop over samples: a gather with per-sample index grids.
    """
    import torch
    import torch.nn.functional as F

    n, c, h, w = x.shape
    gdev = generator.device
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator, device=gdev).to(x.device)
    flips = (torch.rand(n, generator=generator, device=gdev) < 0.5).to(x.device)
    padded = F.pad(x, (padding, padding, padding, padding)) if padding else x
    hp, wp = h + 2 * padding, w + 2 * padding
    rows = offsets[:, :1] + torch.arange(h, device=x.device)  # (n, h)
    cols = offsets[:, 1:] + torch.arange(w, device=x.device)  # (n, w)
    if flip:
        cols = torch.where(flips[:, None], cols.flip(1), cols)
    index = (rows[:, :, None] * wp + cols[:, None, :]).reshape(n, 1, h * w).expand(n, c, h * w)
    return padded.reshape(n, c, hp * wp).gather(2, index).reshape(n, c, h, w)
