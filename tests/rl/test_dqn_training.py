"""train_dqn on CartPole: runs, is repeatable, restores its best validation weights."""

import numpy as np
import pytest

pytest.importorskip("gymnasium", reason='chainrule.rl needs pip install "chainrule[rl]"')

from chainrule.rl import DQNConfig, make_env, run_episodes, train_dqn  # noqa: E402

SMALL = dict(steps=600, hidden=(16,), learning_starts=100, val_every=200, val_episodes=2,
             max_episode_steps=100, batch_size=16)


@pytest.mark.parametrize("extra", [{"tau": None}, {"double": True, "tau": 0.1},
                                   {"dueling": True, "prioritized": True, "loss": "mse"}])
def test_short_runs_are_repeatable_and_restore_the_best_validation_weights(extra):
    cfg = DQNConfig(seed=1, **SMALL, **extra)
    a1, h1 = train_dqn("CartPole-v1", cfg)
    a2, h2 = train_dqn("CartPole-v1", cfg)
    assert h1["episode_rewards"] == h2["episode_rewards"] and h1["validation"]
    assert h1["validation"] == h2["validation"]
    scores = [s for _, s in h1["validation"]]
    assert h1["best_step"] == h1["validation"][int(np.argmax(scores))][0]
    envs = [make_env("CartPole-v1") for _ in range(2)]
    again = run_episodes(envs, a1.act, [1_000_000, 1_000_001], 100)
    assert np.mean([e.total_reward for e in again]) == max(scores)


def test_a_continuous_action_space_is_refused():
    with pytest.raises(ValueError, match="DQN needs a discrete action space.*Pendulum-v1"):
        train_dqn("Pendulum-v1", DQNConfig(steps=10))
