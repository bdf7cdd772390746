"""The policy-gradient loss in few primitives is the book's cross-entropy (issue 17)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import ops as ag
from chainrule.nn import functional as F
from chainrule.rl import PolicyAgent
from chainrule.rl.reinforce import policy_loss, policy_loss_gradient, sample_actions


def _grads(agent, loss):
    params = agent.network.parameters()
    for p in params:
        p.grad = None
    loss.backward()
    return [p.grad.data.copy() for p in params]


def _setup(n_actions, n=9):
    cr.manual_seed(0)
    agent = PolicyAgent(4, n_actions, hidden=(5,))
    rng = np.random.default_rng(3)
    obs = rng.normal(size=(n, 4)).astype(np.float32)
    return agent, obs, rng.integers(0, n_actions, n), rng.normal(size=n)


def test_two_action_loss_is_the_books_weighted_binary_cross_entropy():
    agent, obs, actions, w = _setup(2)
    # the book: BCE of P(left) = sigmoid(z) against the target 1 - action, weighted, mean
    z = agent.network(obs)[:, 0]
    per_step = F.binary_cross_entropy_with_logits(
        z, (1 - actions).astype(np.float32), reduction="none")
    book = ag.sum(per_step * w.astype(np.float32)) / len(w)
    ours = agent.loss(obs, actions, w)
    assert float(ours) == pytest.approx(float(book), rel=1e-6)
    for a, b in zip(_grads(agent, ours), _grads(agent, book)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_softmax_loss_is_the_weighted_negative_log_likelihood():
    agent, obs, actions, w = _setup(4)
    logp = ag.log_softmax(agent.network(obs), -1).data.astype(np.float64)
    expected = -np.mean(w * logp[np.arange(len(actions)), actions])
    assert float(agent.loss(obs, actions, w)) == pytest.approx(expected, rel=1e-5)


def test_step_gradients_are_the_gradient_of_the_sampled_actions_loss():
    agent, obs, _, _ = _setup(2, n=1)
    actions, grads = agent.step_gradients(obs, np.random.default_rng(5))
    expected_actions = sample_actions(agent.logits(obs), np.random.default_rng(5))
    np.testing.assert_array_equal(actions, expected_actions)
    expected = _grads(agent, agent.loss(obs, actions, np.ones(1)))
    for a, b in zip(grads, expected):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("n_actions", [2, 4])
@pytest.mark.parametrize("weighted", [False, True])
def test_closed_form_gradient_is_the_autograd_gradient_of_the_loss(n_actions, weighted):
    agent, obs, actions, w = _setup(n_actions)
    z = cr.tensor(agent.logits(obs), requires_grad=True)
    weights = w if weighted else None
    policy_loss(z, actions, weights).backward()
    np.testing.assert_allclose(policy_loss_gradient(z.data, actions, weights), z.grad.data,
                               rtol=1e-5, atol=1e-8)


def test_step_gradients_match_pytorchs_sigmoid_and_binary_cross_entropy():
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle here")
    agent, obs, _, _ = _setup(2, n=1)
    actions, grads = agent.step_gradients(obs, np.random.default_rng(1))
    lin = [m for m in agent.network if isinstance(m, cr.nn.Linear)]
    net = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ELU(), torch.nn.Linear(5, 1),
                              torch.nn.Sigmoid())
    with torch.no_grad():
        for m, t in zip(lin, [net[0], net[2]]):
            t.weight.copy_(torch.from_numpy(m.weight.data))
            t.bias.copy_(torch.from_numpy(m.bias.data))
    p_left = net(torch.from_numpy(obs))
    target = torch.tensor([[1.0 - float(actions[0])]])
    torch.nn.functional.binary_cross_entropy(p_left, target).backward()
    for ours, theirs in zip(grads, [p.grad.numpy() for p in net.parameters()]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


def test_policy_loss_refuses_mismatched_inputs():
    z = cr.tensor(np.zeros((3, 1), np.float32))
    with pytest.raises(ValueError, match="3 actions but 2 weights"):
        policy_loss(z, [0, 1, 0], [1.0, 1.0])
    with pytest.raises(ValueError, match="N = 2 actions"):
        policy_loss(z, [0, 1], [1.0, 1.0])
    with pytest.raises(ValueError, match="3 actions but 2 weights"):
        policy_loss_gradient(z.data, [0, 1, 0], [1.0, 1.0])
