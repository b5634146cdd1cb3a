"""The GPT: causality, shapes, hidden states, token formats, prediction mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from icl.config import ModelConfig
from icl.model import GPT, interleave, x_positions, y_positions


def tiny(**kw) -> GPT:
    torch.manual_seed(0)
    cfg = ModelConfig(**{"n_layer": 2, "n_head": 2, "n_embd": 16, "n_positions": 8, **kw})
    return GPT(cfg, n_dims=3)


def prompt(B=4, n=8, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, n, d, generator=g), torch.randn(B, n, generator=g)


@pytest.mark.parametrize("kw", [{}, {"pos_emb": False}, {"token_format": "split"}, {"token_format": "pairs"}, {"dropout": 0.1}])
def test_causality_prediction_at_k_ignores_later_pairs(kw):
    model = tiny(**kw)
    xs, ys = prompt()
    base = model.predict_prefixes(xs, ys)
    for k in range(xs.shape[1]):
        xs2, ys2 = xs.clone(), ys.clone()
        xs2[:, k + 1:] = torch.randn_like(xs2[:, k + 1:]) * 10
        ys2[:, k:] = torch.randn_like(ys2[:, k:]) * 10  # y_k itself is not visible at k
        out = model.predict_prefixes(xs2, ys2)
        torch.testing.assert_close(out[:, : k + 1], base[:, : k + 1], rtol=0, atol=1e-5)
        if k + 1 < xs.shape[1]:
            assert not torch.allclose(out[:, k + 1:], base[:, k + 1:])  # later predictions do change


def test_prediction_at_k_depends_on_x_k_and_earlier_y():
    model = tiny()
    xs, ys = prompt()
    base = model.predict_prefixes(xs, ys)
    xs2 = xs.clone()
    xs2[:, 3] += 1.0
    assert not torch.allclose(model.predict_prefixes(xs2, ys)[:, 3], base[:, 3])
    ys2 = ys.clone()
    ys2[:, 2] += 1.0
    assert not torch.allclose(model.predict_prefixes(xs, ys2)[:, 3], base[:, 3])


def test_interleave_garg_format():
    xs = torch.arange(6.0).reshape(1, 2, 3)
    ys = torch.tensor([[10.0, 20.0]])
    tok = interleave(xs, ys)
    expected = torch.tensor([[[0.0, 1, 2], [10, 0, 0], [3, 4, 5], [20, 0, 0]]])
    assert torch.equal(tok, expected)
    split = interleave(xs, ys, "split")
    assert split.shape == (1, 4, 4) and torch.equal(split[0, 1], torch.tensor([0.0, 0, 0, 10]))
    with pytest.raises(ValueError, match="token_format"):
        interleave(xs, ys, "other")


def test_hidden_states_per_layer_and_read_out():
    model = tiny().eval()
    xs, ys = prompt()
    with torch.no_grad():
        hs = model.hidden_states(xs, ys)
        assert len(hs) == model.cfg.n_layer + 1
        assert all(h.shape == (4, 16, 16) for h in hs)
        assert x_positions(hs[-1]).shape == (4, 8, 16) and y_positions(hs[-1]).shape == (4, 8, 16)
        out = model.read_out(model.ln_f(x_positions(hs[-1])))[..., 0]
    torch.testing.assert_close(out, model(xs, ys))


def test_predict_prefixes_mode_grad_numpy_and_dtype():
    model = tiny()
    model.train()
    xs, ys = prompt()
    out = model.predict_prefixes(xs.double(), ys.double())
    assert model.training and not out.requires_grad and out.dtype == torch.float32 and out.shape == (4, 8)
    out_np = model.predict_prefixes(xs.numpy(), ys.numpy())
    torch.testing.assert_close(out_np, model.eval().predict_prefixes(xs, ys))


def test_forward_has_gradients_and_classification_head():
    torch.manual_seed(0)
    model = GPT(ModelConfig(n_layer=1, n_head=2, n_embd=8, n_positions=5), n_dims=2, n_out=3)
    xs, ys = torch.randn(2, 5, 2), torch.randint(0, 3, (2, 5))
    logits = model(xs, ys)
    assert logits.shape == (2, 5, 3)
    logits.sum().backward()
    assert model.read_in.weight.grad is not None


def test_lower_dimensional_prompts_are_zero_padded():
    model = tiny().eval()
    xs, ys = prompt(d=2)
    padded = torch.cat([xs, torch.zeros(4, 8, 1)], dim=-1)
    torch.testing.assert_close(model.predict_prefixes(xs, ys), model.predict_prefixes(padded, ys))


def test_bad_inputs_name_the_problem():
    model = tiny()
    xs, ys = prompt(n=9)
    with pytest.raises(ValueError, match="at most n_positions=8 pairs, got 9"):
        model(xs, ys)
    with pytest.raises(ValueError, match="n_dims=3"):
        model(*prompt(d=4))
    with pytest.raises(ValueError, match=r"expected xs \(B, n, d\) and ys \(B, n\)"):
        model(torch.zeros(2, 3, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="n_dims must be >= 1"):
        GPT(ModelConfig(n_layer=1, n_head=1, n_embd=4, n_positions=2), n_dims=0)


def test_no_vocabulary_table_and_param_count():
    model = tiny()
    assert not any(isinstance(m, torch.nn.Embedding) and m.num_embeddings > 2 * 8 for m in model.modules())
    assert model.num_params() == sum(p.numel() for p in model.parameters())
    assert tiny(pos_emb=False).wpe is None


def test_deterministic_given_seed():
    a, b = tiny(), tiny()
    xs, ys = prompt()
    assert np.array_equal(a.predict_prefixes(xs, ys).numpy(), b.predict_prefixes(xs, ys).numpy())
