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


# ----------------------------------------------------------------------------------------
# Read-out heads: shapes, causality, and the predictive each defines (density, cdf, moments)

from icl.heads import LOGVAR_RANGE, BarHead, quantile_edges  # noqa: E402


def head_model(head: str, n_bins: int = 12, sharpen: float = 1.0) -> GPT:
    """A tiny model with ``head``; ``sharpen`` scales the read-out so the predictives are far from flat."""
    torch.manual_seed(0)
    cfg = ModelConfig(n_layer=1, n_head=2, n_embd=16, n_positions=6, head=head, n_bins=n_bins)
    model = GPT(cfg, n_dims=3)
    with torch.no_grad():
        model.read_out.weight.mul_(sharpen)
    return model


def _pieces(model: GPT, mean: float, var: float) -> list[tuple[float, float]]:
    """Intervals on which one position's predictive density is smooth: each bar bin and each tail out
    to 14 scales; for a Gaussian, 32 pieces of mean +- 14 sd."""
    if model.cfg.head == "bar":
        e = model.head.edges.double().numpy()
        s_lo, s_hi = (e[1] - e[0]) / 0.6744897501960817, (e[-1] - e[-2]) / 0.6744897501960817
        return [(e[1] - 14 * s_lo, e[1])] + [(e[b], e[b + 1]) for b in range(1, len(e) - 2)] + [(e[-2], e[-2] + 14 * s_hi)]
    cuts = np.linspace(mean - 14 * var**0.5, mean + 14 * var**0.5, 33)
    return list(zip(cuts[:-1], cuts[1:]))


