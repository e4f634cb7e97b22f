from .launch import set_dataloader_defaults, setup_launcher

__all__ = ['set_dataloader_defaults', 'setup_launcher']
