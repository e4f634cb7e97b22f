# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""``ChannelsLastHook``: train in the channels-last memory format."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ...utils.memory_format import to_channels_last


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Convert the model's 4-D weights to channels-last before training.

    With channels-last convolution weights, PyTorch's oneDNN (CPU) and cuDNN
    convolutions return channels-last outputs, so the whole network runs in
    that format, which oneDNN's convolutions run faster (docs/demo.md).
    Not recommended on the CPU: oneDNN's channels-last backward has hung or
    aborted on a small model (docs/status.md). The parameters are
    converted in place, so the optimizer the Runner built keeps training
    them, and a checkpoint saved later loads into any model as usual.
    Only 4-D tensors are converted (see :func:`to_channels_last`): the 3-D
    convolutions of video models are left as they are.

    Use it with ``custom_hooks=[dict(type='ChannelsLastHook')]``; it does
    not change what is learnt, only the layout of the tensors.
    """

    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        """Convert the model being trained (unwrapped from DDP and the
        like)."""
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        converted = to_channels_last(model)
        runner.logger.info(f'ChannelsLastHook: {converted} 4-D tensors in '
                           'the channels-last memory format.')
