"""Fixtures of the data tests: a patched registry entry, and scikit-learn's digits as shipped."""

from __future__ import annotations

import dataclasses

import pytest

from recall_distortion.data import DATASETS


@pytest.fixture
def patched_spec(monkeypatch):
    """Replace fields of a registered spec for one test (specs are frozen: swap the registry entry)."""

    def patch(name: str, **fields):
        spec = dataclasses.replace(DATASETS[name], **fields)
        monkeypatch.setitem(DATASETS, name, spec)
        return spec

    return patch


@pytest.fixture(scope="module")
def digits_all():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images, bunch.target
