"""The shared gradcheck block for a table of cases (``import gradchecks`` from any test:
pytest puts tests/ on sys.path beside its conftest.py)."""

import pytest

import chainrule as cr
from chainrule.autograd import ops


def gradcheck_tests(cases, covered):
    """The tests of a case table (name -> (function, inputs)): first and second order,
    reverse and forward mode; and that the primitives it covers (``covered``, the names the
    table's gradchecks count for tests/autograd/test_rules.py's COVERAGE) are registered
    differentiable primitives. Use: ``test_first_order, test_second_order,
    test_covered_primitives_are_registered = gradcheck_tests(CASES, COVERED)``."""

    @pytest.mark.parametrize("name", sorted(cases))
    def test_first_order(name):
        f, inputs = cases[name]
        assert cr.gradcheck(f, inputs)

    @pytest.mark.parametrize("name", sorted(cases))
    def test_second_order(name):
        f, inputs = cases[name]
        assert cr.gradgradcheck(f, inputs, atol=1e-4)

    def test_covered_primitives_are_registered():
        assert covered <= {n for n, p in ops.PRIMITIVES.items() if p.differentiable}

    return test_first_order, test_second_order, test_covered_primitives_are_registered