def _quadrature(pieces, upper: float = np.inf, n_nodes: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on the pieces, cut at ``upper``."""
    nodes, weights = np.polynomial.legendre.leggauss(n_nodes)
    grid, w = [], []
    for a, b in pieces:
        b = min(b, upper)
        if b > a:
            grid.append((a + b) / 2 + (b - a) / 2 * nodes)
            w.append((b - a) / 2 * weights)
    if not grid:
        return np.zeros(n_nodes), np.zeros(n_nodes)
    return np.concatenate(grid), np.concatenate(w)


@pytest.mark.parametrize("head", ["gaussian", "bar"])
@pytest.mark.parametrize("sharpen", [1.0, 60.0])
def test_log_prob_integrates_to_one_and_matches_cdf_and_moments(head, sharpen):
    """Gauss-Legendre quadrature on each smooth piece of each position's predictive: int p = 1,
    int_{-inf}^y p = F(y), and the first two moments equal predictive_moments."""
    model = head_model(head, sharpen=sharpen)
    xs, ys = prompt(B=2, n=6)
    mean, var = (a.double().numpy() for a in model.predictive_moments(xs, ys))
    probes = [-2.0, -0.3, 0.0, 0.7, 2.5]

    def integrals(upper):
        """int p, int y p, int y^2 p over (-inf, upper] for every position: three (2, 6) arrays."""
        quads = [[_quadrature(_pieces(model, mean[b, k], var[b, k]), upper) for k in range(6)] for b in range(2)]
        size = max(len(g) for row in quads for g, _ in row)
        grid = np.zeros((2, 6, size))
        w = np.zeros((2, 6, size))
        for b in range(2):
            for k in range(6):
                g, wk = quads[b][k]
                grid[b, k, : len(g)], w[b, k, : len(g)] = g, wk
        p = model.log_prob(xs, ys, at=torch.tensor(grid, dtype=torch.float32)).double().exp().numpy()
        return (p * w).sum(-1), (p * w * grid).sum(-1), (p * w * grid**2).sum(-1)

    total, m1, m2 = integrals(np.inf)
    np.testing.assert_allclose(total, 1.0, atol=2e-5)
    np.testing.assert_allclose(mean, m1, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(var, m2 - m1**2, rtol=1e-3, atol=1e-5)
    F = model.cdf(xs, ys, at=torch.tensor(probes).expand(2, 6, -1)).double().numpy()
    for j, y in enumerate(probes):
        np.testing.assert_allclose(F[..., j], integrals(y)[0], atol=2e-5)


@pytest.mark.parametrize("head", ["gaussian", "bar"])
def test_log_prob_at_ys_is_the_grid_entry_and_causal(head):
    model = head_model(head)
    xs, ys = prompt(B=2, n=6)
    lp = model.log_prob(xs, ys)
    assert lp.shape == (2, 6) and lp.dtype == torch.float32
    torch.testing.assert_close(lp, model.log_prob(xs, ys, at=ys[..., None])[..., 0])
    # position k does not see y_k: changing y_k moves log p(y_k) only through the density, not the predictive
    ys2 = ys.clone()
    ys2[:, 3] += 1.0
    torch.testing.assert_close(model.log_prob(xs, ys2, at=ys[..., None])[:, :4], lp[:, :4, None])
    u = model.cdf(xs, ys)
    assert bool(((u > 0) & (u < 1)).all())
    torch.testing.assert_close(model.predict_prefixes(xs, ys), model.predictive_moments(xs, ys)[0])


def test_heads_output_shapes_and_gaussian_clamp():
    xs, ys = prompt(B=2, n=6)
    assert head_model("mean")(xs, ys).shape == (2, 6)
    with torch.no_grad():
        out = head_model("gaussian", sharpen=1e4)(xs, ys)
    assert out.shape == (2, 6, 2)
    lo, hi = (torch.tensor(v, dtype=torch.float32) for v in LOGVAR_RANGE)
    assert bool((out[..., 1] >= lo).all() and (out[..., 1] <= hi).all())
    assert bool((out[..., 1] == lo).any() and (out[..., 1] == hi).any())  # the clamp was reached on both sides
    assert head_model("bar", n_bins=7)(xs, ys).shape == (2, 6, 7)


def test_mean_head_is_a_gaussian_only_with_a_stated_variance():
    model = head_model("mean")
    xs, ys = prompt(B=2, n=6)
    with pytest.raises(ValueError, match="the mean head predicts no variance; pass variance="):
        model.log_prob(xs, ys)
    pred = model.predict_prefixes(xs, ys)
    lp = model.log_prob(xs, ys, variance=0.25)
    torch.testing.assert_close(lp, -0.5 * (np.log(2 * np.pi * 0.25) + (ys - pred) ** 2 / 0.25))
    mean, var = model.predictive_moments(xs, ys, variance=0.25)
    assert torch.equal(mean, pred) and bool((var == 0.25).all())
    with pytest.raises(ValueError, match="variance= applies to the mean head only"):
        head_model("gaussian").log_prob(xs, ys, variance=1.0)


def test_bar_edges_are_a_buffer_that_checkpoints_carry():
    edges = quantile_edges(torch.randn(10_000), 12)
    a = GPT(ModelConfig(n_layer=1, n_head=2, n_embd=16, n_positions=6, head="bar", n_bins=12), n_dims=3,
            bar_edges=edges)
    assert "head.edges" in a.state_dict() and torch.equal(a.state_dict()["head.edges"], edges)
    b = head_model("bar", n_bins=12)  # placeholder N(0, 1) quantiles
    assert not torch.equal(b.head.edges, edges)
    b.load_state_dict(a.state_dict())
    assert torch.equal(b.head.edges, edges)
    assert "head.edges" not in head_model("mean").state_dict()  # the mean head's checkpoints are unchanged


def test_quantile_edges_and_bad_edges():
    edges = quantile_edges(torch.arange(1001.0), 10)
    assert edges.tolist() == [float(100 * i) for i in range(11)]
    with pytest.raises(ValueError, match="two bin edges coincide"):
        quantile_edges(torch.zeros(100), 4)
    with pytest.raises(ValueError, match="n_bins must be >= 3"):
        quantile_edges(torch.randn(100), 2)
    with pytest.raises(ValueError, match="edges must be 6 increasing numbers"):
        BarHead(5, torch.tensor([0.0, 1.0, 1.0, 2.0, 3.0, 4.0]))


def test_distributional_heads_refuse_classification():
    with pytest.raises(ValueError, match="n_out must be 1"):
        GPT(ModelConfig(n_layer=1, n_head=2, n_embd=8, n_positions=5, head="gaussian"), n_dims=2, n_out=3)


def test_faithful_gaussian_loss_gives_the_transformer_the_mean_heads_gradient():
    """Stirn et al. 2023: with model.gaussian_loss = "faithful" every parameter below the read-out, and
    the mean's row, gets exactly the mean head's squared-error gradient; the variance row learns only
    from the NLL. With the plain NLL the transformer's gradient differs (it is scaled by 1 / s^2)."""
    xs, ys = prompt(B=3, n=6)
    grads = {}
    for name, kw in {"mean": {"head": "mean"}, "faithful": {"head": "gaussian", "gaussian_loss": "faithful"},
                     "nll": {"head": "gaussian"}}.items():
        model = tiny(**kw)
        if name != "mean":  # the mean head's trunk and read-out row: same weights as the mean model
            ref = tiny(head="mean").state_dict()
            state = {k: (torch.cat([ref[k], v[1:]]) if k.startswith("read_out") else ref[k])
                     for k, v in model.state_dict().items()}
            model.load_state_dict(state)
        model.head.loss(model(xs, ys), ys).backward()
        grads[name] = {k: p.grad.clone() for k, p in model.named_parameters()}
    for k, g in grads["mean"].items():
        torch.testing.assert_close(grads["faithful"][k][:1] if k.startswith("read_out") else grads["faithful"][k], g)
    assert not torch.allclose(grads["nll"]["blocks.0.attn.c_attn.weight"], grads["mean"]["blocks.0.attn.c_attn.weight"])
    assert float(grads["faithful"]["read_out.weight"][1].abs().sum()) > 0  # the variance row learns


def test_gaussian_loss_is_validated():
    from icl.config import ConfigError, config_from_dict

    with pytest.raises(ConfigError, match="model.gaussian_loss"):
        config_from_dict({"model": {"head": "gaussian", "gaussian_loss": "beta"}})
    with pytest.raises(ConfigError, match="applies to model.head = 'gaussian' only"):
        config_from_dict({"model": {"gaussian_loss": "faithful"}})
