"""GPT.forward's short path (last y token dropped, last block on the x positions only) changes no output."""

import pytest
import torch

from icl.config import ModelConfig
from icl.model import GPT, x_positions


def _full_path(model, xs, ys):
    """The read-out of the full residual stream: every token through every block."""
    h = model.ln_f(x_positions(model.hidden_states(xs, ys)[-1]))
    if hasattr(model.head, "read"):  # heads that shape their read-out's gradients
        return model.head.read(model.read_out, h)
    return model.head.output(model.read_out(h))


@pytest.mark.parametrize("token_format", ["garg", "pairs"])
@pytest.mark.parametrize("head", ["mean", "gaussian"])
@pytest.mark.parametrize("n", [1, 2, 6])
def test_forward_equals_full_stream(token_format, head, n):
    torch.manual_seed(0)
    model = GPT(ModelConfig(n_layer=3, n_head=2, n_embd=16, n_positions=7, token_format=token_format, head=head),
                n_dims=4)
    xs, ys = torch.randn(5, n, 4), torch.randn(5, n)
    out = model(xs, ys)
    assert out.shape[:2] == (5, n)
    torch.testing.assert_close(out, _full_path(model, xs, ys), rtol=1e-5, atol=1e-6)


def test_gradients_equal_full_stream():
    torch.manual_seed(1)
    model = GPT(ModelConfig(n_layer=2, n_head=2, n_embd=16, n_positions=6), n_dims=3)
    xs, ys = torch.randn(4, 6, 3), torch.randn(4, 6)
    grads = []
    for f in (model, lambda a, b: _full_path(model, a, b)):
        model.zero_grad(set_to_none=True)
        ((f(xs, ys) - ys) ** 2).mean().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)


def test_dropout_training_keeps_the_full_path():
    """With dropout in training the full stream runs, so the dropout masks match the full path's draw."""
    model = GPT(ModelConfig(n_layer=2, n_head=2, n_embd=16, n_positions=6, dropout=0.3), n_dims=3)
    xs, ys = torch.randn(4, 6, 3), torch.randn(4, 6)
    model.train()
    torch.manual_seed(2)
    out = model(xs, ys)
    torch.manual_seed(2)
    torch.testing.assert_close(out, _full_path(model, xs, ys))
