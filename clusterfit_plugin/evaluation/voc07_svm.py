# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""VOC07 classification by per-class linear SVMs, as VISSL benchmarks it.

VISSL's ``SVMTrainer`` (``vissl/utils/svm_utils/svm_trainer.py``) and its
VOC07 config (``configs/config/benchmark/linear_image_classification/voc07/
eval_resnet_8gpu_transfer_voc07_svm.yaml``): features L2-normalised (norm
plus 1e-5); for every class and every cost, scikit-learn's ``LinearSVC``
(squared hinge, L2 penalty, dual, ``max_iter=2000``, ``tol=1e-4``,
positives weighted 2) scored by 3-fold cross-validated average precision on
trainval; the cost with the best score is fitted on all of trainval and its
decision values on test give the class's AP (VOC's area under the
interpolated precision-recall curve, VISSL's ``get_precision_recall``), with
the class's difficult test images left out. A difficult trainval image is
a negative, as in VISSL. The score is the mean AP over classes.
"""
from typing import Sequence, Tuple

import numpy as np
from sklearn.model_selection import cross_val_score
from sklearn.svm import LinearSVC

from ..settings import as_int

# VISSL's VOC07 config: costs_list.
VOC07_COSTS = (0.01, 0.1, 1.0, 2, 5, 10, 15, 20, 50, 100, 1000)
VOC07_FOLDS = 3
VOC07_MAX_ITER = 2000


def voc_ap(positive: np.ndarray, scores: np.ndarray) -> float:
    """VOC's average precision: the area under the precision-recall curve
    made monotone (each precision raised to the best at a higher recall),
    summed where the recall changes.

    Args:
        positive (np.ndarray): (N,) bool, the positives.
        scores (np.ndarray): (N,) scores, higher = more likely positive.

    Returns:
        float: AP in [0, 1]; 0 without positives.
    """
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind='stable')
    hits = np.asarray(positive, dtype=bool)[order].astype(np.float64)
    if not hits.any():
        return 0.0
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / tp[-1]
    # Precision made non-increasing from the right.
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float((steps * envelope).sum())


def normalise(x: np.ndarray) -> np.ndarray:
    """VISSL's feature normalisation: each row over its L2 norm plus 1e-5.

    Args:
        x (np.ndarray): (N, D) features.

    Returns:
        np.ndarray: (N, D) float64.
    """
    x = np.asarray(x, dtype=np.float64)
    return x / (np.linalg.norm(x, axis=1) + 1e-5)[:, None]


def class_svm(cost: float, max_iter: int) -> LinearSVC:
    """One class's SVM with VISSL's settings."""
    return LinearSVC(
        C=cost,
        class_weight={
            1: 2,
            -1: 1
        },
        intercept_scaling=1.0,
        penalty='l2',
        loss='squared_hinge',
        tol=1e-4,
        dual=True,
        max_iter=max_iter)


def voc07_svm(
        train_x: np.ndarray,
        train_y: np.ndarray,
        test_x: np.ndarray,
        test_y: np.ndarray,
        costs: Sequence[float] = VOC07_COSTS,
        folds: int = VOC07_FOLDS,
        max_iter: int = VOC07_MAX_ITER
) -> Tuple[float, np.ndarray, np.ndarray]:
    """VISSL's VOC07 SVM benchmark on extracted features.

    Args:
        train_x (np.ndarray): (N, D) trainval features.
        train_y (np.ndarray): (N, C) targets: 1 present, 0 absent, -1
            difficult (a negative here).
        test_x (np.ndarray): (M, D) test features.
        test_y (np.ndarray): (M, C) targets; -1 is left out of the class's
            AP.
        costs (Sequence[float]): the SVM costs tried per class.
        folds (int): cross-validation folds on trainval.
        max_iter (int): ``LinearSVC``'s iterations at most.

    Returns:
        tuple: mAP in %, the (C,) test APs in %, the (C,) chosen costs.
    """
    train_x, test_x = normalise(train_x), normalise(test_x)
    aps, chosen = [], []
    for c in range(train_y.shape[1]):
        labels = np.where(train_y[:, c] == 1, 1, -1)
        if len(np.unique(labels)) < 2 or (labels == 1).sum() < folds:
            raise ValueError(
                f'VOC07 SVM: class {c} has {(labels == 1).sum()} positive '
                f'trainval images; its {folds}-fold cross-validation needs '
                f'at least {folds} positives and some negatives.')
        scores = [
            cross_val_score(
                class_svm(cost, max_iter),
                train_x,
                labels,
                cv=folds,
                scoring='average_precision').mean() for cost in costs
        ]
        best = costs[int(np.argmax(scores))]
        svm = class_svm(best, max_iter).fit(train_x, labels)
        kept = test_y[:, c] != -1
        aps.append(
            voc_ap(test_y[kept, c] == 1, svm.decision_function(test_x[kept])))
        chosen.append(best)
    aps = 100 * np.asarray(aps)
    return float(aps.mean()), aps, np.asarray(chosen, dtype=np.float64)


def multi_label_targets(dataset) -> np.ndarray:
    """(N, C) VOC targets of a multi-label mmpretrain dataset: 1 present,
    -1 present but difficult only, 0 absent.

    Args:
        dataset: an mmpretrain ``MultiLabelDataset`` such as ``VOC``
            (``gt_label`` and ``gt_label_difficult`` per sample).

    Returns:
        np.ndarray: (N, C) int8.
    """
    num_classes = len(dataset.metainfo['classes'])
    targets = np.zeros((len(dataset), num_classes), dtype=np.int8)
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if info.get('gt_label') is None:
            raise ValueError(
                f'{type(dataset).__name__} sample {i} ({info.get("img_path")})'
                ' has no labels: the SVM benchmark needs the annotations '
                "(VOC's Annotations/*.xml).")
        targets[i, list(info.get('gt_label_difficult') or [])] = -1
        targets[i, list(info['gt_label'])] = 1
    return targets


# VISSL's low-shot values (extra_scripts/create_low_shot_samples.py).
LOW_SHOT_K = (1, 2, 4, 8, 16, 32, 64, 96)
LOW_SHOT_SAMPLES = 5


def low_shot_targets(targets: np.ndarray, k: int, seed: int) -> np.ndarray:
    """One low-shot draw of VOC07 trainval, as VISSL draws it: for every
    class, ``k`` of its positive images and ``(C - 1) * k`` of its
    negative ones keep their target; every other entry is -1 (ignored).

    Args:
        targets (np.ndarray): (N, C) targets (1, 0, -1 difficult).
        k (int): positives per class.
        seed (int): seed of the draw.

    Returns:
        np.ndarray: (N, C) int8 targets of the draw.
    """
    rng = np.random.default_rng(seed)
    num_classes = targets.shape[1]
    out = np.full(targets.shape, -1, dtype=np.int8)
    for c in range(num_classes):
        for value, count in ((1, k), (0, (num_classes - 1) * k)):
            pool = np.flatnonzero(targets[:, c] == value)
            if len(pool) < count:
                raise ValueError(
                    f'VOC07 low-shot k={k}: class {c} has {len(pool)} '
                    f'{"positive" if value else "negative"} trainval images, '
                    f'fewer than the {count} a draw takes; use smaller k '
                    'values.')
            out[rng.choice(pool, count, replace=False), c] = value
    return out


def voc07_low_shot(train_x: np.ndarray,
                   train_y: np.ndarray,
                   test_x: np.ndarray,
                   test_y: np.ndarray,
                   k_values: Sequence[int] = LOW_SHOT_K,
                   samples: int = LOW_SHOT_SAMPLES,
                   costs: Sequence[float] = VOC07_COSTS,
                   max_iter: int = VOC07_MAX_ITER) -> dict:
    """VISSL's VOC07 low-shot SVM benchmark (``SVMLowShotTrainer``).

    For each k and each of ``samples`` draws (:func:`low_shot_targets`),
    an SVM per class and cost is fitted on the drawn images (no
    cross-validation) and the mAP over classes is measured on test for
    every cost. As VISSL reports it, k's result is the cost with the best
    mAP averaged over the draws (chosen on the test split, as VISSL's
    ``aggregate_stats`` chooses it), with the mean, min, max and std of the
    draws at that cost.

    Args:
        train_x, train_y, test_x, test_y: as :func:`voc07_svm`.
        k_values (Sequence[int]): positives per class.
        samples (int): independent draws (seeds 1 to ``samples``).
        costs (Sequence[float]): SVM costs.
        max_iter (int): ``LinearSVC``'s iterations at most.

    Returns:
        dict: k -> dict(mean, min, max, std, cost) in % (cost: the chosen
        one).
    """
    k_values = [as_int(k, 'eval_low_shot.k_values', 1) for k in k_values]
    samples = as_int(samples, 'eval_low_shot.samples', 1)
    train_x, test_x = normalise(train_x), normalise(test_x)
    results = {}
    for k in k_values:
        maps = np.zeros((samples, len(costs)))
        for s in range(samples):
            drawn = low_shot_targets(train_y, k, seed=s + 1)
            for j, cost in enumerate(costs):
                aps = []
                for c in range(train_y.shape[1]):
                    rows = drawn[:, c] != -1
                    svm = class_svm(cost, max_iter).fit(
                        train_x[rows], np.where(drawn[rows, c] == 1, 1, -1))
                    kept = test_y[:, c] != -1
                    aps.append(
                        voc_ap(test_y[kept, c] == 1,
                               svm.decision_function(test_x[kept])))
                maps[s, j] = 100 * np.mean(aps)
        best = int(maps.mean(0).argmax())
        results[k] = dict(
            mean=float(maps[:, best].mean()),
            min=float(maps[:, best].min()),
            max=float(maps[:, best].max()),
            std=float(maps[:, best].std()),
            cost=float(costs[best]))
    return results
