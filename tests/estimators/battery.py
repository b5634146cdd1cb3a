"""The bad-input battery: every public name of :mod:`estimators` against the inputs users get wrong.

The role scikit-learn's ``check_estimator`` plays, for pure functions: each public name of
``estimators.__all__`` has one or more entries (:data:`SPECS`), each a small valid call plus the
roles of its arguments; the battery derives the bad calls from the roles (NaN, inf, empty, wrong
ndim, wrong trailing shape, mismatched lengths, object / str / complex / bool / float16 / int dtypes,
lists, mixed numpy/torch, scales 1e-300..1e300, duplicate points, one class, out-of-range labels,
bad scalars: NaN, inf, negative, zero, a string, a bool) and the calls that must work (read-only
and strided arrays, the torch and float64 versions of the valid call). Each call is classified:

``ok``
    returned finite values (or a documented non-finite value, see ``Spec.nonfinite_ok``);
``named``
    a ``ValueError`` / ``TypeError`` whose message names the argument (or, for a mix of libraries,
    says so);
``unnamed``
    a ``ValueError`` / ``TypeError`` that does not name the argument;
``unexpected``
    any other exception, or any exception on a call that must work;
``silent``
    returned NaN or inf from finite inputs;
``modified``
    changed one of its input arrays.

``python -m tests.estimators.battery`` prints the table per module (and every failing call with
``-v``); ``tests/estimators/test_battery.py`` asserts no ``unexpected`` and no ``silent``.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
import warnings
from collections import Counter, defaultdict
from typing import Any, Callable

import numpy as np
import torch

import estimators as E

RNG_SEED = 0
N, D = 6, 3
SCALES = (1e-300, 1e-150, 1e150, 1e300)
CATEGORIES = ("ok", "named", "unnamed", "unexpected", "silent", "modified")


@dataclasses.dataclass
class Spec:
    """One entry of the battery: a valid call and the roles of its arguments.

    ``build()`` returns the keyword arguments of a valid call; ``call(kw)`` runs it.
    ``arrays`` maps an argument to its role: ``"points"`` (..., n, d), ``"targets"`` (..., n),
    ``"labels"`` (integer class labels, ..., n), ``"array"`` (any other array). ``scalars`` maps a
    numeric argument to ``"positive"``, ``"nonneg"``, ``"int"`` (>= 1), ``"int0"`` (>= 0),
    ``"unit"`` (in (0, 1)) or ``"real"``. ``torch_only``: the valid call uses torch tensors.
    """

    name: str
    build: Callable[[], dict]
    call: Callable[[dict], Any]
    arrays: dict = dataclasses.field(default_factory=dict)
    scalars: dict = dataclasses.field(default_factory=dict)
    torch_only: bool = False
    nonfinite_ok: bool = False  # outputs may hold -inf by definition (log-probabilities of impossible events)
    scales: bool = True
    fitted: bool = False  # holds a fitted model of numpy float64: other libraries and dtypes are mismatches
    label: str = ""

    @property
    def module(self) -> str:
        return E._OWNER[self.name]


# ------------------------------------------------------------------------------------------------
# Valid data


def _rng():
    return np.random.default_rng(RNG_SEED)


def _X(n=N, d=D, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


def _y(n=N, seed=1):
    return np.random.default_rng(seed).standard_normal(n)


def _labels(n=N):
    return np.arange(n) % 2


def _prompt(b=2, n=5, d=D):
    r = _rng()
    return r.standard_normal((b, n, d)), r.standard_normal((b, n))


def _label_prompt(b=2, n=6, d=D):
    r = _rng()
    return r.standard_normal((b, n, d)), np.tile(np.arange(n) % 2, (b, 1)).astype(float)


def _t(a, dtype=torch.float32):
    return torch.as_tensor(np.asarray(a), dtype=dtype)


def _net(d_in=D, d_out=4):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(d_in, d_out), torch.nn.Tanh())


# ------------------------------------------------------------------------------------------------
# The entries


def _specs() -> list[Spec]:
    S: list[Spec] = []

    def add(name, build, call, arrays=None, scalars=None, **kw):
        S.append(Spec(name, build, call, arrays or {}, scalars or {}, **kw))

    P, T, L, A = "points", "targets", "labels", "array"

    # linear
    add("ols", lambda: dict(X=_X(), y=_y()), lambda k: E.ols(**k), {"X": P, "y": T})
    add("ridge", lambda: dict(X=_X(), y=_y(), lam=1.0), lambda k: E.ridge(**k), {"X": P, "y": T}, {"lam": "nonneg"})
    add("gd", lambda: dict(X=_X(), y=_y(), lr=0.1, steps=3), lambda k: E.gd(**k), {"X": P, "y": T},
        {"lr": "positive", "steps": "int0"})
    add("averaging", lambda: dict(X=_X(), y=_y()), lambda k: E.averaging(**k), {"X": P, "y": T})
    add("knn_predict", lambda: dict(X=_X(), y=_y(), Xq=_X(4, seed=5), k=2), lambda k: E.knn_predict(**k),
        {"X": P, "y": T, "Xq": P}, {"k": "int"})
    for name in ("ols_prefixes", "averaging_prefixes"):
        add(name, lambda: dict(zip(("xs", "ys"), _prompt())), lambda k, f=getattr(E, name): f(**k),
            {"xs": P, "ys": T})
    add("ridge_prefixes", lambda: dict(zip(("xs", "ys"), _prompt()), lam=0.5), lambda k: E.ridge_prefixes(**k),
        {"xs": P, "ys": T}, {"lam": "nonneg"})
    add("gd_prefixes", lambda: dict(zip(("xs", "ys"), _prompt()), lr=0.1, steps=3), lambda k: E.gd_prefixes(**k),
        {"xs": P, "ys": T}, {"lr": "positive", "steps": "int0"})
    add("knn_prefixes", lambda: dict(zip(("xs", "ys"), _prompt()), k=2), lambda k: E.knn_prefixes(**k),
        {"xs": P, "ys": T}, {"k": "int"})

    # sparse
    add("lasso", lambda: dict(X=_X(), y=_y(), alpha=0.1), lambda k: E.lasso(**k), {"X": P, "y": T},
        {"alpha": "positive", "tol": "positive", "max_iter": "int"})
    add("lasso_prefixes", lambda: dict(zip(("xs", "ys"), _prompt()), alpha=0.1), lambda k: E.lasso_prefixes(**k),
        {"xs": P, "ys": T}, {"alpha": "positive"})
    add("lasso_weights_prefixes", lambda: dict(zip(("xs", "ys"), _prompt()), alpha=0.1),
        lambda k: E.lasso_weights_prefixes(**k), {"xs": P, "ys": T}, {"alpha": "positive"})
    add("lasso_objective", lambda: dict(X=_X(), y=_y(), w=_y(D, seed=3), alpha=0.1), lambda k: E.lasso_objective(**k),
        {"X": P, "y": T, "w": A}, {"alpha": "nonneg"})
    add("linf_min", lambda: dict(X=_X(3, 5), y=_y(3)), lambda k: E.linf_min(**k), {"X": P, "y": T},
        {"chunk": "int"})
    add("linf_min_prefixes", lambda: dict(xs=_X(3, 5), ys=_y(3)), lambda k: E.linf_min_prefixes(**k),
        {"xs": P, "ys": T}, {"chunk": "int"})

    # bayes
    def gprior(k):
        return E.GaussianPrior(k["mean"], k["cov"])

    def gauss_kw():
        xs, ys = _prompt()
        return dict(mean=np.zeros(D), cov=np.eye(D), xs=xs, ys=ys, noise=0.25)

    bayes_arrays = {"xs": P, "ys": T}
    add("GaussianPrior", gauss_kw, lambda k: gprior(k).predict_prefixes(k["xs"], k["ys"], k["noise"]),
        {"mean": A, "cov": A, **bayes_arrays}, {"noise": "positive"})
    # the priors' methods name their arrays xs, ys (posterior's X, y included)
    add("GaussianPrior", lambda: {k: v for k, v in gauss_kw().items() if k not in ("xs", "ys")} | dict(xs=_X(), ys=_y()),
        lambda k: gprior(k).log_predictive_prefixes(k["xs"], k["ys"], k["noise"]), {"xs": P, "ys": T},
        {"noise": "positive"}, label="log_predictive_prefixes")
    add("GaussianPosterior", lambda: {k: v for k, v in gauss_kw().items() if k not in ("xs", "ys")} | dict(xs=_X(), ys=_y()),
        lambda k: gprior(k).posterior(k["xs"], k["ys"], k["noise"]), {"xs": P, "ys": T}, {"noise": "positive"})

    def mixture(k):
        comps = [E.GaussianPrior(np.zeros(D), np.eye(D)), E.GaussianPrior(np.ones(D), 0.5 * np.eye(D))]
        return E.MixturePrior(comps, k["weights"])

    add("MixturePrior", lambda: dict(weights=np.array([0.3, 0.7]), xs=_prompt()[0], ys=_prompt()[1], noise=0.25),
        lambda k: mixture(k).predict_prefixes(k["xs"], k["ys"], k["noise"]), {"weights": A, **bayes_arrays},
        {"noise": "positive"})
    add("MixturePosterior", lambda: dict(weights=np.array([0.3, 0.7]), xs=_X(), ys=_y(), noise=0.25),
        lambda k: mixture(k).posterior(k["xs"], k["ys"], k["noise"]), {"xs": P, "ys": T}, {"noise": "positive"})
    add("FinitePrior", lambda: dict(pool=_X(4, D, seed=7), xs=_prompt()[0], ys=_prompt()[1], noise=0.25),
        lambda k: E.FinitePrior(k["pool"]).predict_prefixes(k["xs"], k["ys"], k["noise"]),
        {"pool": A, **bayes_arrays}, {"noise": "positive"})
    add("SparsePrior", lambda: dict(d=D, k=1, scale=1.0, xs=_prompt()[0], ys=_prompt()[1], noise=0.25),
        lambda k: E.SparsePrior(k["d"], k["k"], k["scale"]).predict_prefixes(k["xs"], k["ys"], k["noise"]),
        bayes_arrays, {"d": "int", "k": "int", "scale": "positive", "noise": "positive"})
    add("SignPrior", lambda: dict(d=D, scale=1.0, xs=_prompt()[0], ys=_prompt()[1], noise=0.25),
        lambda k: E.SignPrior(k["d"], k["scale"]).predict_prefixes(k["xs"], k["ys"], k["noise"]),
        bayes_arrays, {"d": "int", "scale": "positive", "noise": "positive"})

    def fourier_kw():
        r = _rng()
        return dict(xs=r.uniform(-1, 1, (2, 5, 1)), ys=r.standard_normal((2, 5)), noise=0.25)

    add("FeaturePrior", fourier_kw,
        lambda k: E.FeaturePrior(E.FourierFeatures(2), E.GaussianPrior(np.zeros(5), np.eye(5))).predict_prefixes(
            k["xs"], k["ys"], k["noise"]), bayes_arrays, {"noise": "positive"})
    add("FourierFeatures", lambda: dict(max_freq=2, period_length=1.0, x=_rng().uniform(-1, 1, (5, 1))),
        lambda k: E.FourierFeatures(k["max_freq"], k["period_length"])(k["x"]), {"x": A},
        {"max_freq": "int", "period_length": "positive"})
    add("fourier_mixture_prior", lambda: dict(max_freq=2, period_length=1.0, scale=1.0) | fourier_kw(),
        lambda k: E.fourier_mixture_prior(k["max_freq"], k["period_length"], k["scale"]).predict_prefixes(
            k["xs"], k["ys"], k["noise"]), bayes_arrays,
        {"max_freq": "int", "period_length": "positive", "scale": "positive", "noise": "positive"})

    # classify
    lab = {"X": P, "y": L}
    for prefix, extra in (("gaussian_nb", {"var_smoothing": "positive"}), ("bernoulli_nb", {"alpha": "positive"}),
                          ("logistic", {"C": "positive"})):
        fit = getattr(E, f"{prefix}_fit")
        params_name = {"gaussian_nb": "GaussianNBParams", "bernoulli_nb": "BernoulliNBParams",
                       "logistic": "LogisticParams"}[prefix]
        add(f"{prefix}_fit", lambda: dict(X=_X(), y=_labels()), lambda k, f=fit: f(**k), lab, extra)
        add(f"{prefix}_fit", lambda: dict(X=_X(), y=_labels(), n_classes=2), lambda k, f=fit: f(**k), lab,
            {"n_classes": "int"}, label="n_classes")
        add(params_name, lambda: dict(X=_X(), y=_labels()), lambda k, f=fit: f(**k), lab)
        for suffix in ("predict_proba", "predict"):
            f = getattr(E, f"{prefix}_{suffix}")
            add(f"{prefix}_{suffix}", lambda fit=fit: dict(params=fit(_X(), _labels()), X=_X(4, seed=9)),
                lambda k, f=f: f(**k), {"X": P}, fitted=True)
        pre = getattr(E, f"{prefix}_prefixes")
        add(f"{prefix}_prefixes", lambda: dict(zip(("xs", "ys"), _label_prompt())), lambda k, f=pre: f(**k),
            {"xs": P, "ys": L}, extra)
    add("gaussian_nb_linear_form", lambda: dict(params=E.gaussian_nb_fit(_X(), _labels(), shared_variance=True)),
        lambda k: E.gaussian_nb_linear_form(**k))
    add("gaussian_classes_bayes_prefixes", lambda: dict(zip(("xs", "ys"), _label_prompt()), n_classes=2, nodes=8),
        lambda k: E.gaussian_classes_bayes_prefixes(**k), {"xs": P, "ys": L},
        {"n_classes": "int", "mean_scale": "positive", "nodes": "int"})

    # kernels
    two = {"X": P, "Y": P}
    for kname, kargs, kscal in (("GaussianKernel", dict(bandwidth=0.7), {"bandwidth": "positive"}),
                                ("LaplaceKernel", dict(bandwidth=0.7), {"bandwidth": "positive"}),
                                ("LinearKernel", {}, {}),
                                ("PolynomialKernel", dict(degree=2, c=1.0), {"degree": "int", "c": "nonneg"}),
                                ("PeriodicKernel", dict(bandwidth=0.7, period=2.0),
                                 {"bandwidth": "positive", "period": "positive"})):
        cls = getattr(E, kname)
        add(kname, lambda kargs=kargs: dict(X=_X(), Y=_X(4, seed=2)) | kargs,
            lambda k, cls=cls, names=tuple(kargs): cls(**{n: k[n] for n in names})(k["X"], k["Y"]), two, kscal)
    add("FeatureKernel", lambda: dict(X=_rng().uniform(-1, 1, (5, 1)), Y=_rng().uniform(-1, 1, (4, 1)), variances=1.0),
        lambda k: E.FeatureKernel(E.FourierFeatures(2), k["variances"])(k["X"], k["Y"]), two,
        {"variances": "positive"})
    add("FourierKernel", lambda: dict(X=_rng().uniform(-1, 1, (5, 1)), Y=_rng().uniform(-1, 1, (4, 1)), max_freq=2,
                                      period_length=1.0),
        lambda k: E.FourierKernel(k["max_freq"], k["period_length"])(k["X"], k["Y"]), two,
        {"max_freq": "int", "period_length": "positive"})
    add("squared_distances", lambda: dict(X=_X(), Y=_X(4, seed=2)), lambda k: E.squared_distances(**k), two)
    add("median_heuristic", lambda: dict(X=_X(), Y=_X(4, seed=2)), lambda k: E.median_heuristic(**k), two)
    g = E.GaussianKernel(1.0)
    add("kernel_ridge_fit", lambda: dict(X=_X(), y=_y(), kernel=g, lam=0.1), lambda k: E.kernel_ridge_fit(**k),
        {"X": P, "y": T}, {"lam": "nonneg"})
    add("KernelRidgeParams", lambda: dict(X=_X(), y=_y(), kernel=g, lam=0.1), lambda k: E.kernel_ridge_fit(**k),
        {"X": P, "y": T})
    add("kernel_ridge_predict", lambda: dict(params=E.kernel_ridge_fit(_X(), _y(), g, 0.1), Xq=_X(4, seed=2)),
        lambda k: E.kernel_ridge_predict(**k), {"Xq": P}, fitted=True)
    add("kernel_ridge_prefixes", lambda: dict(zip(("xs", "ys"), _prompt()), kernel=g, lam=0.1),
        lambda k: E.kernel_ridge_prefixes(**k), {"xs": P, "ys": T}, {"lam": "nonneg"})
    add("gp_posterior", lambda: dict(X=_X(), y=_y(), kernel=g, noise_var=0.1, Xq=_X(4, seed=2)),
        lambda k: E.gp_posterior(**k), {"X": P, "y": T, "Xq": P}, {"noise_var": "positive"})
    add("GPPosterior", lambda: dict(X=_X(), y=_y(), kernel=g, noise_var=0.1, Xq=_X(4, seed=2)),
        lambda k: E.gp_posterior(**k), {"X": P, "y": T, "Xq": P})
    add("gp_log_marginal_likelihood", lambda: dict(X=_X(), y=_y(), kernel=g, noise_var=0.1),
        lambda k: E.gp_log_marginal_likelihood(**k), {"X": P, "y": T}, {"noise_var": "positive"})
    for name in ("gp_log_predictive_prefixes", "gp_predictive_moments_prefixes"):
        add(name, lambda: dict(zip(("xs", "ys"), _prompt()), kernel=g, noise_var=0.1),
            lambda k, f=getattr(E, name): f(**k), {"xs": P, "ys": T}, {"noise_var": "positive"})

    # mmd
    for name in ("mmd2", "mpp", "mmd2_h1_variance", "mpp_h1_variance"):
        add(name, lambda: dict(X=_X(), Y=_X(seed=4) + 0.5, kernel=g), lambda k, f=getattr(E, name): f(**k), two)
    for name in ("permutation_test", "PermutationTestResult"):
        add(name, lambda: dict(X=_X(), Y=_X(seed=4) + 0.5, kernel=g, n_permutations=19),
            lambda k: E.permutation_test(**k), two, {"n_permutations": "int"})
    add("DeepKernel", lambda: dict(X=_X(), Y=_X(4, seed=2), bandwidth_phi=1.0, bandwidth_q=1.0, e=0.1),
        lambda k: E.DeepKernel(_net(), k["bandwidth_phi"], k["bandwidth_q"], k["e"])(k["X"], k["Y"]), two,
        {"bandwidth_phi": "positive", "bandwidth_q": "positive", "e": "unit"})
    add("DeepKernel", lambda: dict(X=_t(_X()), Y=_t(_X(4, seed=2))),
        lambda k: E.DeepKernel(_net())(k["X"], k["Y"]), two, torch_only=True, label="torch")
    add("featurizer", lambda: dict(d_in=D, hidden=4, n_out=4, seed=0), lambda k: E.featurizer(**k)(_t(_X())),
        {}, {"d_in": "int", "hidden": "int", "n_out": "int", "seed": "int0"})
    add("train_kernel", lambda: dict(X_train=_X(8), Y_train=_X(8, seed=4) + 0.5, n_epochs=2, hidden=4, n_out=4),
        lambda k: E.train_kernel(**k)(_X(), _X(seed=4)), {"X_train": P, "Y_train": P},
        {"n_epochs": "int", "hidden": "int", "n_out": "int", "lr": "positive", "eps": "positive"})
    add("train_kernel", lambda: dict(X_train=_t(_X(8)), Y_train=_t(_X(8, seed=4) + 0.5), n_epochs=2, hidden=4, n_out=4),
        lambda k: E.train_kernel(**k)(k["X_train"]), {"X_train": P, "Y_train": P}, torch_only=True, label="torch")
    for name in ("train_classifier", "C2STClassifier"):
        add(name, lambda: dict(X_train=_X(8), Y_train=_X(8, seed=4) + 0.5, hidden=4, n_epochs=2),
            lambda k: E.train_classifier(**k)(np.concatenate([k["X_train"], k["Y_train"]])) if not torch.is_tensor(
                k["X_train"]) else E.train_classifier(**k)(k["X_train"]),
            {"X_train": P, "Y_train": P}, {"hidden": "int", "n_epochs": "int", "lr": "positive"})
    add("c2st", lambda: dict(X=_X(12), Y=_X(12, seed=4) + 0.5, n_permutations=9, n_epochs=2, hidden=4),
        lambda k: E.c2st(**k), two, {"n_permutations": "int", "train_fraction": "unit"})

    # distill
    def krr_kw():
        F = _X(4, 3, seed=11)
        return dict(K_ss=_t(F @ F.T + np.eye(4)), K_rs=_t(_X(5, 3) @ F.T), Y_s=_t(_X(4, 2, seed=12)))

    add("krr_predict", krr_kw, lambda k: E.krr_predict(**k), {"K_ss": A, "K_rs": A, "Y_s": A},
        {"lam_scale": "positive"}, torch_only=True, scales=False)

    def target(x):
        return torch.tanh(x[:, :2])

    def distill_kw(m=3):
        return dict(X_real=_t(_X(10)), m=m)

    add("krr_st", lambda: distill_kw() | dict(steps=2, batch_size=4, pool_size=1, reinit_every=2, lr=1e-2),
        lambda k: E.krr_st(k.pop("X_real"), target, lambda: _net(), **k), {"X_real": P},
        {"m": "int", "steps": "int", "batch_size": "int", "lr": "positive", "lam_scale": "positive"},
        torch_only=True)
    add("kip", lambda: distill_kw() | dict(steps=2, batch_size=4), lambda k: E.kip(k.pop("X_real"), target, **k),
        {"X_real": P}, {"m": "int", "steps": "int", "lr": "positive", "lam_scale": "positive"}, torch_only=True)
    for name in ("random_subset", "DistilledSet"):
        add(name, distill_kw, lambda k: E.random_subset(k.pop("X_real"), target, **k), {"X_real": P},
            {"m": "int"}, torch_only=True)
    add("kmeans_coreset", lambda: distill_kw() | dict(iters=3), lambda k: E.kmeans_coreset(k.pop("X_real"), target, **k),
        {"X_real": P}, {"m": "int", "iters": "int"}, torch_only=True)
    add("pretrain", lambda: dict(X=_t(_X()), Y=_t(_X(N, 2, seed=3)), steps=2, batch_size=4),
        lambda k: E.pretrain(_net_like(k["X"]), **k), {"X": P, "Y": P},
        {"steps": "int", "lr": "positive", "batch_size": "int"}, torch_only=True)
    add("pretrain_supervised", lambda: dict(X=_t(_X()), labels=torch.as_tensor(_labels()), steps=2, batch_size=4),
        lambda k: E.pretrain_supervised(_net_like(k["X"]), **k), {"X": P, "labels": L},
        {"steps": "int", "lr": "positive", "n_classes": "int"}, torch_only=True)
    return S


def _net_like(X):
    """The battery's small network, in the dtype of a floating tensor ``X`` (float32 otherwise)."""
    dtype = X.dtype if torch.is_tensor(X) and X.dtype in (torch.float32, torch.float64) else torch.float32
    return _net().to(dtype)


