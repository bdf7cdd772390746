"""Fixtures shared by the tests of chainrule.nn."""

import pytest

import chainrule as cr


@pytest.fixture
def float64():
    """Default dtype float64 for the test (parameters made inside it), float32 after."""
    cr.set_default_dtype("float64")
    yield
    cr.set_default_dtype("float32")
