# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Evaluate one model's frozen features on labelled splits (what
``tools/eval_features.py`` runs): extract once, score every label set of
the same samples, one leaderboard row each."""
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.config import Config
from mmpretrain.registry import DATASETS

from ..datasets.sample_keys import scan_samples
from ..engine.source import build_source_model, load_source_config
from ..fileio import sha256_file
from ..settings import check_keys
from .extraction import frozen_features
from .frozen_features import (C_HELDOUT, FEWSHOT_SEEDS, KNN_TEMPERATURE,
                              evaluate_topk, select_c)
from .leaderboard import make_row
from .torch_linear import resolve_classifier
from .vissl_layers import VISSL_LAYERS, use_vissl_layer
from .voc07_svm import (LOW_SHOT_K, LOW_SHOT_SAMPLES, VOC07_COSTS, VOC07_FOLDS,
                        multi_label_targets, voc07_low_shot, voc07_svm)

# Protocols of multi-label data (one per run; no other protocol beside).
MULTI_LABEL_PROTOCOLS = ('voc07-svm', 'voc07-low-shot')


@dataclass
class EvalSettings:
    """How the features are extracted and scored.

    Attributes:
        stage (str): the stage whose features are scored.
        protocols (Sequence[str]): see :func:`evaluate_features`.
        shots (int): labels per class of the few-shot probe.
        k (int): neighbours of the kNN.
        batch_size (int): extraction batch size.
        num_workers (int): extraction DataLoader workers.
        channels_last (bool): extract in the channels-last format.
        init_seed (int): seed of a random init (no checkpoint).
        checkpoint_format (str): the checkpoint's layout.
        linear_c_grid (Sequence[float], optional): C values of the linear
            probe, one chosen on a held-out part of the training split
            (:func:`select_c`); None keeps C=1.0.
        classifier (str): the logistic regression's implementation:
            ``'sklearn'`` or ``'torch'`` (the same objective, fitted to its
            optimum, on the GPU when there is one).
        vissl_layer (str, optional): score a ResNet's ``'res4'`` or
            ``'res5'`` map pooled as VISSL pools it
            (:mod:`.vissl_layers`) instead of the stage's output.
        feature_dir (str, optional): extract by rank into resumable disk
            stores there (:func:`.extraction.frozen_features`); None: in
            memory, one process.
    """
    stage: str = 'backbone'
    protocols: Sequence[str] = ('linear', 'fewshot', 'knn')
    shots: int = 10
    k: int = 20
    batch_size: int = 256
    num_workers: int = 1
    channels_last: bool = False
    init_seed: int = 0
    checkpoint_format: str = 'auto'
    linear_c_grid: Optional[Sequence[float]] = None
    classifier: str = 'sklearn'
    vissl_layer: Optional[str] = None
    feature_dir: Optional[str] = None


def protocol_settings(settings: EvalSettings,
                      linear_c: float) -> Dict[str, str]:
    """What each protocol of a row did, for the row.

    Args:
        settings (EvalSettings): the evaluation settings.
        linear_c (float): the linear probe's C.

    Returns:
        dict: protocol -> its settings in words.
    """
    fitter = ('scikit-learn' if settings.classifier == 'sklearn' else
              "torch L-BFGS to the optimum of scikit-learn's objective")
    chosen = ('' if settings.linear_c_grid is None else
              f' (chosen from {sorted(settings.linear_c_grid)} on '
              f'{C_HELDOUT:.0%} of the train samples held out)')
    described = dict(
        linear=f'logistic regression ({fitter}) on standardised features, '
        f'C={linear_c:g}{chosen}, all train samples',
        fewshot=f'the same with C=1, on {settings.shots} samples per class, '
        f'mean of {len(FEWSHOT_SEEDS)} draws',
        knn=f'{settings.k} nearest neighbours, cosine similarity, votes '
        f'weighted by exp(similarity / {KNN_TEMPERATURE})')
    described['voc07-svm'] = (
        "VISSL's VOC07 benchmark: a linear SVM per class on L2-normalised "
        f'features, its cost chosen from {list(VOC07_COSTS)} by '
        f'{VOC07_FOLDS}-fold cross-validated AP on the train split, mean AP '
        'on the test split with difficult images left out')
    return {p: described[p] for p in settings.protocols}


def check_protocols(protocols: Sequence[str], data_file: str) -> None:
    """Refuse a multi-label protocol beside others: they score different
    labels (every class present against one class per sample).

    Args:
        protocols (Sequence[str]): the protocols asked for.
        data_file (str): the data config (for the message).
    """
    multi = [p for p in protocols if p in MULTI_LABEL_PROTOCOLS]
    if multi and len(protocols) > 1:
        raise ValueError(
            f'{data_file}: protocols {list(protocols)} mix the multi-label '
            f'{multi} with single-label ones; run {multi[0]!r} alone on '
            'multi-label data (VOC07) and the others on single-label data.')


def multi_label_split(
        model, dataset_cfg: dict, settings: EvalSettings,
        feature_id: str) -> Tuple[Optional[np.ndarray], np.ndarray]:
    """Features and (N, C) targets of one multi-label split.

    Args:
        model (nn.Module): the frozen model.
        dataset_cfg (dict): the split's dataset config (``VOC``).
        settings (EvalSettings): the extraction settings.
        feature_id (str): what identifies the model's features.

    Returns:
        tuple: (N, D) features (None on ranks other than 0) and (N, C)
        targets (1, 0, -1 difficult).
    """
    dataset = DATASETS.build(dataset_cfg)
    targets = multi_label_targets(dataset)
    return frozen_features(model, dataset, dataset_cfg, settings,
                           feature_id), targets


def split_features(
        model, dataset_cfg: dict, settings: EvalSettings,
        feature_id: str) -> Tuple[Optional[np.ndarray], np.ndarray, List[str]]:
    """Features, labels and sample identities of one labelled split.

    Args:
        model (nn.Module): the frozen model.
        dataset_cfg (dict): the split's dataset config.
        settings (EvalSettings): the extraction settings.
        feature_id (str): what identifies the model's features.

    Returns:
        tuple: (N, D) features (None on ranks other than 0), (N,) labels
        (-1: none) and the identities.
    """
    dataset = DATASETS.build(dataset_cfg)
    keys, labels = scan_samples(dataset)
    return frozen_features(model, dataset, dataset_cfg, settings,
                           feature_id), labels, keys


def _check_labelled(labels: np.ndarray, what: str, data_file: str) -> None:
    """Refuse a sample with no single class (-1): it cannot be scored."""
    if (labels < 0).any():
        raise ValueError(
            f'{data_file}: {what} gives sample {int(np.argmax(labels < 0))} '
            'no single class (-1, a missing or multiple label); give every '
            'sample of an evaluation split one label.')


def label_set(dataset_cfg: dict, ann_file: str, keys: list,
              data_file: str) -> np.ndarray:
    """The labels of one split read from another annotation file.

    Args:
        dataset_cfg (dict): the split's dataset config.
        ann_file (str): the annotation file of the label set.
        keys (list): the split's sample identities, in order.
        data_file (str): the ``--data`` config (for the error).

    Returns:
        np.ndarray: (N,) labels, in the split's order.
    """
    dataset = DATASETS.build(dict(dataset_cfg, ann_file=ann_file))
    set_keys, labels = scan_samples(dataset)
    if set_keys != keys:
        first = next(
            (i for i, (a, b) in enumerate(zip(set_keys, keys)) if a != b),
            min(len(keys), len(set_keys)))
        raise ValueError(
            f'{data_file}: the label set {ann_file!r} must list the samples '
            f'of {dataset_cfg.get("ann_file")!r} in the same order; it lists '
            f'{len(set_keys)} samples against {len(keys)}, and the lists '
            f'differ first at sample {first}. Write both lists from the '
            'same sample order.')
    _check_labelled(labels, f'the label set {ann_file!r}', data_file)
    return labels


def label_sets(
        data: Config, data_file: str, train_keys: list, test_keys: list,
        train_y: np.ndarray, test_y: np.ndarray
) -> Dict[Optional[str], Tuple[np.ndarray, np.ndarray]]:
    """The label sets to score: ``eval_label_sets`` of the data config, or
    the splits' own labels.

    Args:
        data (Config): the data config.
        data_file (str): its file (for errors).
        train_keys, test_keys (list): the splits' sample identities.
        train_y, test_y (np.ndarray): the splits' own labels.

    Returns:
        dict: set name (None for the splits' own labels) -> (train labels,
        test labels).
    """
    sets = data.get('eval_label_sets')
    if not sets:
        _check_labelled(train_y, 'eval_train_dataset', data_file)
        _check_labelled(test_y, 'eval_test_dataset', data_file)
        return {None: (train_y, test_y)}
    return {
        name:
        (label_set(data.eval_train_dataset, train_ann, train_keys, data_file),
         label_set(data.eval_test_dataset, test_ann, test_keys, data_file))
        for name, (train_ann, test_ann) in sets.items()
    }


def evaluate_model(
    data: Config,
    data_file: str,
    config: str,
    checkpoint: Optional[str],
    name: str,
    source_name: str,
    settings: EvalSettings,
    command: str,
    dataset_name: Optional[str] = None
) -> List[Tuple[Optional[str], dict, dict]]:
    """Extract a model's frozen features once and score every label set.

    Args:
        data (Config): the data config (``eval_train_dataset``,
            ``eval_test_dataset``, optional ``eval_label_sets``).
        data_file (str): its file.
        config (str): the model's config file.
        checkpoint (str, optional): its weights; None for a random init.
        name (str): the row's method name.
        source_name (str): the source the model came from.
        settings (EvalSettings): extraction and scoring settings.
        command (str): the command line, recorded in the rows.
        dataset_name (str, optional): the rows' dataset; None: the data
            config's file name.

    Returns:
        list[tuple]: ``(label set, leaderboard row, top-1 by protocol in
        the order run)`` per label set (None for the splits' own labels);
        empty on ranks other than 0 (``feature_dir`` with several ranks).
    """
    source = dict(
        config=config,
        checkpoint=checkpoint,
        stage=settings.stage,
        init_seed=settings.init_seed)
    if checkpoint is not None:
        source['checkpoint_format'] = settings.checkpoint_format
    check_protocols(settings.protocols, data_file)
    classifier = resolve_classifier(settings.classifier)
    features = f'frozen {settings.stage}'
    if settings.vissl_layer is not None:
        if settings.vissl_layer not in VISSL_LAYERS or (settings.stage
                                                        != 'backbone'):
            raise ValueError(
                f'vissl_layer={settings.vissl_layer!r} with stage='
                f'{settings.stage!r}: use one of {sorted(VISSL_LAYERS)} with '
                "stage='backbone' (it replaces the backbone's output).")
        features = f"frozen {settings.vissl_layer} (VISSL's pooling)"
    model = build_source_model(source)
    if settings.vissl_layer is not None:
        use_vissl_layer(model, settings.vissl_layer)
    model_cfg = load_source_config(source)
    dataset = dataset_name or osp.splitext(osp.basename(data_file))[0]
    # The same for every label set: the checkpoint is hashed once.
    digest = sha256_file(checkpoint) if checkpoint else None
    checkpoint_id = (
        digest[:8] if digest else f'random-init-{settings.init_seed}')
    # What the stored features of a split are of (with the split's config).
    feature_id = (f'{digest or checkpoint_id}/{config}/{features}/'
                  f'{settings.channels_last}')
    row_args = dict(
        method=name,
        source=source_name,
        model_cfg=model_cfg,
        checkpoint=checkpoint,
        checkpoint_id=checkpoint_id,
        command=command)
    if settings.protocols[0] in MULTI_LABEL_PROTOCOLS:
        protocol = settings.protocols[0]
        low_shot = dict(k_values=LOW_SHOT_K, samples=LOW_SHOT_SAMPLES)
        low_shot.update(data.get('eval_low_shot', {}))
        check_keys(low_shot, ('k_values', 'samples'),
                   f'{data_file} eval_low_shot')
        train_x, train_t = multi_label_split(model, data.eval_train_dataset,
                                             settings, feature_id)
        test_x, test_t = multi_label_split(model, data.eval_test_dataset,
                                           settings, feature_id)
        if train_x is None:  # another rank's shards: rank 0 scores
            return []
        if protocol == 'voc07-svm':
            mean_ap = {
                protocol: voc07_svm(train_x, train_t, test_x, test_t)[0]
            }
            described = protocol_settings(settings, 1.0)
        else:
            results = voc07_low_shot(train_x, train_t, test_x, test_t,
                                     **low_shot)
            mean_ap = {
                f'{protocol} k={k}': r['mean']
                for k, r in results.items()
            }
            described = {
                protocol:
                "VISSL's VOC07 low-shot benchmark: per class k positive "
                'and (classes - 1) x k negative trainval images, '
                f'{low_shot["samples"]} draws; an SVM per class and cost '
                f'from {list(VOC07_COSTS)}, mAP on test; per k the cost '
                'with the best mean over the draws (chosen on test, as '
                'VISSL does): ' +
                '; '.join(f'k={k}: {r["mean"]:.2f} (min {r["min"]:.2f}, max '
                          f'{r["max"]:.2f}, std {r["std"]:.2f}, cost '
                          f'{r["cost"]:g})' for k, r in results.items())
            }
        row = make_row(
            dataset=dataset,
            protocol=f'{features}, {len(train_t)} train / {len(test_t)} test',
            settings=described,
            top1={},
            mean_ap=mean_ap,
            **row_args)
        return [(None, row, {f'{p} mAP': v for p, v in mean_ap.items()})]
    train_x, train_y, train_keys = split_features(model,
                                                  data.eval_train_dataset,
                                                  settings, feature_id)
    test_x, test_y, test_keys = split_features(model, data.eval_test_dataset,
                                               settings, feature_id)
    if train_x is None:  # another rank's shards: rank 0 scores
        return []
    rows = []
    sets = label_sets(data, data_file, train_keys, test_keys, train_y, test_y)
    for set_name, (set_train_y, set_test_y) in sets.items():
        linear_c = 1.0
        if settings.linear_c_grid is not None and ('linear'
                                                   in settings.protocols):
            linear_c = select_c(
                train_x,
                set_train_y,
                settings.linear_c_grid,
                classifier=classifier)
        top1, top5 = evaluate_topk(
            train_x,
            set_train_y,
            test_x,
            set_test_y,
            settings.protocols,
            shots=settings.shots,
            k=settings.k,
            linear_c=linear_c,
            classifier=classifier)
        row = make_row(
            dataset=dataset if set_name is None else f'{dataset}/{set_name}',
            protocol=f'{features}, {len(set_train_y)} train / '
            f'{len(set_test_y)} test',
            settings=protocol_settings(settings, linear_c),
            top1=top1,
            top5=top5,
            **row_args)
        rows.append((set_name, row, top1))
    return rows