SPECS = _specs()


# ------------------------------------------------------------------------------------------------
# Mutations: (label, kind, kwargs) with kind "bad" (a named error or a finite answer) or "valid"


def _np(a):
    return a.detach().cpu().numpy() if torch.is_tensor(a) else np.asarray(a)


def _like(new, old):
    """``new`` (numpy) in the library of ``old`` (torch tensors keep their dtype unless ``new`` changed kind)."""
    if torch.is_tensor(old):
        if new.dtype.kind in "fc" and new.dtype != np.float16:
            return torch.as_tensor(new.astype(_np(old).dtype) if _np(old).dtype.kind == new.dtype.kind else new)
        try:
            return torch.as_tensor(new)
        except TypeError:
            return new
    return new


def _floaty(a) -> bool:
    return _np(a).dtype.kind == "f"


def _mutations(spec: Spec):
    with np.errstate(all="ignore"):  # scaled copies overflow float32 on purpose
        yield from _mutations_of(spec)


def _mutations_of(spec: Spec):
    base = spec.build()
    yield "valid", "valid", base
    arrays = [k for k in spec.arrays if k in base]
    # every backend: torch float64 / float32 for numpy entries, float64 for torch entries
    if arrays and not spec.torch_only:
        yield "torch float64", "bad" if spec.fitted else "valid", {**base, **{k: _like_torch(base[k], torch.float64) for k in arrays}}
        yield "float32", "bad" if spec.fitted else "valid", {**base, **{k: _cast(base[k], np.float32) for k in arrays if _floaty(base[k])}}
    if arrays and spec.torch_only:
        yield "torch float64", "valid", {**base, **{k: base[k].double() if base[k].is_floating_point() else base[k]
                                                    for k in arrays}}
    for name in arrays:
        role, a = spec.arrays[name], base[name]
        v = _np(a)
        mk = lambda new, name=name, a=a: {**base, name: _like(new, a)}  # noqa: E731
        tag = f"{name}:"
        if role != "labels" or v.dtype.kind == "f":
            if v.dtype.kind == "f":
                for bad in (np.nan, np.inf, -np.inf):
                    w = v.copy()
                    w.flat[0] = bad
                    yield f"{tag}{bad}", "bad", mk(w)
        yield f"{tag}empty", "bad", mk(v[..., :0, :] if role == "points" and v.ndim >= 2 else v[..., :0])
        yield f"{tag}ndim-1", "bad", mk(v[..., 0])
        yield f"{tag}ndim+1", "bad", mk(v[..., None])
        yield f"{tag}0-d", "bad", mk(np.asarray(v.flat[0]))
        if role == "points" and v.ndim >= 2:
            yield f"{tag}wrong d", "bad", mk(np.concatenate([v, v[..., :1]], axis=-1))
            yield f"{tag}n-1", "bad", mk(v[..., :-1, :])
            dup = np.broadcast_to(v[..., :1, :], v.shape).copy()
            yield f"{tag}duplicate points", "bad", mk(dup)
        elif v.ndim >= 1:
            yield f"{tag}n-1", "bad", mk(v[..., :-1])
        for dt in (object, str, complex, bool, np.float16, np.int64):
            try:
                w = v.astype(dt)
            except (TypeError, ValueError):
                continue
            yield f"{tag}dtype {np.dtype(dt).name}", "bad", {**base, name: w if dt in (object, str) else _like(w, a)}
        yield f"{tag}list", "bad", {**base, name: v.tolist()}
        if not spec.torch_only:
            yield f"{tag}torch mix", "bad", {**base, name: torch.as_tensor(v)}
            ro = v.copy()
            ro.setflags(write=False)
            yield f"{tag}read-only", "valid", {**base, name: ro}
        else:
            yield f"{tag}numpy mix", "bad", {**base, name: v}
        wide = np.repeat(v, 2, axis=-1)[..., ::2] if v.ndim else v
        yield f"{tag}strided", "valid", {**base, name: _like(wide, a) if not torch.is_tensor(a) else
                                           torch.as_tensor(np.repeat(v, 2, axis=-1))[..., ::2] if v.ndim else a}
        if v.ndim >= 2:
            yield f"{tag}fortran", "valid", {**base, name: np.asfortranarray(v) if not torch.is_tensor(a)
                                              else torch.as_tensor(v).mT.contiguous().mT}
        if role == "labels":
            for bad, lab in ((-1, "label -1"), (2**40, "label 2**40"), (7, "label 7")):
                w = v.copy()
                w.flat[0] = bad
                yield f"{tag}{lab}", "bad", mk(w)
            if v.dtype.kind == "f":
                w = v.copy()
                w.flat[0] = 0.5
                yield f"{tag}label 0.5", "bad", mk(w)
            yield f"{tag}one class", "bad", mk(np.zeros_like(v))
            if "n_classes" in spec.scalars:
                yield f"{tag}absent class (n_classes=3)", "bad", {**mk(v), "n_classes": 3}
        if spec.scales and v.dtype.kind == "f" and role in ("points", "targets", "array"):
            for s in SCALES + (1e-310,):
                yield f"{tag}scale {s:g}", "bad", mk(v * s)
    if spec.scales:
        floats = [k for k in arrays if spec.arrays[k] in ("points", "targets") and _floaty(base[k])]
        if len(floats) > 1:
            for s in SCALES:
                yield f"all:scale {s:g}", "bad", {**base, **{k: _like(_np(base[k]) * s, base[k]) for k in floats}}
    for name, kind in spec.scalars.items():
        bads = [("nan", math.nan), ("inf", math.inf), ("str", "1"), ("bool", True), ("None", None)]
        bads += {"positive": [("0", 0.0), ("-1", -1.0)], "nonneg": [("-1", -1.0)],
                 "int": [("0", 0), ("-1", -1), ("1.5", 1.5)], "int0": [("-1", -1), ("1.5", 1.5)],
                 "unit": [("0", 0.0), ("1", 1.0), ("-1", -1.0)], "real": []}[kind]
        for lab, val in bads:
            if val is None and name not in base:
                continue  # None is the default of optional arguments
            yield f"{name}={lab}", "scalar", {**base, name: val}


