"""Neural networks from scratch: modules, layers, initialisers, losses, penalties."""

from . import functional, init
from .conv import (
    AvgPool2d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    GlobalAvgPool2d,
    MaxPool1d,
    MaxPool2d,
    ResidualBlock,
)
from .layers import (
    ELU,
    GELU,
    SELU,
    AlphaDropout,
    BatchNorm1d,
    Dense,
    Dropout,
    Flatten,
    GaussianNoise,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSoftmax,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Swish,
    Tanh,
    TiedLinear,
    mc_dropout,
)
from .losses import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    l1_penalty,
    l2_penalty,
    max_norm_,
)
from .module import Module, Parameter, evaluating
from .recurrent import GRU, LSTM, RNN, Embedding, GRUCell, LSTMCell, RNNCell
from .summary import ModelSummary
