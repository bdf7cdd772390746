"""chainrule train --model reinforce|dqn... and chainrule play (issue 17)."""

import sys

import numpy as np
import pytest

from chainrule.cli import main

pytest.importorskip("gymnasium", reason='chainrule.rl needs pip install "chainrule[rl]"')


def _train(tmp_path, model, *extra):
    out = tmp_path / model
    argv = ["train", "--model", model, "--out", str(out), "--eval-episodes", "3", "--quiet",
            *extra]
    return main(argv), out


def test_train_reinforce_writes_agent_rewards_and_curve_then_play_makes_a_gif(tmp_path, capsys):
    rc, out = _train(tmp_path, "reinforce", "--iterations", "2", "--episodes", "3")
    assert rc == 0
    assert (out / "agent.npz").exists() and (out / "rewards.png").exists()
    lines = (out / "rewards.csv").read_text().splitlines()
    assert lines[0] == "episode,reward" and len(lines) == 1 + 6
    assert "greedy mean reward over 3 episodes" in capsys.readouterr().out
    pytest.importorskip("PIL", reason="--gif needs Pillow")
    gif = tmp_path / "play.gif"
    assert main(["play", "--checkpoint", str(out / "agent.npz"), "--episodes", "2",
                 "--gif", str(gif)]) == 0
    from PIL import Image

    with Image.open(gif) as im:
        assert im.n_frames > 1 and np.asarray(im.convert("RGB")).std() > 0
    assert "reinforce on CartPole-v1: mean reward" in capsys.readouterr().out


@pytest.mark.parametrize("model", ["dqn", "double-dqn", "dueling-dqn"])
def test_train_dqn_variants_write_an_agent_of_their_kind(tmp_path, model):
    from chainrule.rl import load_agent

    rc, out = _train(tmp_path, model, "--steps", "300")
    assert rc == 0
    assert load_agent(out / "agent.npz").kind == model
    with pytest.raises(Exception, match=f"a {model} agent, expected reinforce"):
        load_agent(out / "agent.npz", kinds=["reinforce"])


def test_bad_input_is_one_line_naming_what_was_expected(tmp_path, capsys):
    assert _train(tmp_path, "dqn", "--env", "Pendulum-v1")[0] == 2
    assert "discrete action space" in capsys.readouterr().err
    assert _train(tmp_path, "reinforce", "--env", "CartPol-v1")[0] == 2
    assert "unknown Gymnasium environment 'CartPol-v1'" in capsys.readouterr().err
    rc, out = _train(tmp_path, "reinforce", "--iterations", "1", "--episodes", "2")
    assert rc == 0
    capsys.readouterr()
    assert main(["play", "--checkpoint", str(out / "agent.npz"), "--env", "Acrobot-v1"]) == 2
    assert "trained on CartPole-v1, expected one for Acrobot-v1" in capsys.readouterr().err
    other = tmp_path / "other.npz"
    import chainrule as cr

    cr.save({"model": {"w": np.zeros(2)}}, other)
    assert main(["play", "--checkpoint", str(other)]) == 2
    assert "not a reinforcement-learning agent checkpoint" in capsys.readouterr().err
    assert main(["play", "--checkpoint", str(out / "agent.npz"), "--gif", "x.png"]) == 2
    assert "ending in .gif" in capsys.readouterr().err


def test_missing_gymnasium_is_one_line_naming_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium", None)
    assert _train(tmp_path, "reinforce")[0] == 2
    assert 'pip install "chainrule[rl]"' in capsys.readouterr().err
