"""Dataset distillation for self-supervised transfer: KRR-ST, KIP and coreset baselines (torch).

KRR-ST (Lee et al. 2024, "Self-Supervised Dataset Distillation for Transfer Learning", ICLR,
section 3 and Algorithm 1) and KIP (Nguyen et al. 2021) live in :mod:`._krr`; the random-subset and
k-means coresets and the pretraining steps that evaluate every set (regression on target
representations; cross-entropy on labels for the coresets, as Lee et al. pretrain them) in
:mod:`._baselines`.
"""

from ._baselines import kmeans_coreset, pretrain, pretrain_supervised, random_subset
from ._krr import DistilledSet, kip, krr_predict, krr_st

__all__ = ["DistilledSet", "krr_predict", "krr_st", "kip", "random_subset", "kmeans_coreset", "pretrain",
           "pretrain_supervised"]
