"""Gymnasium missing, unknown environment ids, continuous action spaces (issue 17)."""

import sys

import pytest

from chainrule.rl import make_env, require_gymnasium


def test_missing_gymnasium_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium", None)     # import gymnasium -> ImportError
    with pytest.raises(ImportError, match=r'pip install "chainrule\[rl\]"'):
        require_gymnasium()
    with pytest.raises(ImportError, match=r'pip install "chainrule\[rl\]"'):
        make_env("CartPole-v1")


def test_unknown_id_suggests_close_ones():
    pytest.importorskip("gymnasium", reason='needs pip install "chainrule[rl]"')
    with pytest.raises(ValueError, match="unknown Gymnasium environment 'CartPole-v9'.*"
                                         "CartPole-v1"):
        make_env("CartPole-v9")