def _like_torch(a, dtype):
    v = _np(a)
    return torch.as_tensor(v, dtype=dtype) if v.dtype.kind == "f" else torch.as_tensor(v)


def _cast(a, dtype):
    return a.astype(dtype) if isinstance(a, np.ndarray) else a.to(torch.float32)


# ------------------------------------------------------------------------------------------------
# Running and classifying


def _leaves(out, path=""):
    """(path, array) for every array in an output (tuples, named tuples, dataclasses, modules)."""
    if isinstance(out, torch.nn.Module):
        for name, p in out.named_parameters():
            yield f"{path}.{name}", p.detach()
        return
    if hasattr(out, "shape"):
        yield path, out
        return
    if isinstance(out, float):
        yield path, np.asarray(out)
        return
    if dataclasses.is_dataclass(out):
        items = [(f.name, getattr(out, f.name)) for f in dataclasses.fields(out)]
    elif isinstance(out, tuple) and hasattr(out, "_fields"):
        items = list(zip(out._fields, out))
    elif isinstance(out, dict):
        items = list(out.items())
    elif isinstance(out, (list, tuple)):
        items = [(str(i), o) for i, o in enumerate(out)]
    else:
        return
    for name, o in items:
        yield from _leaves(o, f"{path}.{name}")


def _finite(out) -> bool:
    """No NaN and no inf, except -inf in a log-probability field (``log_prior`` of an absent class)."""
    for path, leaf in _leaves(out):
        a = np.asarray(_np(leaf))
        if a.dtype.kind not in "fc" or not a.size:
            continue
        bad = ~np.isfinite(a)
        if "log" in path.rsplit(".", 1)[-1]:
            bad &= ~np.isneginf(a)
        if bad.any():
            return False
    return True


