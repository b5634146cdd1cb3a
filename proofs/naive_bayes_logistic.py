"""Lemma 9: Gaussian naive Bayes with a shared variance has log-odds linear in x (the logistic form).

Statement. Let class c have prior pi_c and ``x_j | c ~ N(mu_cj, s_j^2)`` independently, with
variances ``s_j^2`` shared by the classes. Then for any two classes c, c'

    log p(c | x) - log p(c' | x) = (w_c - w_c')^T x + b_c - b_c',
    w_cj = mu_cj / s_j^2,   b_c = log pi_c - sum_j mu_cj^2 / (2 s_j^2),

so ``p(c | x) = softmax_c(w_c^T x + b_c)``; with two classes ``p(1 | x) = 1 / (1 + exp(-(w^T x + b)))``,
``w_j = (mu_1j - mu_0j) / s_j^2``, ``b = log(pi_1 / pi_0) - sum_j (mu_1j^2 - mu_0j^2) / (2 s_j^2)``: the
logistic-regression model. With per-class variances the log-odds carry the term
``sum_j x_j^2 (1/s_0j^2 - 1/s_1j^2) / 2`` and are quadratic.

Proof. The log joint ``log pi_c + sum_j log N(x_j; mu_cj, s_j^2)`` is written with sympy's
``exp``/``log`` of the density, log-expanded (all symbols real, variances and priors
positive) and the difference between the pair's log-odds and the claimed linear form is
simplified to 0, for explicit d = 3 and all pairs of three classes (the identity is a sum
over coordinates, so d = 3 shows every term of the general sum). The binary sigmoid form
is then checked by ``simplify``. The check is a function of the variance model, so
per-class variances fail.

Source. Ng & Jordan 2001, "On discriminative vs. generative classifiers", section 2;
Zheng et al. 2023, section 3.

Numeric cross-check: ``estimators.classify.gaussian_nb_fit(X, y, shared_variance=True)`` and
``gaussian_nb_predict_proba(..., log=True)``: the fitted log-probabilities minus the softmax of
the lemma's linear scores (computed in numpy from the fitted means, variance and priors),
and ``gaussian_nb_linear_form`` against the same coefficients, for 2 and 3 classes.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._lemma import Lemma, is_zero

__all__ = ["LEMMA", "check", "log_odds_are_linear", "numeric"]

D, N_CLASSES = 3, 3


def _log_normal(x, mean, var):
    return sp.log(sp.exp(-((x - mean) ** 2) / (2 * var)) / sp.sqrt(2 * sp.pi * var))


def log_odds_are_linear(shared_variance: bool = True, d: int = D, n_classes: int = N_CLASSES) -> bool:
    """True iff every pairwise log-odds equals the claimed linear form (and the binary sigmoid form holds).

    Examples
    --------
    >>> log_odds_are_linear(d=1, n_classes=2)
    True
    >>> log_odds_are_linear(shared_variance=False, d=1, n_classes=2)
    False
    """
    x = sp.symbols(f"x0:{d}", real=True)
    mu = [[sp.Symbol(f"mu_{c}_{j}", real=True) for j in range(d)] for c in range(n_classes)]
    pi = sp.symbols(f"pi0:{n_classes}", positive=True)
    shared = [sp.Symbol(f"s2_{j}", positive=True) for j in range(d)]
    var = [
        shared if shared_variance else [sp.Symbol(f"s2_{c}_{j}", positive=True) for j in range(d)]
        for c in range(n_classes)
    ]
    log_joint = [sp.log(pi[c]) + sum(_log_normal(x[j], mu[c][j], var[c][j]) for j in range(d)) for c in range(n_classes)]
    # the lemma's coefficients use the shared variance
    w = [[mu[c][j] / shared[j] for j in range(d)] for c in range(n_classes)]
    b = [sp.log(pi[c]) - sum(mu[c][j] ** 2 / (2 * shared[j]) for j in range(d)) for c in range(n_classes)]
    score = [sum(w[c][j] * x[j] for j in range(d)) + b[c] for c in range(n_classes)]
    for c in range(n_classes):
        for c2 in range(c + 1, n_classes):
            if not is_zero(sp.expand_log(log_joint[c] - log_joint[c2], force=True) - (score[c] - score[c2])):
                return False
    # binary logistic form: p(1 | x) = pi_1 N_1 / (pi_0 N_0 + pi_1 N_1) = sigmoid(score_1 - score_0)
    posterior_1 = sp.exp(log_joint[1]) / (sp.exp(log_joint[0]) + sp.exp(log_joint[1]))
    sigmoid = 1 / (1 + sp.exp(-(score[1] - score[0])))
    return sp.simplify(sp.powsimp(sp.expand_log(posterior_1 - sigmoid, force=True), combine="exp")) == 0


def numeric(seed: int = 9) -> float:
    """Max |fitted log p(c | x) - log softmax(w_c^T x + b_c)| and |linear_form - lemma coefficients|."""
    from scipy.special import log_softmax

    from estimators.classify import gaussian_nb_fit, gaussian_nb_linear_form, gaussian_nb_predict_proba

    rng = np.random.default_rng(seed)
    worst = 0.0
    for n_classes, d in [(2, 4), (3, 5)]:
        centres = 2.0 * rng.standard_normal((n_classes, d))
        y = rng.integers(n_classes, size=200)
        X = centres[y] + rng.standard_normal((200, d)) * rng.uniform(0.5, 2.0, size=d)
        params = gaussian_nb_fit(X, y, shared_variance=True)
        means, var, log_prior = (np.asarray(a) for a in params)
        W = means / var  # (C, d): w_c = mu_c / s^2 (var has shape (1, d))
        b = log_prior - np.sum(means**2 / (2 * var), axis=-1)
        Xq = rng.standard_normal((50, d)) * 3
        lemma_logp = log_softmax(Xq @ W.T + b, axis=-1)
        fitted_logp = np.asarray(gaussian_nb_predict_proba(params, Xq, log=True))
        coef, intercept = (np.asarray(a) for a in gaussian_nb_linear_form(params))
        worst = max(worst, float(np.max(np.abs(fitted_logp - lemma_logp))),
                    float(np.max(np.abs(coef - W))), float(np.max(np.abs(intercept - b))))
    return worst


LEMMA = Lemma(
    name="shared-variance Gaussian NB = logistic",
    statement="x_j | c ~ N(mu_cj, s_j^2)  =>  log p(1|x)/p(0|x) = w^T x + b, w_j = (mu_1j - mu_0j)/s_j^2, b = log(pi_1/pi_0) - sum_j (mu_1j^2 - mu_0j^2)/(2 s_j^2)",
    source="Ng & Jordan 2001, sec. 2; Zheng et al. 2023, sec. 3",
    symbolic=log_odds_are_linear,
    numeric=numeric,
    tolerance=1e-10,
    backed_by="estimators.classify.gaussian_nb_fit(shared_variance=True) / gaussian_nb_predict_proba / gaussian_nb_linear_form",
)


def check():
    """Prove the lemma symbolically and cross-check it numerically; returns a :class:`proofs._lemma.Result`."""
    return LEMMA.check()
