"""Reinforcement learning (Hands-On Machine Learning, chapter 18) on chainrule's networks.

- :mod:`.mdp`: a finite ``MDP``, Q-value iteration, tabular Q-learning;
- :mod:`.returns`: ``discount_rewards``, ``discount_and_normalize_rewards``;
- :mod:`.reinforce`: policy gradients (REINFORCE) on Gymnasium environments;
- :mod:`.dqn`: deep Q-learning (replay buffers, target networks, Double and Dueling DQN).

Gymnasium is an optional dependency: ``pip install "chainrule[rl]"``. See docs/rl.md.
"""

from .checkpoint import AGENT_KINDS, LoadedAgent, load_agent, save_agent
from .dqn import VARIANTS, DQNAgent, DQNConfig, epsilon_schedule, train_dqn
from .envs import INSTALL_HINT, check_discrete, make_env, require_gymnasium
from .mdp import MDP, book_mdp, learning_rate_decay, q_learning, q_value_iteration
from .networks import DuelingQNetwork, policy_network, q_network
from .reinforce import PolicyAgent, ReinforceConfig, train_reinforce
from .replay import PrioritizedReplayBuffer, ReplayBuffer
from .returns import discount_and_normalize_rewards, discount_rewards
from .rollout import Episode, evaluate, run_episodes
