"""discount_rewards and discount_and_normalize_rewards: the book's exact values (issue 17)."""

import numpy as np
import pytest

from chainrule.rl import discount_and_normalize_rewards, discount_rewards


def test_discount_rewards_is_the_books():
    np.testing.assert_array_equal(discount_rewards([10, 0, -50], 0.8), [-22, -40, -50])


def test_discount_and_normalize_rewards_is_the_books():
    out = discount_and_normalize_rewards([[10, 0, -50], [10, 20]], 0.8)
    np.testing.assert_allclose(out[0], [-0.28435071, -0.86597718, -1.18910299], atol=1e-8)
    np.testing.assert_allclose(out[1], [1.26665318, 1.0727777], atol=1e-8)


def test_normalized_returns_have_zero_mean_and_unit_std():
    rng = np.random.default_rng(0)
    out = np.concatenate(discount_and_normalize_rewards(
        [rng.normal(size=n) for n in (3, 7, 1)], 0.95))
    assert out.mean() == pytest.approx(0, abs=1e-12) and out.std() == pytest.approx(1)


def test_edge_cases_and_bad_input():
    assert discount_rewards([], 0.9).shape == (0,)
    np.testing.assert_array_equal(discount_and_normalize_rewards([[1.0], [1.0]], 0.9)[0], [0.0])
    with pytest.raises(ValueError, match="discount_factor"):
        discount_rewards([1, 2], 1.5)
    with pytest.raises(ValueError, match="1-D"):
        discount_rewards([[1, 2]], 0.5)
    with pytest.raises(ValueError, match="no episodes"):
        discount_and_normalize_rewards([], 0.9)
