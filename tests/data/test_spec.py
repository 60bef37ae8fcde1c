"""Tests for recall_distortion.data.spec: the registry and its decorator, and the package's cheap import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from recall_distortion.data import spec
from recall_distortion.data.spec import DatasetError


def test_importing_the_package_does_not_import_sklearn_or_torch():
    code = "import sys, recall_distortion.data; print('sklearn' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_register_dataset_checks_each_entry(monkeypatch):
    registry = {}
    monkeypatch.setattr(spec, "DATASETS", registry)  # a private registry: the real one stays untouched
    fields = dict(name="toy", num_classes=3, channels=2, image_size=4, mean=(0.5, 0.4), std=(0.25, 0.2),
                  default_dir=None, files=())

    def reader(directory, s):
        raise AssertionError("registering must not read anything")

    assert spec.register_dataset(**fields)(reader) is reader
    assert registry["toy"].reader is reader and registry["toy"].channels == 2 and registry["toy"].std == (0.25, 0.2)
    assert spec.dataset_spec("toy") is registry["toy"]
    with pytest.raises(ValueError, match="'toy' registered twice"):
        spec.register_dataset(**fields)(reader)
    with pytest.raises(ValueError, match="'toy2': mean/std need one value per channel"):
        spec.register_dataset(**(fields | {"name": "toy2", "std": (0.25,)}))(reader)
    assert list(registry) == ["toy"]
    with pytest.raises(DatasetError, match=r"unknown dataset 'toyz'; choose one of \['toy'\]"):
        spec.dataset_spec("toyz")
