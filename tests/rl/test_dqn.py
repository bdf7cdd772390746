"""DQN family: replay buffers, ε schedule, targets (DQN/Double), losses against PyTorch,
target-network updates, the dueling head, best-weights restore, bad input (issue 17)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.rl import (
    DQNAgent,
    DQNConfig,
    DuelingQNetwork,
    PrioritizedReplayBuffer,
    ReplayBuffer,
    epsilon_schedule,
)


def _fill(buf, n, rng):
    for i in range(n):
        buf.add(rng.normal(size=4), i % 2, float(i), rng.normal(size=4), i % 5 == 0)


def test_replay_buffer_is_a_ring_and_samples_what_was_stored():
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(10, 4)
    _fill(buf, 25, rng)
    assert len(buf) == 10
    assert sorted(buf.rewards.tolist()) == list(range(15, 25))   # the 10 newest
    b = buf.sample(32, rng)
    assert b.obs.shape == (32, 4) and b.next_obs.shape == (32, 4)
    np.testing.assert_array_equal(b.rewards, buf.rewards[b.indices])
    np.testing.assert_array_equal(b.weights, 1)
    np.testing.assert_array_equal(b.dones, buf.dones[b.indices])


def test_prioritized_replay_samples_in_proportion_to_priority_and_weights_it():
    rng = np.random.default_rng(0)
    buf = PrioritizedReplayBuffer(4, 4, alpha=1.0, beta=1.0, eps=0.0)
    _fill(buf, 4, rng)
    buf.update_priorities(np.arange(4), np.array([1.0, 2.0, 3.0, 4.0]))
    counts = np.zeros(4)
    for _ in range(500):
        counts += np.bincount(buf.sample(64, rng).indices, minlength=4)
    np.testing.assert_allclose(counts / counts.sum(), [0.1, 0.2, 0.3, 0.4], atol=0.01)
    b = buf.sample(64, rng)
    p = np.array([0.1, 0.2, 0.3, 0.4])[b.indices]
    expected = (4 * p) ** -1.0
    np.testing.assert_allclose(b.weights, expected / expected.max(), rtol=1e-6)


def test_new_transitions_get_the_largest_priority_seen():
    buf = PrioritizedReplayBuffer(8, 4)
    _fill(buf, 2, np.random.default_rng(0))
    buf.update_priorities(np.array([0]), np.array([5.0]))
    i = buf.add(np.zeros(4), 0, 0.0, np.zeros(4), False)
    assert buf.priorities[i] == pytest.approx(5.0 + buf.eps)


def test_epsilon_schedule_is_linear_then_flat():
    eps = epsilon_schedule(1.0, 0.1, 100)
    assert eps(0) == 1.0 and eps(50) == pytest.approx(0.55) and eps(100) == pytest.approx(0.1)
    assert eps(10_000) == pytest.approx(0.1)


def _agent(**kw):
    cr.manual_seed(0)
    return DQNAgent(4, 3, DQNConfig(hidden=(8, 8), gamma=0.9, **kw))


@pytest.mark.parametrize("double", [False, True])
def test_targets_are_the_dqn_and_double_dqn_formulas(double):
    agent = _agent(double=double)
    agent.network[0].weight.data += 0.3          # the online net differs from the target
    rng = np.random.default_rng(1)
    nxt = rng.normal(size=(6, 4)).astype(np.float32)
    r = rng.normal(size=6).astype(np.float32)
    done = np.array([0, 1, 0, 0, 1, 0], np.float32)
    q_target = agent.target(nxt).data
    if double:
        v = q_target[np.arange(6), agent.network(nxt).data.argmax(1)]
    else:
        v = q_target.max(1)
    np.testing.assert_allclose(agent.targets(r, nxt, done), r + 0.9 * (1 - done) * v, rtol=1e-6)


@pytest.mark.parametrize("loss", ["huber", "mse"])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_and_gradients_match_pytorch(loss, weighted):
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle (chainrule[oracle])")
    agent = _agent(loss=loss)
    rng = np.random.default_rng(2)
    obs = rng.normal(size=(5, 4)).astype(np.float32)
    actions = rng.integers(0, 3, 5)
    y = (rng.normal(size=5) * 3).astype(np.float32)
    w = rng.random(5).astype(np.float32) if weighted else None
    value, td = agent.loss(obs, actions, y, w)
    value.backward()
    lin = [m for m in agent.network if hasattr(m, "weight")]
    tl = [torch.nn.Linear(m.in_features, m.out_features) for m in lin]
    with torch.no_grad():
        for t, m in zip(tl, lin):
            t.weight.copy_(torch.from_numpy(m.weight.data))
            t.bias.copy_(torch.from_numpy(m.bias.data))
    net = torch.nn.Sequential(tl[0], torch.nn.ReLU(), tl[1], torch.nn.ReLU(), tl[2])
    q = net(torch.from_numpy(obs)).gather(1, torch.from_numpy(actions)[:, None])[:, 0]
    fn = torch.nn.functional.huber_loss if loss == "huber" else torch.nn.functional.mse_loss
    per = fn(q, torch.from_numpy(y), reduction="none")
    ref = (per * torch.from_numpy(w)).mean() if weighted else per.mean()
    ref.backward()
    assert float(value.data) == pytest.approx(float(ref.detach()), rel=1e-5)
    np.testing.assert_allclose(td, q.detach().numpy() - y, rtol=1e-5, atol=1e-6)
    for t, m in zip(tl, lin):
        np.testing.assert_allclose(m.weight.grad.data, t.weight.grad.numpy(), rtol=1e-4,
                                   atol=1e-6)


def test_hard_and_soft_target_updates():
    agent = _agent()
    before = [t.data.copy() for t in agent.target.parameters()]
    for p in agent.network.parameters():
        p.data += 1.0
    agent.sync_target(tau=0.25)
    for b, t in zip(before, agent.target.parameters()):
        np.testing.assert_allclose(t.data, b + 0.25, rtol=1e-6)
    agent.sync_target()
    for p, t in zip(agent.network.parameters(), agent.target.parameters()):
        np.testing.assert_array_equal(t.data, p.data)


def test_dueling_head_averages_to_the_value():
    cr.manual_seed(0)
    net = DuelingQNetwork(4, 3, hidden=(8,))
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    q = net(x).data
    v = net.value(net.trunk(x)).data[:, 0]
    np.testing.assert_allclose(q.mean(axis=1), v, rtol=1e-5, atol=1e-6)


def test_epsilon_greedy_explores_at_the_rate_asked():
    agent = _agent()
    obs = np.zeros((20000, 4), np.float32)
    greedy = agent.act(obs[:1])[0]
    acts = agent.act(obs, 0.3, np.random.default_rng(0))
    assert (acts != greedy).mean() == pytest.approx(0.3 * 2 / 3, abs=0.01)


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="loss must be 'huber' or 'mse'"):
        DQNConfig(loss="l1")
    with pytest.raises(ValueError, match="tau must be in"):
        DQNConfig(tau=0.0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        DQNConfig(batch_size=0)
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(0, 4)
