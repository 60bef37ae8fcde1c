"""Fixtures: the synthetic study of :mod:`tests.analysis.synthetic` (planted effects, all family kinds)."""

from __future__ import annotations

import pytest

from tests.analysis.synthetic import FAMILIES, make_alpha


@pytest.fixture(scope="session")
def families():
    return FAMILIES


@pytest.fixture(scope="session")
def alpha():
    return make_alpha()
