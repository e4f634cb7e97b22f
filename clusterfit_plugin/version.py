# Copyright (c) clusterfit_plugin contributors. All rights reserved.
__version__ = '0.1.0'
