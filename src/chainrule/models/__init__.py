"""Ready-made models, every one registered by name (:mod:`.registry`).

* The registry and the checkpoint format: :func:`create_model` (``create_model("vae",
  input_shape=(28, 28), latent_size=2)``), :func:`register_model`, :func:`list_models`,
  :func:`save_model` / :func:`load_model` (architecture name + arguments + weights, with
  optional optimizer state and metadata, in one pickle-free file).
* Classifiers (:mod:`.classifiers`): ``build_model("mlp", input_shape=(8, 8),
  num_classes=10)``; builders registered by name in :data:`MODELS` ("mlp", "cnn").
* Autoencoders (:mod:`.autoencoders`): :func:`dense_autoencoder` (stacked, tied,
  denoising, sparse), :func:`conv_autoencoder`, :func:`dlfs_conv_autoencoder`, all
  returning an :class:`Autoencoder`; sparsity penalties :func:`l1_activity`,
  :func:`kl_sparsity`.
* Variational autoencoders (:mod:`.vae`): :class:`VAE`, :func:`dense_vae`,
  :func:`conv_vae`.
* GANs (:mod:`.gan`): :class:`GAN` (the alternating training loop, label smoothing,
  conditioning), :func:`dense_generator` / :func:`dense_discriminator`,
  :func:`dcgan_generator` / :func:`dcgan_discriminator`; GANs train with the library's
  loop (:func:`chainrule.train.fit_gan`; pictures per epoch with
  :class:`chainrule.train.SampleGrid`).
* The character language model (:mod:`.charlm`): :class:`~.charlm.CharLSTM`, ``"char-lstm"``.
* Encoder–decoders (:mod:`.seq2seq`, :mod:`.seq2seq_transformer`): :class:`Seq2Seq` (LSTM,
  plain or with Luong/Bahdanau attention), :class:`TransformerSeq2Seq`, and their decoding
  :func:`greedy_decode` / :func:`beam_search`; docs/attention.md.

``chainrule train --model autoencoder|conv-autoencoder|vae|gan|dcgan`` trains them from
the command line; docs/representation.md has the results on MNIST and Fashion-MNIST.
"""

from .autoencoders import (
    Autoencoder,
    KLSparsity,
    L1Sparsity,
    conv_autoencoder,
    dense_autoencoder,
    dlfs_conv_autoencoder,
    kl_sparsity,
    l1_activity,
)
from .charlm import CharLSTM
from .classifiers import MODELS, Reshape, build_model, cnn, image_shape, mlp
from .gan import (
    GAN,
    Discriminator,
    Generator,
    dcgan,
    dcgan_discriminator,
    dcgan_generator,
    dense_discriminator,
    dense_gan,
    dense_generator,
)
from .gpt import GPT  # registers "gpt"
from .registry import (
    REGISTRY,
    create_model,
    list_models,
    load_model,
    model_from_checkpoint,
    register_model,
    save_model,
)
from .seq2seq import Seq2Seq, beam_search, greedy_decode  # issue 15 (encoder-decoders)
from .seq2seq_transformer import TransformerSeq2Seq
from .vae import VAE, conv_vae, dense_vae, gaussian_kl, reparameterize

__all__ = ["MODELS", "Reshape", "build_model", "cnn", "image_shape", "mlp",
           "Autoencoder", "KLSparsity", "L1Sparsity", "conv_autoencoder", "dense_autoencoder",
           "dlfs_conv_autoencoder", "kl_sparsity", "l1_activity",
           "VAE", "conv_vae", "dense_vae", "gaussian_kl", "reparameterize",
           "GAN", "Discriminator", "Generator", "dcgan", "dcgan_discriminator",
           "dcgan_generator", "dense_discriminator", "dense_gan", "dense_generator",
           "CharLSTM", "GPT",
           "Seq2Seq", "TransformerSeq2Seq", "beam_search", "greedy_decode",
           "REGISTRY", "create_model", "list_models", "load_model", "model_from_checkpoint",
           "register_model", "save_model"]


def __getattr__(name: str) -> object:
    if name == "SampleGrid":  # a Trainer callback now: chainrule.train.SampleGrid
        from . import gan

        return gan.SampleGrid  # warns
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
