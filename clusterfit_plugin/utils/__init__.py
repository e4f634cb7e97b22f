# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .config_checks import check_config, check_training_entries
from .launch import (add_runner_args, apply_runner_args, run_tool,
                     set_dataloader_defaults, setup_launcher,
                     shutdown_distributed, start_launcher)
from .memory_format import to_channels_last, unsafe_cpu_convolutions
from .num_clusters import set_num_clusters

__all__ = [
    'add_runner_args', 'apply_runner_args', 'check_config',
    'check_training_entries', 'run_tool', 'set_dataloader_defaults',
    'set_num_clusters', 'setup_launcher', 'shutdown_distributed',
    'start_launcher', 'to_channels_last', 'unsafe_cpu_convolutions'
]
