"""Attention-map pictures (chainrule.viz.attention): heads x queries x keys heat maps with
the tokens on the axes, drawn without pyplot or a global backend."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import chainrule.nn as nn  # noqa: E402
from chainrule.viz.attention import attention_figure, plot_attention  # noqa: E402


def _weights(heads=3, q=4, k=5):
    w = np.random.default_rng(0).random((heads, q, k))
    return w / w.sum(-1, keepdims=True)


def test_one_panel_per_head_with_the_tokens_on_the_axes():
    fig = attention_figure(_weights(), list("abcd"), ["<s>", "x", "y", "z", "</s>"])
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 3
    ax = panels[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list("abcd")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["<s>", "x", "y", "z", "</s>"]
    assert ax.get_title() == "head 0"
    np.testing.assert_allclose(ax.images[0].get_array(), _weights()[0])


def test_weights_of_multihead_attention_draw_to_a_file(tmp_path):
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = np.random.default_rng(1).normal(size=(1, 6, 8)).astype(np.float32)
    _, w = mha(x, x, x, average_attn_weights=False, attn_mask=np.triu(np.ones((6, 6), bool), 1))
    path = plot_attention(w[0], tmp_path / "maps.png", list("abcdef"), list("abcdef"),
                          heads=[1])
    assert path.exists() and path.stat().st_size > 0


def test_bad_input_is_one_clear_error():
    with pytest.raises(ValueError, match=r"weights should be .* got shape \(2, 3, 4, 5\)"):
        attention_figure(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="3 query tokens for 4 query"):
        attention_figure(_weights(), list("abc"))
    with pytest.raises(ValueError, match=r"heads \[5\] not in 0..2"):
        attention_figure(_weights(), heads=[5])


def test_leaves_the_backend_and_pyplot_alone(tmp_path):
    code = textwrap.dedent(f"""
        import sys, matplotlib
        matplotlib.use("svg")
        import numpy as np
        from chainrule.viz.attention import plot_attention
        plot_attention(np.eye(3), r"{tmp_path / 'a.png'}", "abc", "abc")
        assert matplotlib.get_backend() == "svg"
        assert "matplotlib.pyplot" not in sys.modules
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
