"""``Module.summary()`` counts what attention keeps for backward (heads x T^2 weights per
example), so its prediction of a Transformer block's training memory holds: the peak of
NumPy's allocations (tracemalloc) during one forward and backward is within 2x of it."""

import tracemalloc

import numpy as np
import pytest

import chainrule.nn as nn


def _peak_bytes(layer, x):
    def step():
        out = layer(x, is_causal=True)
        (out * out).mean().backward()

    step()  # warm up (first-call allocations, gradient buffers)
    layer.zero_grad()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        step()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("t,width,heads,ff,batch", [
    (128, 128, 4, 512, 16),  # the benchmark's block (benchmarks/bench_transformer.py)
    (256, 32, 8, 64, 2),  # attention dominates: 8 x 256^2 weights per example
])
def test_peak_memory_of_a_block_step_is_within_2x_of_summary(t, width, heads, ff, batch):
    layer = nn.TransformerEncoderLayer(width, heads, ff, dropout=0.0, batch_first=True,
                                       norm_first=True)
    info = layer.summary((t, width), batch_size=batch, print_fn=None)
    predicted = info.training_bytes * batch
    x = np.random.default_rng(0).normal(size=(batch, t, width)).astype(np.float32)
    peak = _peak_bytes(layer, x)
    assert predicted / 2 <= peak <= 2 * predicted, (peak, predicted)


def test_summary_row_of_attention_counts_its_weights():
    mha = nn.MultiheadAttention(32, 8, batch_first=True)

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = mha

        def forward(self, x):
            return self.attn(x, x, x, need_weights=False)[0]

    info = SelfAttention().summary((100, 32), print_fn=None)
    row = next(r for r in info.rows if r.kind == "MultiheadAttention")
    weights = 8 * 100 * 100  # heads x queries x keys
    projections_and_outputs = 3 * 100 * 32 + 2 * 100 * 32
    assert row.output_bytes == (weights + projections_and_outputs) * 4
    assert row.params == 3 * 32 * 32 + 3 * 32  # in_proj (out_proj has its own row)
