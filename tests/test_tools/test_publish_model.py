# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""tools/model_converters/publish_model.py: a ClusterFit backbone that a
stock mmpretrain config loads without the plugin."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from helpers import ROOT, load_tool, make_cfg, run_runner

# Run in a fresh interpreter that never imports clusterfit_plugin: a stock
# mmpretrain classifier whose backbone comes from the published file.
STOCK = '''
import sys, torch
from mmpretrain.registry import MODELS
from mmpretrain.utils import register_all_modules
register_all_modules()
checkpoint, bare, runner_checkpoint, out = sys.argv[1:]
try:
    torch.load(runner_checkpoint, weights_only=True)
    print('RUNNER CHECKPOINT LOADED')
except Exception as e:
    print('RUNNER CHECKPOINT REFUSED', type(e).__name__)
def backbone(init_cfg):
    model = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=4,
                      stem_channels=4, norm_cfg=dict(type='BN'),
                      init_cfg=init_cfg),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=32)))
    model.init_weights()
    return model.backbone.state_dict()
# The kept keys with prefix='backbone.', the bare file without a prefix
# (mmselfsup's habit).
kept = backbone(dict(type='Pretrained', checkpoint=checkpoint,
                     prefix='backbone.'))
without = backbone(dict(type='Pretrained', checkpoint=bare))
assert 'clusterfit_plugin' not in sys.modules
torch.save(dict(kept=kept, bare=without), out)
'''


@pytest.mark.slow
def test_published_backbone_loads_in_a_stock_config(tmp_path, image_root,
                                                    source_checkpoint):
    work = str(tmp_path / 'w')
    runner = run_runner(make_cfg(work, image_root, source_checkpoint))
    publish = load_tool('model_converters/publish_model')
    path, bare = publish.publish(
        osp.join(work, 'epoch_1.pth'), str(tmp_path / 'pub' / 'cf.pth'))
    name = osp.basename(path)
    assert re.fullmatch(r'cf_\d{8}-[0-9a-f]{8}\.pth', name)
    assert name[-12:-4] == publish.sha256_file(path)[:8]
    assert re.fullmatch(r'cf-bare_\d{8}-[0-9a-f]{8}\.pth', osp.basename(bare))
    saved = torch.load(path, weights_only=True)  # plain tensors only
    assert set(saved['state_dict']) == {
        f'backbone.{k}'
        for k in runner.model.backbone.state_dict()
    }
    assert set(torch.load(bare, weights_only=True)['state_dict']) == set(
        runner.model.backbone.state_dict())
    assert sorted(os.listdir(tmp_path / 'pub')) == sorted(
        [name, osp.basename(bare)])  # no temporary file left
    out = str(tmp_path / 'stock_backbone.pth')
    proc = subprocess.run([
        sys.executable, '-c', STOCK, path, bare,
        osp.join(work, 'epoch_1.pth'), out
    ],
                          capture_output=True,
                          text=True,
                          cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # The Runner checkpoint itself needs the plugin: that is why the tool is.
    assert 'RUNNER CHECKPOINT REFUSED' in proc.stdout
    stock = torch.load(out, weights_only=True)
    for form in ('kept', 'bare'):
        for key, value in runner.model.backbone.state_dict().items():
            torch.testing.assert_close(stock[form][key], value, rtol=0, atol=0)


def test_prefix_without_weights_is_refused(tmp_path):
    path = str(tmp_path / 'x.pth')
    torch.save(dict(state_dict=dict(head_fc=torch.zeros(2))), path)
    publish = load_tool('model_converters/publish_model')
    with pytest.raises(
            ValueError,
            match=r'no weights whose key starts with '
            r"'backbone\.' \(its keys start with \['head_fc'\]\)"):
        publish.publish(path, str(tmp_path / 'out.pth'))
    assert not list(tmp_path.glob('out*'))


def test_a_planted_link_is_not_written_through(tmp_path):
    """The old tool saved to {stem}.tmp-{pid}.pth, following a link planted
    there, and then published the link."""
    import os
    source = str(tmp_path / 'epoch_1.pth')
    torch.save(dict(state_dict={'backbone.w': torch.ones(2)}), source)
    victim = tmp_path / 'victim.txt'
    victim.write_text('precious')
    out = tmp_path / 'pub' / 'cf.pth'
    out.parent.mkdir()
    (out.parent / f'cf.tmp-{os.getpid()}.pth').symlink_to(victim)
    publish = load_tool('model_converters/publish_model')
    kept, bare = publish.publish(source, str(out))
    assert victim.read_text() == 'precious'
    for path in (kept, bare):
        assert not osp.islink(path)
        assert torch.load(path, weights_only=True)['state_dict']
