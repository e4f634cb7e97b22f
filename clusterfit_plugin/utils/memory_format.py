# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The channels-last memory format for a model's 4-D tensors."""
import torch


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
