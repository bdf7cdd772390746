"""REINFORCE: the batched gradient equals the book's per-step accumulation; bad input."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.rl import PolicyAgent, ReinforceConfig, discount_and_normalize_rewards

gym = pytest.importorskip("gymnasium", reason='chainrule.rl needs pip install "chainrule[rl]"')

from chainrule.rl import train_reinforce  # noqa: E402


@pytest.mark.parametrize("n_actions", [2, 4])
def test_batched_loss_gradient_equals_the_books_mean_of_weighted_step_gradients(n_actions):
    cr.manual_seed(0)
    agent = PolicyAgent(4, n_actions, hidden=(5,))
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(7, 4)).astype(np.float32)
    actions = rng.integers(0, n_actions, size=7)
    rewards = [rng.normal(size=3), rng.normal(size=4)]
    weights = np.concatenate(discount_and_normalize_rewards(rewards, 0.95))
    params = agent.network.parameters()
    agent.loss(obs, actions, weights).backward()
    batched = [p.grad.data.copy() for p in params]
    # the book: gradient of -log pi(a_t|s_t) for each step alone, times its return, averaged
    total = [np.zeros_like(b) for b in batched]
    for t in range(7):
        for p in params:
            p.grad = None
        agent.loss(obs[t:t + 1], actions[t:t + 1], np.ones(1)).backward()
        for acc, p in zip(total, params):
            acc += weights[t] * p.grad.data / 7
    for b, ref in zip(batched, total):
        np.testing.assert_allclose(b, ref, rtol=1e-5, atol=1e-6)


def test_two_action_policy_is_the_books_sigmoid_of_action_zero():
    cr.manual_seed(0)
    agent = PolicyAgent(4, 2)
    obs = np.ones((3, 4), np.float32)
    z = agent.network(obs).data[:, 0]
    p = agent.probabilities(obs)
    np.testing.assert_allclose(p[:, 0], 1 / (1 + np.exp(-z)), rtol=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)


@pytest.mark.parametrize("n_actions", [2, 3])
def test_sampled_actions_follow_the_probabilities(n_actions):
    cr.manual_seed(0)
    agent = PolicyAgent(2, n_actions, hidden=(4,))
    agent.network[0].bias.data += 0.5                 # away from p = 1/2
    obs = np.zeros((20000, 2), np.float32)
    counts = np.bincount(agent.act(obs, np.random.default_rng(0)), minlength=n_actions)
    np.testing.assert_allclose(counts / 20000, agent.probabilities(obs[:1])[0], atol=0.01)
    assert agent.act(obs[:1])[0] == agent.probabilities(obs[:1])[0].argmax()


def test_a_few_iterations_on_cartpole_run_and_are_repeatable():
    cfg = ReinforceConfig(iterations=3, episodes=4, max_steps=50, seed=3)
    a1, h1 = train_reinforce("CartPole-v1", cfg)
    a2, h2 = train_reinforce("CartPole-v1", cfg)
    assert len(h1["mean_rewards"]) == 3 and len(h1["episode_rewards"]) == 12
    assert h1["mean_rewards"] == h2["mean_rewards"]
    for k, v in a1.network.state_dict().items():
        np.testing.assert_array_equal(v, a2.network.state_dict()[k])


def test_bad_environments_are_refused_with_what_was_expected():
    with pytest.raises(ValueError, match="unknown Gymnasium environment 'CartPol-v9'"):
        train_reinforce("CartPol-v9", ReinforceConfig(iterations=1))
    with pytest.raises(ValueError, match="discrete action space.*Pendulum-v1"):
        train_reinforce("Pendulum-v1", ReinforceConfig(iterations=1))
    with pytest.raises(ValueError, match="iterations must be a positive integer"):
        ReinforceConfig(iterations=0)


def test_softmax_policy_runs_on_lunar_lander():
    pytest.importorskip("Box2D", reason='LunarLander needs pip install "gymnasium[box2d]"')
    cfg = ReinforceConfig(iterations=1, episodes=2, max_steps=30, discount=0.99, lr=0.005,
                          optimizer="nadam", hidden=(32, 32), activation="relu")
    agent, hist = train_reinforce("LunarLander-v3", cfg)
    assert agent.n_actions == 4 and len(hist["episode_rewards"]) == 2