def _snapshot(kw):
    return {k: (_np(v).copy() if isinstance(v, (np.ndarray, torch.Tensor)) else None) for k, v in kw.items()}


def _same(snap, kw):
    for k, v in snap.items():
        if v is not None and not np.array_equal(v, _np(kw[k]), equal_nan=v.dtype.kind in "fc"):
            return False
    return True


def _named(err: BaseException, param: str, label: str) -> bool:
    msg = str(err)
    if param in ("all",):
        return any(p in msg for p in ("X", "Y", "x", "y"))
    if "mix" in label and "library" in msg:
        return True
    return param in msg


@dataclasses.dataclass
class Result:
    spec: Spec
    label: str
    kind: str
    category: str
    detail: str
    seconds: float


def run_spec(spec: Spec) -> list[Result]:
    results = []
    for label, kind, kw in _mutations(spec):
        param = label.split(":")[0].split("=")[0] if (":" in label or "=" in label) else ""
        snap = _snapshot(kw)
        call_kw = dict(kw)
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = spec.call(call_kw)
        except (ValueError, TypeError) as err:
            dt = time.perf_counter() - t0
            if kind == "valid":
                cat = "unexpected"
            else:
                cat = "named" if _named(err, param, label) else "unnamed"
            results.append(Result(spec, label, kind, cat, f"{type(err).__name__}: {err}"[:300], dt))
            continue
        except Exception as err:  # noqa: BLE001 - classifying every failure is the point
            dt = time.perf_counter() - t0
            results.append(Result(spec, label, kind, "unexpected", f"{type(err).__name__}: {err}"[:300], dt))
            continue
        dt = time.perf_counter() - t0
        if not _same(snap, kw):
            cat, detail = "modified", "an input array changed"
        elif not spec.nonfinite_ok and not _finite(out):
            inputs_finite = all(np.all(np.isfinite(v)) for v in snap.values() if v is not None and v.dtype.kind in "fc")
            cat, detail = ("silent", "returned NaN/inf") if inputs_finite or kind == "valid" else (
                "silent", "NaN/inf in, NaN/inf out")
        else:
            cat, detail = "ok", ""
        results.append(Result(spec, label, kind, cat, detail, dt))
    return results


