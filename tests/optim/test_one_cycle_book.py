"""The three-phase 1cycle of Hands-On ML ch. 11 (issue 20): the book's values."""

import numpy as np
import pytest

from chainrule import nn, optim


def _schedule(**kw):
    opt = optim.SGD(nn.Linear(2, 1).parameters(), lr=0.5)
    return opt, optim.OneCycleThreePhase(opt, 10_750, max_lr=0.1, **kw)


def test_book_values_for_10750_iterations():
    opt, s = _schedule()
    assert s.half_step == 4837 and s.last_steps == 1076
    assert s.get_lr(4837)[0] == pytest.approx(0.1, abs=1e-15)
    assert s.get_lr(9674)[0] == pytest.approx(0.01, abs=1e-15)
    assert s.get_lr(10749)[0] == pytest.approx(1.928e-5, rel=1e-3)
    assert s.get_lr(10749)[0] == pytest.approx(0.01 + (1e-5 - 0.01) * 1075 / 1076, abs=1e-15)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)  # step 0 applied at creation


def test_phases_are_linear_and_monotone():
    _, s = _schedule()
    lrs = np.array([s.get_lr(t)[0] for t in range(10_750)])
    assert np.all(np.diff(lrs[:4838]) > 0) and np.all(np.diff(lrs[4837:9675]) < 0)
    assert np.all(np.diff(lrs[9674:]) < 0)
    assert np.allclose(np.diff(lrs[:4837], 2), 0, atol=1e-15)


def test_stepping_and_state_dict():
    opt, s = _schedule()
    for _ in range(100):
        s.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(s.get_lr(100)[0])
    opt2, s2 = _schedule()
    s2.load_state_dict(s.state_dict())
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    with pytest.raises(ValueError, match="total_steps"):
        optim.OneCycleThreePhase(opt, 2)
