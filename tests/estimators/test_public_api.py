"""The public import paths of ``estimators`` are pinned, and ``import estimators`` stays light."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import estimators

TOPICS = {
    "linear": ["ols", "ridge", "gd", "averaging", "knn_predict",
               "ols_prefixes", "ridge_prefixes", "gd_prefixes", "averaging_prefixes", "knn_prefixes"],
    "sparse": ["lasso", "lasso_prefixes", "lasso_objective", "lasso_weights_prefixes", "linf_min",
               "linf_min_prefixes"],
    "bayes": ["GaussianPosterior", "MixturePosterior", "GaussianPrior", "MixturePrior", "FinitePrior",
              "SparsePrior", "SignPrior", "FeaturePrior", "FourierFeatures", "fourier_mixture_prior"],
    "classify": ["GaussianNBParams", "BernoulliNBParams", "LogisticParams", "gaussian_nb_fit",
                 "gaussian_nb_predict_proba", "gaussian_nb_predict", "gaussian_nb_linear_form",
                 "gaussian_nb_prefixes", "bernoulli_nb_fit", "bernoulli_nb_predict_proba",
                 "bernoulli_nb_predict", "bernoulli_nb_prefixes", "logistic_fit", "logistic_predict_proba",
                 "logistic_predict", "logistic_prefixes", "gaussian_classes_bayes_prefixes"],
    "kernels": ["GaussianKernel", "LaplaceKernel", "LinearKernel", "PolynomialKernel", "PeriodicKernel",
                "FeatureKernel", "FourierKernel", "squared_distances", "median_heuristic", "KernelRidgeParams",
                "kernel_ridge_fit", "kernel_ridge_predict", "kernel_ridge_prefixes", "GPPosterior",
                "gp_posterior", "gp_log_marginal_likelihood", "gp_log_predictive_prefixes",
                "gp_predictive_moments_prefixes"],
    "mmd": ["mmd2", "mpp", "mmd2_h1_variance", "mpp_h1_variance", "permutation_test", "PermutationTestResult",
            "DeepKernel", "train_kernel", "featurizer", "C2STClassifier", "train_classifier", "c2st"],
    "distill": ["DistilledSet", "krr_predict", "krr_st", "kip", "random_subset", "kmeans_coreset", "pretrain",
                "pretrain_supervised"],
}


def test_top_level_all_is_the_union_of_the_topics():
    expected = [name for names in TOPICS.values() for name in names]
    assert sorted(estimators.__all__) == sorted(expected)
    assert len(set(estimators.__all__)) == len(estimators.__all__)


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_each_topic_exports_exactly_its_names_and_the_top_level_is_the_same_object(topic):
    module = importlib.import_module(f"estimators.{topic}")
    assert sorted(module.__all__) == sorted(TOPICS[topic])
    for name in TOPICS[topic]:
        assert getattr(estimators, name) is getattr(module, name), name


def test_stable_paths_used_in_coursework_and_papers():
    from estimators import ridge  # noqa: F401
    from estimators.bayes import GaussianPrior
    from estimators.mmd_data import blob, hdgm, multi_population  # noqa: F401
    from estimators.validation import check_array  # noqa: F401

    assert GaussianPrior.__module__.startswith("estimators.bayes")
    assert blob.__module__ == "estimators.mmd.data"


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        estimators.nosuch  # noqa: B018


def _modules_after(statement: str) -> dict:
    code = f"import sys, json\n{statement}\nprint(json.dumps({{m: m in sys.modules for m in ('torch', 'jax')}}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_estimators_loads_neither_torch_nor_jax():
    assert _modules_after("import estimators") == {"torch": False, "jax": False}


def test_numpy_estimators_do_not_load_torch_until_a_torch_function_is_used():
    assert _modules_after("from estimators import ridge, mmd2, GaussianKernel, GaussianPrior")["torch"] is False
    assert _modules_after("from estimators import train_kernel")["torch"] is True
