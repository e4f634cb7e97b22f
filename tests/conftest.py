# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Session fixtures: tiny real image data and a real source checkpoint
(shared values and helpers are in helpers.py)."""
import copy
import logging
import subprocess
import uuid

import pytest
import torch
from helpers import SOURCE_MODEL, write_images
from mmengine.logging import MMLogger

import clusterfit_plugin  # noqa: F401


@pytest.fixture(scope='session')
def image_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('images'))
    write_images(root)
    return root


@pytest.fixture(scope='session')
def source_checkpoint(tmp_path_factory) -> str:
    """A real checkpoint file of SOURCE_MODEL (seeded random weights)."""
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(SOURCE_MODEL))
    model.init_weights()
    path = str(tmp_path_factory.mktemp('source') / 'source.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


@pytest.fixture
def rounds(monkeypatch) -> list:
    """The clustering rounds that actually ran in this test: one
    ``(stage, round_id)`` entry per :meth:`ClusteringRound.run` call."""
    from clusterfit_plugin.engine import ClusteringRound
    calls = []
    run = ClusteringRound.run

    def counted(self, model, dataset, stage, *args, **kwargs):
        calls.append((stage, kwargs.get('round_id', 0)))
        return run(self, model, dataset, stage, *args, **kwargs)

    monkeypatch.setattr(ClusteringRound, 'run', counted)
    return calls


@pytest.fixture
def log():
    """The messages logged through a fresh current mmengine logger; calling
    it returns them since the last call."""
    logger = MMLogger.get_instance(f'test-{uuid.uuid4().hex}')
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger.addHandler(handler)

    def read():
        text = '\n'.join(records)
        records.clear()
        return text

    yield read
    logger.removeHandler(handler)


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs mounted for this test (needs root, as CI runs); it is
    skipped, saying why, where mounting is not permitted."""
    mount = tmp_path / 'small_disk'
    mount.mkdir()
    done = subprocess.run(
        ['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs',
         str(mount)],
        capture_output=True,
        text=True)
    if done.returncode:
        pytest.skip(f'cannot mount a small tmpfs here: {done.stderr.strip()}')
    yield str(mount)
    subprocess.run(['umount', '-l', str(mount)], check=True)
