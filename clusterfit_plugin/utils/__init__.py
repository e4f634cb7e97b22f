from .launch import (add_runner_args, apply_runner_args,
                     set_dataloader_defaults, setup_launcher)

__all__ = [
    'add_runner_args', 'apply_runner_args', 'set_dataloader_defaults',
    'setup_launcher'
]
