# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Safe loading of mmengine checkpoints on torch 2.14, and no global side
effects at import."""
import pickle
import subprocess
import sys

import pytest
import torch
from helpers import ROOT
from mmengine.logging import HistoryBuffer

from clusterfit_plugin.compat import _history_buffer_getattr


class _Evil:
    """Pickles as getattr(HistoryBuffer, 'register_statistics'): an allowed
    class, an attribute outside the statistics methods."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, 'register_statistics'))


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    """What an mmengine Runner checkpoint holds loads with
    weights_only=True (torch's default) once the plugin is imported."""
    buf = HistoryBuffer()
    buf.update(1.5)
    import numpy as np
    ckpt = dict(
        message_hub=dict(log_scalars={'loss': buf}),
        meta=dict(seed=np.int64(3), arr=np.arange(3)))
    path = tmp_path / 'c.pth'
    torch.save(ckpt, path)
    loaded = torch.load(path, weights_only=True)
    assert loaded['message_hub']['log_scalars']['loss'].mean() == 1.5
    assert loaded['meta']['arr'].tolist() == [0, 1, 2]


def test_restricted_getattr_refuses_other_attributes(tmp_path):
    with pytest.raises(pickle.UnpicklingError, match='only'):
        _history_buffer_getattr(HistoryBuffer, '__init__')
    path = tmp_path / 'evil.pth'
    torch.save({'x': _Evil()}, path)
    with pytest.raises(pickle.UnpicklingError, match='register_statistics'):
        torch.load(path, weights_only=True)


def test_allow_list_only_where_torch_needs_it(monkeypatch):
    import clusterfit_plugin.compat as compat
    added = []
    monkeypatch.setattr(torch.serialization, 'add_safe_globals', added.extend)
    monkeypatch.setattr(torch, '__version__', '2.5.1')
    assert not compat.allow_mmengine_checkpoints() and added == []
    monkeypatch.setattr(torch, '__version__', '2.6.0')
    assert compat.allow_mmengine_checkpoints()
    assert compat.HistoryBuffer in added


@pytest.mark.slow
def test_import_leaves_matplotlib_backend_alone():
    """Importing the plugin must not switch matplotlib's backend (it did,
    with matplotlib.use('Agg') at import)."""
    code = ('import matplotlib; matplotlib.use("svg"); '
            'import clusterfit_plugin, clusterfit_plugin.visualization; '
            'assert matplotlib.get_backend() == "svg", '
            'matplotlib.get_backend()')
    subprocess.run([sys.executable, '-c', code], check=True, cwd=ROOT)
