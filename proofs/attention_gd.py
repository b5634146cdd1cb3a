"""Lemma 6: one linear self-attention layer with constructed weights computes one gradient-descent step.

Statement. Put the context pairs in tokens ``e_i = (x_i, y_i)`` in R^{d+1} and the query in
``e_q = (x_q, 0)``. A linear self-attention layer (no softmax) updates the query token to

    e_q + (1/k) sum_i W_V e_i (W_K e_i)^T (W_Q e_q) = e_q + (1/k) W_V E^T E W_K^T W_Q e_q,   E = [X | y].

With ``W_K = W_Q = [[I_d, 0], [0, 0]]`` (project onto x) and ``W_V = [[0, 0], [0, eta]]`` (read y),
the output is ``(x_q, (eta/k) y^T X x_q)``: its last coordinate is ``x_q^T w_1``, the prediction
of one gradient-descent step ``w_1 = w_0 - (eta/k) X^T (X w_0 - y)`` from ``w_0 = 0`` on the loss
``||X w - y||^2 / (2k)``, and the x part is unchanged.

Proof. For **general k and d** with sympy block matrices of ``MatrixSymbol`` blocks:
``block_collapse`` of output minus target leaves the x block zero and a 1 x 1 block
``b = (eta/k) (y^T X x_q - x_q^T X^T y)``; a 1 x 1 matrix equals its transpose, so ``b = 0``
follows from ``b + b^T`` expanding to ``ZeroMatrix``. The same identity is also checked
entrywise with explicit symbols for (d, k) = (3, 4). The check is a function of the weights,
so a value matrix without the step size (``W_V = [[0, 0], [0, 1]]``) fails.

Sign convention: von Oswald et al. write the value projection with ``-eta`` and read the
prediction as the negated last coordinate; here ``+eta`` and the coordinate is read directly
(the same construction up to that sign).

Source. von Oswald et al. 2023, "Transformers learn in-context by gradient descent",
section 2 (Proposition 1).

Numeric cross-check: a torch linear-attention layer (``torch.nn.Linear`` query/key/value
projections, weights set to the construction) against ``x_q^T estimators.gd(X, y, lr=eta, steps=1)``.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._lemma import Lemma, is_zero, symbol_matrix

__all__ = ["LEMMA", "check", "constructed_weights", "lsa_is_gd_step", "linear_self_attention", "numeric"]

eta = sp.Symbol("eta", positive=True)


def constructed_weights(d, value_scale=eta):
    """``(W_K, W_Q, W_V)`` of the construction as sympy block matrices for token size d + 1."""
    Z = sp.ZeroMatrix
    project_x = sp.BlockMatrix([[sp.Identity(d), Z(d, 1)], [Z(1, d), Z(1, 1)]])
    read_y = sp.BlockMatrix([[Z(d, d), Z(d, 1)], [Z(1, d), value_scale * sp.Identity(1)]])
    return project_x, project_x, read_y


def lsa_is_gd_step(value_scale=eta, explicit=((3, 4),)) -> bool:
    """True iff the LSA layer with value scale ``value_scale`` outputs ``(x_q, x_q^T w_1)``.

    Examples
    --------
    >>> lsa_is_gd_step(explicit=())
    True
    >>> lsa_is_gd_step(value_scale=sp.Integer(1), explicit=())
    False
    """
    k, d = sp.symbols("k d", integer=True, positive=True)
    X, y, xq = sp.MatrixSymbol("X", k, d), sp.MatrixSymbol("y", k, 1), sp.MatrixSymbol("x_q", d, 1)
    W_K, W_Q, W_V = constructed_weights(d, value_scale)
    E = sp.BlockMatrix([[X, y]])  # (k, d + 1): one token per row
    e_q = sp.BlockMatrix([[xq], [sp.ZeroMatrix(1, 1)]])
    w1 = (eta / k) * X.T * y  # one GD step from w = 0 on the mean squared loss
    target = sp.BlockMatrix([[xq], [xq.T * w1]])
    diff = sp.block_collapse(e_q + (1 / k) * W_V * E.T * E * W_K.T * W_Q * e_q - target)
    x_block, y_block = diff.blocks[0, 0], diff.blocks[1, 0]
    if not (is_zero(x_block) and is_zero(y_block + y_block.T)):  # 1 x 1: b = b^T, so b + b^T = 0 means b = 0
        return False
    for d_, k_ in explicit:
        Xe, ye, qe = symbol_matrix("x", k_, d_), symbol_matrix("y", k_, 1), symbol_matrix("q", d_, 1)
        WK = sp.diag(sp.eye(d_), 0)
        WV = sp.diag(sp.zeros(d_, d_), value_scale)
        Ee = Xe.row_join(ye)
        eq = qe.col_join(sp.zeros(1, 1))
        out = eq + WV * Ee.T * Ee * WK.T * WK * eq / k_
        if not is_zero(out - qe.col_join(qe.T * (eta / k_) * Xe.T * ye)):
            return False
    return True


def linear_self_attention(d: int, step: float):
    """A torch linear self-attention layer with the constructed weights for tokens of size d + 1.

    ``forward(tokens)`` takes (B, k + 1, d + 1) with the query token last and returns the
    updated query token (B, d + 1): ``e_q + (1/k) sum_i v_i (k_i . q)``.
    """
    import torch

    class _LSA(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.query = torch.nn.Linear(d + 1, d + 1, bias=False, dtype=torch.float64)
            self.key = torch.nn.Linear(d + 1, d + 1, bias=False, dtype=torch.float64)
            self.value = torch.nn.Linear(d + 1, d + 1, bias=False, dtype=torch.float64)
            project_x = torch.zeros(d + 1, d + 1, dtype=torch.float64)
            project_x[:d, :d] = torch.eye(d, dtype=torch.float64)
            read_y = torch.zeros(d + 1, d + 1, dtype=torch.float64)
            read_y[d, d] = step
            with torch.no_grad():
                self.query.weight.copy_(project_x)
                self.key.weight.copy_(project_x)
                self.value.weight.copy_(read_y)

        def forward(self, tokens):
            context, e_q = tokens[:, :-1, :], tokens[:, -1, :]  # (B, k, d+1), (B, d+1)
            q = self.query(e_q)  # (B, d+1)
            keys, values = self.key(context), self.value(context)  # (B, k, d+1)
            scores = torch.einsum("bkc,bc->bk", keys, q)  # (B, k), no softmax
            return e_q + torch.einsum("bk,bkc->bc", scores, values) / context.shape[1]

    return _LSA()


def numeric(seed: int = 5) -> float:
    """Max |LSA query output - (x_q, x_q^T gd(X, y, lr=eta, steps=1))| over random prompts."""
    import torch

    from estimators import gd

    rng = np.random.default_rng(seed)
    worst = 0.0
    for d, k, step in [(3, 5, 0.7), (8, 20, 0.1), (5, 2, 1.3)]:
        X = rng.standard_normal((6, k, d))
        y = rng.standard_normal((6, k))
        xq = rng.standard_normal((6, d))
        tokens = np.concatenate([np.concatenate([X, y[..., None]], -1), np.concatenate([xq, np.zeros((6, 1))], -1)[:, None]], 1)
        with torch.no_grad():
            out = linear_self_attention(d, step)(torch.from_numpy(tokens)).numpy()
        w1 = np.asarray(gd(X, y, lr=step, steps=1))  # (6, d)
        want = np.concatenate([xq, np.sum(xq * w1, -1, keepdims=True)], -1)
        worst = max(worst, float(np.max(np.abs(out - want))))
    return worst


LEMMA = Lemma(
    name="linear attention = one GD step",
    statement="LSA with W_K = W_Q = proj_x, W_V = eta e_{d+1} e_{d+1}^T maps (x_q, 0) to (x_q, x_q^T (eta/k) X^T y)",
    source="von Oswald et al. 2023, sec. 2 (Prop. 1)",
    symbolic=lsa_is_gd_step,
    numeric=numeric,
    tolerance=1e-12,
    backed_by="torch linear-attention layer vs estimators.linear.gd(steps=1)",
)


def check():
    """Prove the lemma symbolically and cross-check it numerically; returns a :class:`proofs._lemma.Result`."""
    return LEMMA.check()
