# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Quick protocols on frozen features: linear probe, few-shot, weighted kNN.

These are the fast companions of the long mmpretrain linear-probe configs in
``configs/benchmarks/``: features are extracted once, then scikit-learn fits
a logistic regression (all labels, or ``n`` per class) and a cosine kNN
classifier with similarity-weighted votes.
"""
from typing import Dict, Sequence, Tuple

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from .torch_linear import torch_logistic_scores

# The protocols of :func:`evaluate_features`.
PROTOCOLS = ('linear', 'fewshot', 'knn')
# The kNN's vote temperature, and the few-shot draws averaged (defaults that
# the rows describe, see model_eval.protocol_settings).
KNN_TEMPERATURE = 0.07
FEWSHOT_SEEDS = (0, 1, 2)
# The share of the training split :func:`select_c` holds out.
C_HELDOUT = 0.2


def _l2(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def top5_hits(scores: np.ndarray, classes: np.ndarray, y: np.ndarray) -> int:
    """How many of the labels ``y`` are among the 5 best-scored classes
    (ties broken by class order; a class scored 0, which got no vote, is
    never a hit).

    Args:
        scores (np.ndarray): (m, C) a score per sample and class.
        classes (np.ndarray): (C,) the classes of the columns.
        y (np.ndarray): (m,) the labels.

    Returns:
        int: the hits.
    """
    top = np.argsort(-scores, axis=1, kind='stable')[:, :5]
    hit = classes[top] == y[:, None]
    scored = np.take_along_axis(scores, top, 1) > 0
    return int((hit & scored).any(1).sum())


def knn_probe(train_x: np.ndarray,
              train_y: np.ndarray,
              test_x: np.ndarray,
              test_y: np.ndarray,
              k: int = 20,
              temperature: float = KNN_TEMPERATURE) -> Tuple[float, float]:
    """Top-1 and top-5 of a weighted kNN classifier on cosine similarity.

    Each of the ``k`` nearest training samples votes for its class with
    weight ``exp(similarity / temperature)`` (as in DINO / InstDisc).

    Args:
        train_x (np.ndarray): (n, D) training features.
        train_y (np.ndarray): (n,) training labels.
        test_x (np.ndarray): (m, D) test features.
        test_y (np.ndarray): (m,) test labels.
        k (int): neighbours. Defaults to 20.
        temperature (float): vote temperature. Defaults to 0.07.

    Returns:
        tuple: top-1 and top-5 accuracy in percent.
    """
    train_x, test_x = _l2(train_x), _l2(test_x)
    classes, train_idx = np.unique(train_y, return_inverse=True)
    k = min(k, len(train_x))
    correct = top5 = 0
    for start in range(0, len(test_x), 1024):
        sim = test_x[start:start + 1024] @ train_x.T
        nn = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        weights = np.exp(np.take_along_axis(sim, nn, 1) / temperature)
        votes = np.zeros((len(sim), len(classes)))
        np.add.at(votes, (np.arange(len(sim))[:, None], train_idx[nn]),
                  weights)
        pred = classes[votes.argmax(1)]
        correct += int((pred == test_y[start:start + 1024]).sum())
        top5 += top5_hits(votes, classes, test_y[start:start + 1024])
    return 100.0 * correct / len(test_x), 100.0 * top5 / len(test_x)


def knn_top1(train_x: np.ndarray,
             train_y: np.ndarray,
             test_x: np.ndarray,
             test_y: np.ndarray,
             k: int = 20,
             temperature: float = KNN_TEMPERATURE) -> float:
    """Top-1 of :func:`knn_probe`.

    Returns:
        float: top-1 accuracy in percent.
    """
    return knn_probe(train_x, train_y, test_x, test_y, k, temperature)[0]


def linear_probe(train_x: np.ndarray,
                 train_y: np.ndarray,
                 test_x: np.ndarray,
                 test_y: np.ndarray,
                 max_iter: int = 1000,
                 c: float = 1.0,
                 classifier: str = 'sklearn') -> Tuple[float, float]:
    """Top-1 and top-5 of a logistic regression on standardised features.

    Args:
        train_x (np.ndarray): (n, D) training features.
        train_y (np.ndarray): (n,) training labels.
        test_x (np.ndarray): (m, D) test features.
        test_y (np.ndarray): (m,) test labels.
        max_iter (int): solver iterations. Defaults to 1000.
        c (float): inverse regularisation strength. Defaults to 1.0.
        classifier (str): ``'sklearn'`` (``LogisticRegression`` on the
            CPU) or ``'torch'`` (the same objective,
            :mod:`.torch_linear`, on the GPU when there is one). Defaults
            to ``'sklearn'``.

    Returns:
        tuple: top-1 and top-5 accuracy in percent.
    """
    if classifier == 'torch':
        classes, scores = torch_logistic_scores(train_x, train_y, test_x, c,
                                                max_iter)
    else:
        scaler = StandardScaler().fit(train_x)
        with threadpool_limits(limits=1):
            clf = LogisticRegression(max_iter=max_iter, C=c)
            clf.fit(scaler.transform(train_x), train_y)
            classes, scores = clf.classes_, clf.predict_proba(
                scaler.transform(test_x))
    pred = classes[scores.argmax(1)]
    top5 = top5_hits(scores, classes, test_y)
    return (100.0 * float((pred == test_y).mean()), 100.0 * top5 / len(test_y))


def linear_top1(train_x: np.ndarray,
                train_y: np.ndarray,
                test_x: np.ndarray,
                test_y: np.ndarray,
                max_iter: int = 1000,
                c: float = 1.0,
                classifier: str = 'sklearn') -> float:
    """Top-1 of :func:`linear_probe`.

    Returns:
        float: top-1 accuracy in percent.
    """
    return linear_probe(train_x, train_y, test_x, test_y, max_iter, c,
                        classifier)[0]


def select_c(train_x: np.ndarray,
             train_y: np.ndarray,
             c_grid: Sequence[float],
             heldout: float = C_HELDOUT,
             seed: int = 0,
             classifier: str = 'sklearn') -> float:
    """The logistic regression's C, chosen on a held-out part of the
    training split (the test split is never seen).

    A stratified ``heldout`` fraction of the training samples is set aside;
    the probe is fitted on the rest with each C and scored on it; the best
    C wins (the smallest one on a tie).

    Args:
        train_x (np.ndarray): (n, D) training features.
        train_y (np.ndarray): (n,) training labels.
        c_grid (Sequence[float]): the values tried.
        heldout (float): fraction held out. Defaults to 0.2.
        seed (int): seed of the split. Defaults to 0.
        classifier (str): see :func:`linear_probe`. Defaults to
            ``'sklearn'``.

    Returns:
        float: the chosen C.
    """
    if not len(c_grid) or not all(np.isfinite(c) and c > 0 for c in c_grid):
        raise ValueError(f'c_grid={list(c_grid)} must hold positive values '
                         '(finite, above 0).')
    classes, counts = np.unique(train_y, return_counts=True)
    held = int(np.ceil(heldout * len(train_y)))
    if held < len(classes) or len(train_y) - held < len(classes) or (
            counts.min() < 2):
        raise ValueError(
            f'choosing C from {sorted(c_grid)} holds out {heldout:.0%} of the '
            f'{len(train_y)} training samples ({held}) with every one of '
            f'their {len(classes)} classes on both sides, and needs 2 '
            f'samples of each (class {classes[counts.argmin()]} has '
            f'{counts.min()}); give the train split more samples, or no C '
            'grid (C=1).')
    fit, val = train_test_split(
        np.arange(len(train_y)),
        test_size=heldout,
        stratify=train_y,
        random_state=seed)
    grid = sorted(c_grid)
    scores = [
        linear_top1(
            train_x[fit],
            train_y[fit],
            train_x[val],
            train_y[val],
            c=c,
            classifier=classifier) for c in grid
    ]
    return float(grid[int(np.argmax(scores))])


def few_shot_indices(labels: np.ndarray, shots: int, seed: int) -> np.ndarray:
    """``shots`` random samples of each class.

    Args:
        labels (np.ndarray): (n,) labels.
        shots (int): samples per class.
        seed (int): seed of the draw.

    Returns:
        np.ndarray: sorted indices.
    """
    rng = np.random.default_rng(seed)
    picked = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < shots:
            raise ValueError(f'class {c} has {len(members)} samples, fewer '
                             f'than shots={shots}.')
        picked.append(rng.choice(members, size=shots, replace=False))
    return np.sort(np.concatenate(picked))


def evaluate_features(train_x: np.ndarray,
                      train_y: np.ndarray,
                      test_x: np.ndarray,
                      test_y: np.ndarray,
                      protocols: Sequence[str] = ('linear', 'fewshot', 'knn'),
                      shots: int = 10,
                      seeds: Sequence[int] = FEWSHOT_SEEDS,
                      k: int = 20,
                      linear_c: float = 1.0) -> Dict[str, float]:
    """Top-1 of the requested protocols (:func:`evaluate_topk`'s first
    dict).

    Returns:
        dict: protocol name (``'linear'``, ``f'{shots}shot'``,
        ``f'knn{k}'``) -> top-1 in percent.
    """
    return evaluate_topk(train_x, train_y, test_x, test_y, protocols, shots,
                         seeds, k, linear_c)[0]


def evaluate_topk(
        train_x: np.ndarray,
        train_y: np.ndarray,
        test_x: np.ndarray,
        test_y: np.ndarray,
        protocols: Sequence[str] = ('linear', 'fewshot', 'knn'),
        shots: int = 10,
        seeds: Sequence[int] = FEWSHOT_SEEDS,
        k: int = 20,
        linear_c: float = 1.0,
        classifier: str = 'sklearn'
) -> Tuple[Dict[str, float], Dict[str, float]]:
    """Run the requested protocols; top-1 and top-5.

    Args:
        train_x, train_y, test_x, test_y (np.ndarray): features and labels.
        protocols (Sequence[str]): any of ``'linear'``, ``'fewshot'``,
            ``'knn'``.
        shots (int): labels per class for ``'fewshot'``. Defaults to 10.
        seeds (Sequence[int]): few-shot draws, averaged. Defaults to 0, 1, 2.
        k (int): kNN neighbours. Defaults to 20.
        linear_c (float): C of the ``'linear'`` probe (see
            :func:`select_c`); the few-shot probe keeps 1.0. Defaults to 1.0.
        classifier (str): the logistic regression's implementation, see
            :func:`linear_probe`. Defaults to ``'sklearn'``.

    Returns:
        tuple: two dicts, protocol name (``'linear'``, ``f'{shots}shot'``,
        ``f'knn{k}'``) -> top-1, and -> top-5, in percent; the second is
        empty with 5 classes or fewer (top-5 would be 100).
    """
    unknown = set(protocols) - set(PROTOCOLS)
    if unknown:
        raise ValueError(f'unknown protocols {sorted(unknown)}; use one of '
                         f'{PROTOCOLS}.')
    results = {}
    if 'linear' in protocols:
        results['linear'] = linear_probe(
            train_x,
            train_y,
            test_x,
            test_y,
            c=linear_c,
            classifier=classifier)
    if 'fewshot' in protocols:
        draws = []
        for seed in seeds:
            idx = few_shot_indices(train_y, shots, seed)
            draws.append(
                linear_probe(
                    train_x[idx],
                    train_y[idx],
                    test_x,
                    test_y,
                    classifier=classifier))
        results[f'{shots}shot'] = tuple(np.mean(draws, axis=0).tolist())
    if 'knn' in protocols:
        results[f'knn{k}'] = knn_probe(train_x, train_y, test_x, test_y, k)
    top1 = {name: float(both[0]) for name, both in results.items()}
    top5 = ({
        name: float(both[1])
        for name, both in results.items()
    } if len(np.unique(train_y)) > 5 else {})
    return top1, top5
