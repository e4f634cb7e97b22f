# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .cluster_diagnostics import (agreement, cluster_grid, replay_diagnostics,
                                  save_png, size_histogram, to_tile,
                                  write_diagnostics)
from .writer import DiagnosticsWriter

__all__ = [
    'DiagnosticsWriter', 'agreement', 'cluster_grid', 'replay_diagnostics',
    'save_png', 'size_histogram', 'to_tile', 'write_diagnostics'
]
