"""Shared fixtures of the engine tests."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


@pytest.fixture
def float64():
    """Python floats become float64 inside the test (``cr.set_default_dtype``), restored after."""
    saved = cr.get_default_dtype()
    cr.set_default_dtype(np.float64)
    yield
    cr.set_default_dtype(saved)
