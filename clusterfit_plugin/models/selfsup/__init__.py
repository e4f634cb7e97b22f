# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .rotnet import RotNet

__all__ = ['RotNet']
