# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The frozen-feature evaluation: known features give known accuracy; few-shot
indices; the linear probe's C chosen as scikit-learn's grid search does."""
import numpy as np
import pytest
from helpers import PIPELINE, SOURCE_MODEL
from mmengine.config import Config
from mmpretrain.registry import DATASETS
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (GridSearchCV, PredefinedSplit,
                                     train_test_split)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from clusterfit_plugin.engine.extractor import extract_features
from clusterfit_plugin.engine.source import build_source_model
from clusterfit_plugin.evaluation import (EvalSettings, evaluate_features,
                                          evaluate_model, evaluate_topk,
                                          few_shot_indices, knn_probe,
                                          linear_probe, select_c)


def separable(n_per_class=60, classes=4, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, dim)) * 10
    y = np.repeat(np.arange(classes), n_per_class)
    x = centers[y] + rng.normal(size=(len(y), dim))
    return x.astype(np.float32), y


def test_separable_features_give_full_accuracy():
    x, y = separable()
    rng = np.random.default_rng(1)
    test_x = x + rng.normal(scale=0.5, size=x.shape).astype(np.float32)
    result = evaluate_features(x, y, test_x, y, shots=5, k=5)
    assert result == {'linear': 100.0, '5shot': 100.0, 'knn5': 100.0}


def test_random_labels_give_chance():
    x, _ = separable(n_per_class=100)
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, size=len(x))
    ty = rng.integers(0, 4, size=len(x))
    result = evaluate_features(x, y, x, ty, protocols=('knn', 'linear'))
    assert result['knn20'] < 40 and result['linear'] < 40


def test_few_shot_indices():
    y = np.repeat(np.arange(3), 7)
    idx = few_shot_indices(y, 5, seed=0)
    assert np.bincount(y[idx]).tolist() == [5, 5, 5]
    np.testing.assert_array_equal(idx, few_shot_indices(y, 5, seed=0))
    with pytest.raises(ValueError, match='fewer than shots=8'):
        few_shot_indices(y, 8, seed=0)
    with pytest.raises(ValueError, match='unknown protocols'):
        evaluate_features(*separable(), *separable(), protocols=('svm', ))


def test_c_is_chosen_as_scikit_learns_grid_search_chooses_it():
    """select_c against GridSearchCV on the same held-out split (a
    PredefinedSplit), scaler and probe, built the stock way."""
    rng = np.random.default_rng(0)
    # Overlapping classes with many noisy dimensions: C matters.
    y = np.repeat(np.arange(4), 40)
    x = (rng.normal(size=(4, 40))[y] * 0.6 +
         rng.normal(size=(len(y), 40))).astype(np.float32)
    grid = [10.0, 0.001, 0.01, 0.1, 1.0]
    chosen = select_c(x, y, grid)
    _, val = train_test_split(
        np.arange(len(y)), test_size=0.2, stratify=y, random_state=0)
    fold = np.full(len(y), -1)
    fold[val] = 0
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), {
            'logisticregression__C': sorted(grid)
        },
        cv=PredefinedSplit(fold)).fit(x, y)
    assert chosen == search.best_params_['logisticregression__C']
    scores = search.cv_results_['mean_test_score']
    assert len(set(np.round(scores, 6))) > 1  # the grid made a difference
    # The linear protocol then uses it, and C changes the result.
    with_c = evaluate_features(x, y, x, y, ('linear', ), linear_c=chosen)
    direct = make_pipeline(StandardScaler(),
                           LogisticRegression(max_iter=1000, C=chosen))
    assert with_c['linear'] == pytest.approx(
        100 * (direct.fit(x, y).predict(x) == y).mean())
    for bad in ([0.0, 1.0], [float('nan'), 1.0], [float('inf')], []):
        with pytest.raises(ValueError, match='must hold positive values'):
            select_c(x, y, bad)
    # Too few samples to hold some of each class out: said, with the fix
    # (scikit-learn's own error named neither).
    with pytest.raises(
            ValueError,
            match=r'holds out 20% of the 9 training samples '
            r'\(2\) with every one of their 3 classes'):
        select_c(x[:9], np.arange(9) % 3, [0.1, 1.0])
    with pytest.raises(ValueError, match='class 2 has 1'):
        select_c(x[:21], np.r_[np.zeros(10), np.ones(10), [2]].astype(int),
                 [1.0])


def test_the_row_records_the_chosen_c(tmp_path, image_root, source_checkpoint):
    split = dict(
        type='CustomDataset',
        data_root=image_root,
        ann_file='ann.txt',
        pipeline=PIPELINE)
    data = Config(dict(eval_train_dataset=split, eval_test_dataset=split))
    model_cfg = tmp_path / 'model.py'
    Config(dict(model=SOURCE_MODEL)).dump(str(model_cfg))
    settings = EvalSettings(
        protocols=('linear', ), num_workers=0, linear_c_grid=[0.01, 100.0])
    (_, row, top1), = evaluate_model(data, 'data.py', str(model_cfg),
                                     source_checkpoint, 'm', '-', settings,
                                     'cmd')
    assert row['settings']['linear'].startswith(
        'logistic regression (scikit-learn) on standardised features, C=')
    assert 'chosen from [0.01, 100.0] on 20% of the train samples' in row[
        'settings']['linear']
    c = float(row['settings']['linear'].split('C=')[1].split(' ')[0])
    assert c in (0.01, 100.0)
    # The same C as select_c on the same features picks.
    ds = DATASETS.build(split)
    feats = extract_features(
        build_source_model(
            dict(
                config=str(model_cfg),
                checkpoint=source_checkpoint,
                stage='backbone')),
        ds,
        PIPELINE,
        np.arange(len(ds)),
        'backbone',
        num_workers=0,
        progress=False)
    labels = np.array(
        [ds.get_data_info(i)['gt_label'] for i in range(len(ds))])
    assert c == select_c(feats, labels, [0.01, 100.0])
    assert top1 == evaluate_features(
        feats, labels, feats, labels, ('linear', ), linear_c=c)


def overlapping(classes=8, per_class=30, dim=12, seed=0):
    """Classes that overlap: top-5 differs from top-1 and from 100%."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), per_class)
    x = rng.normal(size=(classes, dim))[y] * 0.8 + rng.normal(
        size=(len(y), dim))
    return x.astype(np.float32), y


