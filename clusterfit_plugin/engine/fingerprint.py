# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""What a clustering depends on, as digests: the fingerprint of the cache,
the key of the extracted features, and the package versions a manifest
records."""
import platform
from typing import Dict

import mmengine
import mmpretrain
import numpy as np
import torch

from ..clustering import kmeans as kmeans_module
from ..fileio import sha256_of
from ..version import __version__

# The fingerprint parts that determine the extracted features.
FEATURE_PARTS = ('samples', 'source_weights', 'source_model', 'stage',
                 'extract_pipeline', 'feature_dtype')


def combine_fingerprint(parts: Dict[str, str]) -> str:
    """One fingerprint from named component digests.

    Args:
        parts (dict): component name -> digest.

    Returns:
        str: hex digest over all components.
    """
    return sha256_of(sorted(parts.items()))


def feature_key(parts: Dict[str, str]) -> str:
    """The fingerprint of the extracted features alone (it names the disk
    store's shards, so that an extraction resumes only its own rows).

    Args:
        parts (dict): all fingerprint parts.

    Returns:
        str: hex digest over :data:`FEATURE_PARTS`.
    """
    return combine_fingerprint({k: parts[k] for k in FEATURE_PARTS})


def package_versions() -> Dict[str, str]:
    """Versions of the packages a clustering depends on (for the manifest).

    Returns:
        dict: package name -> version.
    """
    versions = dict(
        clusterfit_plugin=__version__,
        python=platform.python_version(),
        torch=torch.__version__,
        mmengine=mmengine.__version__,
        mmpretrain=mmpretrain.__version__,
        numpy=np.__version__)
    if kmeans_module.faiss is not None:
        versions['faiss'] = kmeans_module.faiss.__version__
    return versions
