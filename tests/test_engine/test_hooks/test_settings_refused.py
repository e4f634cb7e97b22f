# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""What a user writes in ClusterFitHook is honoured or refused, through the
stock Runner: a misspelled or foreign key, a silent random source."""
import copy
import glob
import os.path as osp

import pytest
from helpers import BACKBONE, SOURCE_MODEL, cache_files, make_cfg, run_runner
from mmengine.config import Config
from mmengine.runner import Runner


@pytest.mark.parametrize('overrides, message', [
    (dict(source='checkpont'),
     "source: unknown key 'checkpont'; did you mean 'checkpoint'"),
    (dict(source='pretrained'),
     "source: unknown key 'pretrained'; write checkpoint='...'"),
    (dict(features=dict(dtyp='float16')),
     "features: unknown key 'dtyp'; did you mean 'dtype'"),
    (dict(pca=dict(dims=8)), "pca: unknown key 'dims'; write dim="),
    (dict(kmeans=dict(nitr=5)), "kmeans: unknown key 'nitr'"),
    (dict(kmeans=dict(random_state=1)),
     "kmeans: unknown key 'random_state'; write seed="),
    (dict(diagnostics=dict(per_clusters=4)),
     "diagnostics: unknown key 'per_clusters'; did you mean 'per_cluster'"),
    (dict(fingerprint=dict(content='sha256')),
     "fingerprint: unknown key 'content'; did you mean 'contents'"),
    (dict(l2_normalize='False'), "l2_normalize='False' must be True or"),
    (dict(batch_size=0), 'batch_size=0 must be >= 1'),
])
def test_unknown_keys_stop_the_runner_before_anything_runs(
        tmp_path, image_root, source_checkpoint, overrides, message):
    """On the old main each of these was kept and ignored: a misspelled
    checkpoint key gave a randomly initialised source."""
    work = str(tmp_path / 'w')
    cfg = make_cfg(work, image_root, source_checkpoint)
    hook = cfg['custom_hooks'][0]
    if 'source' in overrides:  # the checkpoint under another key
        hook['source'][overrides.pop('source')] = hook['source'].pop(
            'checkpoint')
    hook.update(overrides)
    with pytest.raises((TypeError, ValueError),
                       match=f'ClusterFitHook {message}'):
        Runner.from_cfg(Config(cfg))
    assert cache_files(work) == []


def test_a_source_without_checkpoint_is_refused(tmp_path, image_root,
                                                source_checkpoint):
    cfg = make_cfg(str(tmp_path / 'w'), image_root, source_checkpoint)
    del cfg['custom_hooks'][0]['source']['checkpoint']
    with pytest.raises(
            ValueError,
            match='source has no checkpoint, so its network would be '
            "randomly initialised.*checkpoint=None or init='random'"):
        Runner.from_cfg(Config(cfg))


def pretrained_source() -> dict:
    """The tiny source whose config initialises from a Pretrained file."""
    model = copy.deepcopy(SOURCE_MODEL)
    model['backbone'] = dict(
        BACKBONE,
        init_cfg=dict(type='Pretrained', checkpoint='downloads/moco.pth'))
    return model


def test_a_pretrained_init_is_not_dropped_silently(tmp_path, image_root,
                                                   source_checkpoint):
    """checkpoint=None with a source config that initialises from a
    Pretrained file stops before extraction, naming the file and both ways
    out."""
    work = str(tmp_path / 'w')
    cfg = make_cfg(work, image_root, source_checkpoint)
    cfg['custom_hooks'][0]['source'] = dict(
        model=pretrained_source(), checkpoint=None)
    with pytest.raises(
            ValueError,
            match=r"initialises from 'downloads/moco\.pth'.*Give "
            r"checkpoint='downloads/moco\.pth'.*or init='random'"):
        run_runner(cfg)
    assert cache_files(work) == []


def test_a_random_source_on_purpose_says_so(tmp_path, image_root,
                                            source_checkpoint):
    """init='random' drops the Pretrained init (no file is read) and the log
    says in a line of its own that the source is random."""
    work = str(tmp_path / 'w')
    cfg = make_cfg(work, image_root, source_checkpoint)
    cfg['custom_hooks'][0]['source'] = dict(
        model=pretrained_source(), init='random', init_seed=3)
    run_runner(cfg)
    with open(glob.glob(osp.join(work, '*', '*.log'))[0]) as f:
        lines = [line for line in f if 'RANDOMLY' in line]
    assert len(lines) == 1 and lines[0].rstrip().endswith(
        'the source is a RANDOMLY INITIALISED ImageClassifier (init_seed=3): '
        'no weights are loaded, as its settings ask (checkpoint=None / '
        "init='random').")
    assert 'labels.npy' in cache_files(work)
