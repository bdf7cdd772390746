"""Neural networks from scratch: modules, layers, initialisers, losses, penalties."""

from . import functional, init
from .attention import (  # issue 15 (attention, Transformer)
    LearnedPositionalEncoding,
    MultiheadAttention,
    SinusoidalPositionalEncoding,
)
from .conv import (
    BatchNorm2d,
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose2d,
    GlobalAvgPool2d,
    ResidualBlock,
)
from .layers import (
    CELU,
    ELU,
    GELU,
    SELU,
    AlphaDropout,
    BatchNorm1d,
    Dense,
    Dropout,
    Flatten,
    GaussianNoise,
    Hardsigmoid,
    Hardswish,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSoftmax,
    Mish,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softsign,
    Swish,
    Tanh,
    TiedLinear,
    mc_dropout,
)
from .losses import (
    BCELoss,
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
from .pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
    MaxUnpool1d,
    MaxUnpool2d,
)
from .preprocessing import (  # issue 20 (preprocessing layers)
    CategoryEncoding,
    Discretization,
    Hashing,
    Normalization,
)
from .preprocessing_text import IntegerLookup, StringLookup, TextVectorization  # issue 20
from .recurrent import GRU, LSTM, RNN, Embedding, GRUCell, LSTMCell, RNNCell
from .resampling import (
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)
from .rnn_attention import BahdanauAttention, LuongAttention  # issue 15 (RNN attention)
from .sparse_grad import SparseGrad  # issue 20: Embedding(sparse=True)'s gradient
from .summary import ModelSummary
from .transformer import (  # issue 15
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
