"""Registry of architectures (paper section 6.1: LeNet5 and the CIFAR ResNet-{20,32,44,56,110}; and
LeNet-300-100, the default study's model on 8x8 digits).

``MODELS`` maps a model name to a builder ``fn(num_classes, in_channels, input_size) -> nn.Module``.
Adding an architecture is one function decorated with ``@register_model("name")`` in a module that
this package imports below. Every built model exposes ``model.classifier``: its last ``nn.Linear``,
which the pruning module never prunes (``pruning.prunable_parameters``).
"""

from __future__ import annotations

from typing import Callable

from torch import nn

ModelBuilder = Callable[[int, int, int], nn.Module]

MODELS: dict[str, ModelBuilder] = {}


def register_model(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator: ``@register_model("lenet5")`` puts the decorated builder into ``MODELS``."""

    def decorator(fn: ModelBuilder) -> ModelBuilder:
        if name in MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        MODELS[name] = fn
        return fn

    return decorator


def build_model(name: str, num_classes: int, in_channels: int = 1, input_size: int = 28) -> nn.Module:
    """Build architecture ``name`` for ``num_classes`` classes and (in_channels, input_size²) inputs.

    Initialisation draws from torch's global RNG, so the same ``torch.manual_seed`` gives the same
    weights. The returned module has ``.classifier`` (its last ``nn.Linear``).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; registered models: {sorted(MODELS)}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    if in_channels < 1:
        raise ValueError(f"in_channels must be at least 1, got {in_channels}")
    model = MODELS[name](num_classes, in_channels, input_size)
    classifier = getattr(model, "classifier", None)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not isinstance(classifier, nn.Linear) or not linears or linears[-1] is not classifier:
        raise TypeError(f"model {name!r} must expose its last nn.Linear as .classifier")
    return model


# The architecture modules register themselves on import; they import ``register_model`` from this
# (already partially initialised) package, so these imports must stay below the registry.
from recall_distortion.models import lenet as lenet  # noqa: E402
from recall_distortion.models import mlp as mlp  # noqa: E402
from recall_distortion.models import resnet_cifar as resnet_cifar  # noqa: E402

__all__ = ["MODELS", "ModelBuilder", "build_model", "register_model"]
