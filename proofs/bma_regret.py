"""Lemma 8: the cumulative log-loss regret of Bayesian model averaging is at most -log pi(z*).

Statement. Over a finite concept set Z with prior pi, the BMA predictive
``p(y_t | y_{<t}) = sum_z pi(z | y_{<t}) p(y_t | z, y_{<t})`` satisfies, for every z* in Z and
every T,

    sum_{t<=T} -log p(y_t | y_{<t})  -  sum_{t<=T} -log p(y_t | z*, y_{<t})  <=  -log pi(z*),

i.e. ``log |Z|`` for a uniform prior (``log|Z| / T`` per step), and the bound is tight.

Proof. (a) Telescoping: with ``pi(z | y_{<t}) ∝ pi(z) prod_{s<t} p_{z,s}`` the product of the
BMA predictives is the marginal likelihood, ``prod_t p(y_t | y_{<t}) = sum_z pi(z) L_z`` with
``L_z = prod_t p_{z,t}``. (b) So the regret is ``-log(sum_z pi(z) L_z / L_{z*})`` and
``exp(bound - regret) - 1 = sum_{z != z*} pi(z) L_z / (pi(z*) L_{z*}) >= 0``. (c) Tightness: as the
likelihoods of the other concepts go to 0 the regret tends to the bound, so no smaller bound
holds. The symbolic check does (a) and (c) with ``cancel`` / ``limit`` and (b) with sympy's
sign inference on positive symbols (the prior is ``pi(z) = a_z / sum a`` with positive a), for |Z| = 3 concepts and T = 3 steps (explicit sizes;
the argument is the same for any finite Z and T). It is a function of the claimed bound, so
``-log pi(z*) / 2`` fails.

Source. Zhang et al. 2023, "What and how does in-context learning learn? Bayesian model
averaging, parameterization, and generalization", section 4 (regret of BMA).

Numeric cross-check: ``estimators.bayes.FinitePrior`` (a uniform pool of M tasks, Gaussian
noise): its ``weights_prefixes`` give the BMA predictive densities, whose cumulative log loss
must equal ``-posterior(...).log_evidence`` (telescoping) and exceed the loss of the true task
by at most ``log M`` at every prefix; the reported error is the largest violation of either.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._lemma import Lemma, is_zero

__all__ = ["LEMMA", "check", "regret_bound_holds", "numeric"]

N_CONCEPTS, N_STEPS = 3, 3


def regret_bound_holds(bound=lambda pi_star: -sp.log(pi_star), n_concepts: int = N_CONCEPTS, n_steps: int = N_STEPS) -> bool:
    """True iff BMA telescopes and its regret against concept 0 is at most, and tends to, ``bound(pi_0)``.

    Examples
    --------
    >>> regret_bound_holds(n_concepts=2, n_steps=2)
    True
    >>> regret_bound_holds(lambda p: -sp.log(p) / 2, n_concepts=2, n_steps=2)
    False
    """
    a = sp.symbols(f"a0:{n_concepts}", positive=True)
    pi = [a_z / sum(a) for a_z in a]  # a general prior on Z: positive and summing to one
    p = [[sp.Symbol(f"p_{z}_{t}", positive=True) for t in range(n_steps)] for z in range(n_concepts)]
    # (a) telescoping: product of BMA predictives = marginal likelihood
    product = sp.Integer(1)
    for t in range(n_steps):
        past = [pi[z] * sp.Mul(*p[z][:t]) for z in range(n_concepts)]  # unnormalised pi(z | y_<t)
        product *= sum(w * p[z][t] for z, w in enumerate(past)) / sum(past)
    likelihood = [sp.Mul(*p[z]) for z in range(n_concepts)]
    marginal = sum(pi[z] * likelihood[z] for z in range(n_concepts))
    if not is_zero(product - marginal):
        return False
    # (b) regret <= bound: exp(bound - regret) >= 1
    regret = -sp.log(marginal / likelihood[0])
    claimed = bound(pi[0])
    excess = sp.cancel(sp.exp(claimed) * marginal / likelihood[0] - 1)  # exp(bound - regret) - 1
    if sp.expand(excess).is_nonnegative is not True:
        return False
    # (c) tightness: other concepts' likelihoods -> 0 makes the regret reach the bound
    eps = sp.Symbol("epsilon", positive=True)
    vanish = {p[z][0]: eps for z in range(1, n_concepts)}
    return sp.limit(sp.expand_log(regret.subs(vanish) - claimed, force=True), eps, 0) == 0


def numeric(seed: int = 8) -> float:
    """Largest violation of telescoping or of regret <= log M for FinitePrior on random prompts."""
    from scipy.special import logsumexp
    from scipy.stats import norm

    from estimators.bayes import FinitePrior

    rng = np.random.default_rng(seed)
    M, d, n, noise, B = 16, 4, 12, 0.25, 20
    pool = rng.standard_normal((M, d))
    prior = FinitePrior(pool)
    star = rng.integers(M, size=B)
    xs = rng.standard_normal((B, n, d))
    ys = np.einsum("bnd,bd->bn", xs, pool[star]) + np.sqrt(noise) * rng.standard_normal((B, n))
    weights = np.asarray(prior.weights_prefixes(xs, ys, noise=noise))  # (B, n, M): p(z | first k pairs)
    comp_logpdf = norm.logpdf(ys[..., None], np.einsum("bnd,md->bnm", xs, pool), np.sqrt(noise))  # (B, n, M)
    with np.errstate(divide="ignore"):  # weights that underflow to 0 contribute exp(-inf) = 0
        log_weights = np.log(weights)
    bma_loss = -np.cumsum(logsumexp(log_weights + comp_logpdf, axis=-1), axis=-1)  # (B, n)
    star_loss = -np.cumsum(np.take_along_axis(comp_logpdf, star[:, None, None], axis=-1)[..., 0], axis=-1)
    violation = float(np.max(bma_loss - star_loss - np.log(M)))
    log_evidence = np.asarray(prior.posterior(xs, ys, noise=noise).log_evidence)  # (B,)
    telescoping = float(np.max(np.abs(bma_loss[:, -1] + log_evidence)))
    return max(violation, 0.0, telescoping)


LEMMA = Lemma(
    name="BMA regret <= -log pi(z*)",
    statement="sum_t -log p_BMA(y_t | y_<t) - sum_t -log p(y_t | z*, y_<t) <= -log pi(z*) (= log|Z| uniform), tight",
    source="Zhang et al. 2023, sec. 4",
    symbolic=regret_bound_holds,
    numeric=numeric,
    tolerance=1e-9,
    backed_by="estimators.bayes.FinitePrior.weights_prefixes / posterior().log_evidence",
)


def check():
    """Prove the lemma symbolically and cross-check it numerically; returns a :class:`proofs._lemma.Result`."""
    return LEMMA.check()