def run_all(names=None) -> list[Result]:
    torch.manual_seed(0)
    out = []
    for spec in SPECS:
        if names is None or spec.name in names:
            out.extend(run_spec(spec))
    return out


def table(results: list[Result]) -> str:
    by_module: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        by_module[r.spec.module][r.category] += 1
    lines = ["| module | calls | ok | named errors | unnamed errors | unexpected exceptions | silent NaN/inf "
             "| input modified |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    total = Counter()
    for module in E._EXPORTS:
        c = by_module[module]
        total.update(c)
        lines.append(f"| {module} | {sum(c.values())} | " + " | ".join(str(c[k]) for k in CATEGORIES) + " |")
    lines.append(f"| **all** | {sum(total.values())} | " + " | ".join(str(total[k]) for k in CATEGORIES) + " |")
    return "\n".join(lines)


def failures(results: list[Result], categories=("unnamed", "unexpected", "silent", "modified")) -> list[str]:
    return [f"{r.category:10s} {r.spec.name}{'[' + r.spec.label + ']' if r.spec.label else ''} {r.label}: {r.detail}"
            for r in results if r.category in categories]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = [a for a in argv if not a.startswith("-")] or None
    t0 = time.perf_counter()
    results = run_all(names)
    print(table(results))
    print(f"\n{len(results)} calls over {len({r.spec.name for r in results})} public names in "
          f"{time.perf_counter() - t0:.1f} s")
    slow = sorted(results, key=lambda r: -r.seconds)[:5]
    print("slowest calls: " + ", ".join(f"{r.spec.name} {r.label} {r.seconds:.2f} s" for r in slow))
    bad = failures(results, ("unexpected", "silent", "modified") + (("unnamed",) if "-v" in argv else ()))
    if bad:
        print("\n" + "\n".join(bad))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
