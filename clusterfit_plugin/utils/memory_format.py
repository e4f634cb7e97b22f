# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The channels-last memory format for a model's 4-D tensors."""
from typing import List

import torch

# oneDNN's AVX2 kernel for the weight gradient of a strided 1x1 convolution
# (``jit_avx2_1x1_convolution_bwd_weights``, torch 2.14.1's oneDNN 3.12)
# corrupts the heap in the channels-last format when the convolution has
# fewer input channels than its 8-float vectors: "double free or corruption"
# with one thread, a hang with two
# (tools/benchmarks/channels_last_repro.py, docs/status.md). 16 covers the
# AVX-512 kernels' vectors too, where it was not seen.
MIN_STRIDED_1X1_CHANNELS = 16


def to_channels_last(model: torch.nn.Module) -> int:
    """Put the model's 4-D parameters and buffers (2-D convolution weights)
    in the channels-last memory format, in place.

    Unlike ``model.to(memory_format=torch.channels_last)``, which refuses
    5-D tensors, this leaves every other tensor as it is, so video models
    (3-D convolutions) pass through unchanged. The parameter objects stay
    the same, so an optimizer built on them keeps training them.

    Args:
        model (nn.Module): the model.

    Returns:
        int: how many tensors were converted.
    """
    converted = 0
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            if tensor.dim() == 4 and not tensor.is_contiguous(
                    memory_format=torch.channels_last):
                tensor.data = tensor.data.contiguous(
                    memory_format=torch.channels_last)
                converted += 1
    return converted


def unsafe_cpu_convolutions(model: torch.nn.Module) -> List[str]:
    """The 2-D convolutions whose channels-last training on the CPU has
    corrupted memory in oneDNN: 1x1 kernels with a stride and fewer than
    :data:`MIN_STRIDED_1X1_CHANNELS` input channels.

    Args:
        model (nn.Module): the model.

    Returns:
        list[str]: the names of those modules, in the model's order.
    """
    return [
        name for name, module in model.named_modules()
        if isinstance(module, torch.nn.Conv2d) and tuple(module.kernel_size) ==
        (1, 1) and tuple(module.stride) != (
            1, 1) and module.in_channels < MIN_STRIDED_1X1_CHANNELS
    ]