def test_top5_of_the_linear_probe_is_scikit_learns():
    from sklearn.metrics import top_k_accuracy_score
    x, y = overlapping()
    tx, ty = overlapping(seed=1)
    top1, top5 = linear_probe(x, y, tx, ty)
    stock = make_pipeline(StandardScaler(),
                          LogisticRegression(max_iter=1000)).fit(x, y)
    assert top1 == pytest.approx(100 * (stock.predict(tx) == ty).mean())
    assert top5 == pytest.approx(100 * top_k_accuracy_score(
        ty, stock.predict_proba(tx), k=5, labels=stock.classes_))
    assert top1 < top5 < 100


def test_top5_of_the_knn_is_a_bare_loops():
    x, y = overlapping()
    tx, ty = overlapping(seed=1)
    top1, top5 = knn_probe(x, y, tx, ty, k=10)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    hits1 = hits5 = 0
    for q, label in zip(tx, ty):
        sim = xn @ (q / np.linalg.norm(q))
        votes = {}
        for i in np.argsort(-sim)[:10]:
            votes[y[i]] = votes.get(y[i], 0.0) + np.exp(sim[i] / 0.07)
        ranked = sorted(votes, key=lambda c: (-votes[c], c))
        hits1 += ranked[0] == label
        hits5 += label in ranked[:5]
    assert top1 == pytest.approx(100 * hits1 / len(ty))
    assert top5 == pytest.approx(100 * hits5 / len(ty))
    assert top1 < top5


def test_top5_is_reported_above_five_classes_only():
    x, y = overlapping()
    tx, ty = overlapping(seed=1)
    top1, top5 = evaluate_topk(x, y, tx, ty, shots=5, k=10)
    assert set(top5) == set(top1) == {'linear', '5shot', 'knn10'}
    assert top1 == evaluate_features(x, y, tx, ty, shots=5, k=10)
    keep = y < 5
    assert evaluate_topk(x[keep], y[keep], tx, ty, shots=5, k=10)[1] == {}
