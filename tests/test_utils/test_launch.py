# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The tools' end of a distributed run: the process group is destroyed."""
import torch.distributed as torch_dist

from clusterfit_plugin.utils import shutdown_distributed


def test_shutdown_destroys_the_default_group(tmp_path):
    torch_dist.init_process_group(
        'gloo',
        init_method=f'file://{tmp_path / "store"}',
        rank=0,
        world_size=1)
    assert torch_dist.is_initialized()
    shutdown_distributed()
    assert not torch_dist.is_initialized()
    shutdown_distributed()  # without a group: nothing to do, no error
    assert not torch_dist.is_initialized()
