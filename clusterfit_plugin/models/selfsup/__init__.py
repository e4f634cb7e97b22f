from .rotnet import RotNet

__all__ = ['RotNet']
