# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""``ChannelsLastHook``: train in the channels-last memory format."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ...utils.memory_format import to_channels_last, unsafe_cpu_convolutions


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Convert the model's 4-D weights to channels-last before training.

    With channels-last convolution weights, PyTorch's oneDNN (CPU) and cuDNN
    convolutions return channels-last outputs, so the whole network runs in
    that format, which oneDNN's convolutions run faster (docs/demo.md).
    The parameters are converted in place, so the optimizer the Runner
    built keeps training them, and a checkpoint saved later loads into any
    model as usual. Only 4-D tensors are converted (see
    :func:`to_channels_last`): the 3-D convolutions of video models are left
    as they are.

    On the CPU, a model with a strided 1x1 convolution of few input channels
    (:func:`unsafe_cpu_convolutions`) is left contiguous with a warning:
    oneDNN's channels-last weight gradient for such a layer corrupts memory
    on AVX2 CPUs (docs/status.md). The layout changes the speed, never what
    is learnt, so the run goes on in the contiguous format.

    Use it with ``custom_hooks=[dict(type='ChannelsLastHook')]``.
    """

    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        """Convert the model being trained (unwrapped from DDP and the
        like), unless it is on the CPU with a layer oneDNN mishandles."""
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        on_cpu = any(p.device.type == 'cpu' for p in model.parameters())
        unsafe = unsafe_cpu_convolutions(model) if on_cpu else []
        if unsafe:
            runner.logger.warning(
                'ChannelsLastHook: the model stays in the contiguous format: '
                f'{", ".join(unsafe)} are strided 1x1 convolutions with '
                'fewer than 16 input channels, whose channels-last training '
                "on the CPU corrupts memory in oneDNN's AVX2 kernels "
                '(docs/status.md). Remove the hook from custom_hooks to '
                'silence this.')
            return
        converted = to_channels_last(model)
        runner.logger.info(f'ChannelsLastHook: {converted} 4-D tensors in '
                           'the channels-last memory format.')
