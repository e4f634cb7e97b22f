# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Issue 32, item 9: empty, cut, list-valued, huge and byte-string inputs
get an error that names them, never a raw ``EOFError``,
``AttributeError``, ``OverflowError`` or ``UnicodeDecodeError`` from deep
inside numpy, torch or mmengine."""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import ROOT, SOURCE_MODEL, image_dataset, load_tool

from clusterfit_plugin.datasets import ClusterFitDataset
from clusterfit_plugin.datasets.vissl_labels import load_vissl_pair
from clusterfit_plugin.engine.hooks import ClusterFitHook
from clusterfit_plugin.engine.source import build_source_model
from clusterfit_plugin.models.builder import load_config
from clusterfit_plugin.models.checkpoint_formats import convert_checkpoint
from clusterfit_plugin.settings import as_float, as_int
from clusterfit_plugin.utils import check_training_entries

RAW = (EOFError, AttributeError, OverflowError, UnicodeDecodeError, KeyError)
HUGE = 10**30


def source(**overrides) -> dict:
    return dict(
        dict(model=SOURCE_MODEL, checkpoint=None, stage='backbone'),
        **overrides)


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(num_clusters=HUGE), ValueError,
     f'num_clusters={HUGE} must be <= 9223372036854775807'),
    (dict(interval=HUGE), ValueError, 'interval'),
    (dict(batch_size=HUGE), ValueError, f'batch_size={HUGE} must be <='),
    (dict(kmeans=dict(niter=HUGE)), ValueError, 'kmeans.niter='),
    (dict(kmeans=dict(seed=2**31)), ValueError,
     'kmeans.seed=2147483648 must be <= 2147483647'),
    (dict(kmeans=[('niter', 3)]), TypeError, 'kmeans must be a dict'),
    (dict(pca=dict(dim=HUGE)), ValueError, 'pca.dim='),
    (dict(source=source(init_seed=2**70)), ValueError, 'source.init_seed='),
    (dict(wait_poll_s=float('inf')), ValueError,
     'wait_poll_s=inf must be a finite number'),
    (dict(cache_dir=b'/tmp/cache'), TypeError,
     r"cache_dir=b'/tmp/cache' must be a path"),
    (dict(cache_dir=['/tmp/cache']), TypeError,
     r"cache_dir=\['/tmp/cache'\] must be a path"),
    (dict(cache_dir=''), TypeError, "cache_dir='' must be a path"),
    (dict(extract_pipeline=dict(type='PackInputs')), TypeError,
     'extract_pipeline must be a list of transforms'),
    (dict(extract_pipeline='PackInputs'), TypeError,
     'extract_pipeline must be a list of transforms'),
    (dict(extract_pipeline=['PackInputs']), TypeError,
     r"extract_pipeline\[0\]='PackInputs' must be a transform"),
    (dict(extract_pipeline=[dict(scale=8)]), ValueError,
     r"extract_pipeline\[0\]=\{'scale': 8\} has no 'type'"),
])
def test_hook_arguments(kwargs, error, message):
    kwargs = dict(dict(num_clusters=3, source=source()), **kwargs)
    with pytest.raises(error, match=message) as info:
        ClusterFitHook(**kwargs)
    assert str(info.value).startswith('ClusterFitHook ')


def test_the_accepted_forms_still_pass():
    hook = ClusterFitHook(
        num_clusters=3,
        source=source(),
        cache_dir=None,
        kmeans=dict(seed=-1),
        extract_pipeline=(dict(type='LoadImageFromFile'),
                          dict(type='PackInputs')))
    assert hook.pipeline.cache_dir is None
    assert hook.pipeline.kmeans.seed == -1
    assert [t['type'] for t in hook.pipeline.extract_pipeline
            ] == ['LoadImageFromFile', 'PackInputs']
    assert as_int(2**63 - 1, 'n') == 2**63 - 1
    with pytest.raises(ValueError, match='must be a finite number'):
        as_float(10**400, 'x')  # int -> float overflows
    with pytest.raises(ValueError, match='must be a finite number'):
        as_float(float('nan'), 'x')


@pytest.mark.parametrize('label_file', [b'labels.npy', ['labels.npy']])
def test_dataset_label_file_must_be_a_path(image_root, label_file):
    with pytest.raises(
            TypeError, match='ClusterFitDataset label_file=.* '
            r'must be a path'):
        ClusterFitDataset(image_dataset(image_root), label_file=label_file)


def test_vissl_files(tmp_path):
    labels, images = str(tmp_path / 'l.npy'), str(tmp_path / 'i.npy')
    np.save(labels, np.array([0, 1]))
    empty = str(tmp_path / 'empty.npy')
    open(empty, 'wb').close()
    garbage = str(tmp_path / 'garbage.npy')
    with open(garbage, 'wb') as f:
        f.write(b'\x93NUMPY\x01\x00garbage')
    np.save(images, np.array(['a.png', 'b.png']))
    for bad, what in ((empty, 'labels'), (garbage, 'labels')):
        with pytest.raises(
                ValueError, match=f'{bad} \\(the VISSL {what}\\) is'):
            load_vissl_pair(bad, images)
    with pytest.raises(ValueError, match='empty or cut short'):
        load_vissl_pair(labels, empty)
    # VISSL's lists may be bytes: UTF-8 is read as the same paths...
    np.save(images, np.array(['é/a.png'.encode(), b'b.png'], dtype='S'))
    assert sorted(load_vissl_pair(labels, images).values()) == [0, 1]
    # ... anything else is named, not a raw UnicodeDecodeError.
    np.save(images, np.array([b'\xff\xfe.png', b'b.png'], dtype='S'))
    with pytest.raises(
            ValueError,
            match=r"image path 0 \(b'\\xff\\xfe.png'\) is not "
            'UTF-8'):
        load_vissl_pair(labels, images)


@pytest.fixture
def bad_checkpoints(tmp_path):
    empty = str(tmp_path / 'empty.pth')
    open(empty, 'wb').close()
    cut = str(tmp_path / 'cut.pth')
    torch.save({'state_dict': {'w': torch.zeros(1000)}}, cut)
    with open(cut, 'r+b') as f:
        f.truncate(300)
    listed = str(tmp_path / 'list.pth')
    torch.save([1, 2], listed)
    return empty, cut, listed


def test_checkpoint_files(tmp_path, bad_checkpoints):
    empty, cut, listed = bad_checkpoints
    for path in (empty, cut):
        with pytest.raises(
                ValueError,
                match=f"source checkpoint '{path}' is empty, cut "
                'short or not a torch checkpoint'):
            build_source_model(source(checkpoint=path))
        with pytest.raises(ValueError, match=f"checkpoint '{path}' is empty"):
            convert_checkpoint(path, str(tmp_path / 'out.pth'))
    publish = load_tool('model_converters/publish_model')
    with pytest.raises(ValueError, match=f"checkpoint '{empty}' is empty"):
        publish.publish(empty, str(tmp_path / 'published'))
    with pytest.raises(
            ValueError, match=f'{listed} holds a list, not a '
            'checkpoint dict'):
        publish.publish(listed, str(tmp_path / 'published'))


def test_config_files(tmp_path):
    binary = str(tmp_path / 'weights.py')
    with open(binary, 'wb') as f:
        f.write(b'\xff\xfe\x00\x80')
    with pytest.raises(
            ValueError,
            match=f"config '{binary}' is not a Python config file "
            r'\(UnicodeDecodeError'):
        load_config(binary)
    empty = str(tmp_path / 'empty.py')
    open(empty, 'w').close()
    with pytest.raises(
            ValueError,
            match=f'{empty} has no model, train_dataloader, '
            'train_cfg, optim_wrapper: it is not a training'):
        check_training_entries(load_config(empty))
    # tools/train.py says the same, not mmengine's KeyError('model').
    done = subprocess.run(
        [sys.executable,
         osp.join(ROOT, 'tools', 'train.py'), empty],
        capture_output=True,
        text=True,
        timeout=300)
    assert done.returncode != 0
    assert 'it is not a training config' in done.stderr
    assert 'KeyError' not in done.stderr
