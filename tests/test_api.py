# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The README's "Python API" block, run as written (on tiny data) against
the labels the hook writes in a stock Runner run with the same settings."""
import copy
import os.path as osp
import re

import numpy as np
import pytest
from helpers import ROOT, SOURCE_MODEL, make_cfg, run_runner
from mmengine.config import Config


def readme_api_block() -> str:
    """The first ``python`` block under the README's "Python API" heading."""
    with open(osp.join(ROOT, 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    section = readme.split('### Python API', 1)[1]
    match = re.search(r'```python\n(.*?)```', section, re.S)
    assert match, 'README.md: no python block under "### Python API"'
    return match.group(1)


def substitute(code: str, replacements: dict) -> str:
    """Replace each key of ``replacements`` by its value, checking that the
    README still spells it the way this test expects."""
    for old, (new, count) in replacements.items():
        assert code.count(old) == count, (old, code)
        code = code.replace(old, new)
    return code


@pytest.mark.slow
def test_readme_python_api_gives_the_hooks_labels(tmp_path, image_root,
                                                  source_checkpoint):
    # A source config as users keep them: the model, and the data
    # preprocessor at the top level.
    source_config = str(tmp_path / 'source.py')
    Config(
        dict(
            model=copy.deepcopy(SOURCE_MODEL),
            data_preprocessor=dict(
                type='ClsDataPreprocessor',
                mean=[20.0, 30.0, 40.0],
                std=[50.0, 60.0, 70.0]))).dump(source_config)
    code = substitute(
        readme_api_block(), {
            "'configs/demo/noisy-label_resnet18-mini_mnist5k.py'":
            (repr(source_config), 1),
            "'work_dirs/demo/source/epoch_9.pth'":
            (repr(source_checkpoint), 1),
            "data_root='data/mnist5k'": (f'data_root={image_root!r}', 1),
            "ann_file='train.txt'": ("ann_file='ann.txt'", 1),
            'KMeans(200, niter=50, seed=0)':
            ('KMeans(3, niter=10, seed=0)', 1),
            '200, source, extract_pipeline=pipeline, kmeans=dict(niter=50, '
            'seed=0)': ('3, source, extract_pipeline=pipeline, kmeans=dict('
                        'niter=10, seed=0), num_workers=0', 1),
            "'work_dirs/api'": (repr(str(tmp_path / 'api')), 1),
        })
    namespace = {}
    exec(compile(code, 'README.md (Python API)', 'exec'), namespace)

    work = str(tmp_path / 'hook')
    run_runner(
        make_cfg(
            work,
            image_root,
            source_checkpoint,
            source=dict(
                config=source_config,
                checkpoint=source_checkpoint,
                stage='backbone')))
    hook_labels = np.load(osp.join(work, 'clusterfit', 'labels.npy'))
    assert len(np.unique(hook_labels)) == 3
    np.testing.assert_array_equal(namespace['result'].labels, hook_labels)
    np.testing.assert_array_equal(namespace['labels'], hook_labels)
    np.testing.assert_allclose(
        namespace['kmeans'].centroids,
        np.load(osp.join(work, 'clusterfit', 'centroids.npy')),
        rtol=1e-5,
        atol=1e-6)
