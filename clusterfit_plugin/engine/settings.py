# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The typed settings of a clustering: the source network, the feature store,
PCA, the diagnostics and the fingerprint.

Each is parsed from the config dict the user wrote
(:meth:`~clusterfit_plugin.settings.Settings.parse`): an unknown key is an
error that names it, the accepted keys and the closest match, and every
value is checked. The cache fingerprint and the manifest are built from
these objects.
"""
import copy
import os
from dataclasses import dataclass
from typing import Any, Optional

from ..clustering import DTYPES
from ..datasets.sample_keys import CONTENTS
from ..settings import Settings, as_bool, as_choice, as_int, as_path

STAGES = ('backbone', 'neck', 'pre_logits')

# The checkpoint layouts a source may be given in ('auto': detected).
CHECKPOINT_FORMATS = ('auto', 'mmpretrain', 'vissl', 'torchvision', 'moco')


class _NotGiven:
    """The value of a setting the user did not write."""

    def __repr__(self) -> str:
        return '<not given>'

    def __deepcopy__(self, memo) -> '_NotGiven':
        return self


NOT_GIVEN = _NotGiven()


def _plain(value: Any) -> Any:
    """A deep, plain-dict copy of a config value (ConfigDict -> dict)."""
    to_dict = getattr(value, 'to_dict', None)
    return copy.deepcopy(to_dict() if callable(to_dict) else value)


@dataclass
class SourceSettings(Settings):
    """The source network whose features are clustered.

    Attributes:
        config (str, optional): its config file, or
            ``'mmpretrain::...'``; built as the Runner builds it.
        model (dict, optional): or a model config dict (exactly one of
            ``config`` and ``model``).
        checkpoint (str | None): its weights. Required: ``None`` written
            out (or ``init='random'``) clusters a randomly initialised
            network, on purpose only.
        checkpoint_format (str): the checkpoint's layout: ``'mmpretrain'``
            (a Runner or published checkpoint), ``'vissl'`` (a VISSL trunk),
            ``'torchvision'`` (a torchvision ResNet), ``'moco'`` (the
            official MoCo v1 / v2 / v3 ResNet checkpoints), or ``'auto'``
            (default: detected from the keys, and logged).
        init (str, optional): ``'checkpoint'`` or ``'random'`` (which also
            drops a ``Pretrained`` init of the source's config); None
            (default) follows ``checkpoint``.
        stage (str): ``'backbone'`` (default), ``'neck'`` or
            ``'pre_logits'``.
        init_seed (int): seed of the initialisation before any weights are
            loaded (all of a random source). Defaults to 0.
    """

    NAME = 'source'
    FOREIGN = {
        'pretrained': "checkpoint='...' (the plugin's word for mmselfsup's "
        "and mmaction2's pretrained=)",
        'ckpt': "checkpoint='...'",
        'weights': "checkpoint='...'",
        'load_from': "checkpoint='...' (the Runner's load_from is the "
        "target's, not the source's)",
        'init_cfg': "checkpoint='...' (the source's weights come from "
        'source.checkpoint, never from an init_cfg)',
        'type': "model=dict(type=...) or config='...'",
        'layer': "stage='backbone' | 'neck' | 'pre_logits'",
        'feature_layer': "stage='backbone' | 'neck' | 'pre_logits'",
        'out_stage': "stage='backbone' | 'neck' | 'pre_logits'",
        'seed': 'init_seed=...',
        'format': "checkpoint_format='...'",
    }

    config: Optional[str] = None
    model: Optional[dict] = None
    checkpoint: Any = NOT_GIVEN
    checkpoint_format: str = 'auto'
    init: Optional[str] = None
    stage: str = 'backbone'
    init_seed: int = 0

    def __post_init__(self):
        if (self.config is None) == (self.model is None):
            raise ValueError("source needs exactly one of config='path/or/"
                             "pkg::config.py' or model=dict(type=...).")
        if self.config is not None:
            self.config = as_path(self.config, 'source config')
        else:
            if not hasattr(self.model, 'get'):
                raise TypeError(f'source model={self.model!r} must be a '
                                'model config dict.')
            self.model = _plain(self.model)
        self._resolve_init()
        self.checkpoint_format = as_choice(self.checkpoint_format,
                                           'source.checkpoint_format',
                                           CHECKPOINT_FORMATS)
        if self.is_random and self.checkpoint_format != 'auto':
            raise ValueError(
                f'source checkpoint_format={self.checkpoint_format!r} names '
                'the layout of a checkpoint, but the source has none (a '
                'random init). Give checkpoint=... or drop checkpoint_format.')
        self.stage = as_choice(self.stage, 'source.stage', STAGES)
        self.init_seed = as_int(self.init_seed, 'source.init_seed', 0)

    def _resolve_init(self) -> None:
        """Decide between loading a checkpoint and a random init."""
        checkpoint, init = self.checkpoint, self.init
        if isinstance(checkpoint, os.PathLike):
            checkpoint = self.checkpoint = os.fspath(checkpoint)
        if not (checkpoint is None or checkpoint is NOT_GIVEN
                or isinstance(checkpoint, str)):
            raise TypeError(f'source checkpoint={checkpoint!r} must be a '
                            'path, or None for a random init.')
        if checkpoint == '':
            raise ValueError(
                "source checkpoint='' names no file. Give the source's "
                '.pth, or checkpoint=None to cluster a randomly initialised '
                'network on purpose.')
        if init is not None:
            as_choice(init, 'source.init', ('checkpoint', 'random'))
        given = isinstance(checkpoint, str)
        if init == 'random' and given:
            raise ValueError(
                f"source init='random' and checkpoint={checkpoint!r} "
                'contradict each other: drop checkpoint to cluster a random '
                "network, or drop init='random' to load the checkpoint.")
        if init == 'checkpoint' and not given:
            raise ValueError(
                "source init='checkpoint' needs checkpoint='path/to/"
                "source.pth'.")
        if init is None and checkpoint is NOT_GIVEN:
            raise ValueError(
                'source has no checkpoint, so its network would be randomly '
                "initialised. Give checkpoint='path/to/source.pth' (the "
                "plugin's word for pretrained=); to cluster a random network "
                "on purpose, write checkpoint=None or init='random'.")
        if not given:
            self.checkpoint = None

    @property
    def is_random(self) -> bool:
        """bool: whether the source is a random init (no checkpoint)."""
        return self.checkpoint is None

    @property
    def random_on_purpose(self) -> bool:
        """bool: whether ``init='random'`` was written, which also drops a
        ``Pretrained`` init of the source's config."""
        return self.init == 'random'

    def summary(self) -> dict:
        """What a manifest records of the source.

        Returns:
            dict: config (or model type), checkpoint path and format, stage,
            init.
        """
        return dict(
            config=self.config,
            model=None if self.model is None else self.model.get('type'),
            checkpoint=None
            if self.checkpoint is None else os.path.abspath(self.checkpoint),
            checkpoint_format=self.checkpoint_format,
            stage=self.stage,
            init='checkpoint'
            if self.checkpoint else f'random (init_seed={self.init_seed})')


@dataclass
class FeatureStoreSettings(Settings):
    """Where a round keeps the extracted features.

    Attributes:
        storage (str): ``'memory'`` (default), or ``'disk'``: one resumable
            memory-mapped file per rank in the cache.
        dtype (str): ``'float32'`` (default) or ``'float16'``.
        keep (bool): keep the disk files after the round. Defaults to False.
        flush_every (int): rows between progress records on disk. Defaults
            to 8192.
    """

    NAME = 'features'
    FOREIGN = {'precision': "dtype='float32' | 'float16'"}

    storage: str = 'memory'
    dtype: str = 'float32'
    keep: bool = False
    flush_every: int = 8192

    def __post_init__(self):
        self.storage = as_choice(self.storage, 'features.storage',
                                 ('memory', 'disk'))
        self.dtype = as_choice(self.dtype, 'features.dtype', DTYPES)
        self.keep = as_bool(self.keep, 'features.keep')
        self.flush_every = as_int(self.flush_every, 'features.flush_every', 1)


@dataclass
class PCASettings(Settings):
    """PCA before the L2 normalisation, fitted on the k-means sample.

    Attributes:
        dim (int): the output dimension (required).
        whiten (bool): whiten the components. Defaults to True.
    """

    NAME = 'pca'
    FOREIGN = {
        'n_components': 'dim=...',
        'dims': 'dim=...',
        'out_dim': 'dim=...'
    }

    dim: Optional[int] = None
    whiten: bool = True

    def __post_init__(self):
        if self.dim is None:
            raise ValueError('pca needs dim: pca=dict(dim=256), or pca=None.')
        self.dim = as_int(self.dim, 'pca.dim', 1)
        self.whiten = as_bool(self.whiten, 'pca.whiten')


@dataclass
class DiagnosticsSettings(Settings):
    """The pictures written with a clustering's scores.

    Attributes:
        grid_clusters (int): clusters shown in the sample grid. Defaults
            to 8.
        per_cluster (int): samples shown per cluster. Defaults to 8.
    """

    NAME = 'diagnostics'

    grid_clusters: int = 8
    per_cluster: int = 8

    def __post_init__(self):
        self.grid_clusters = as_int(self.grid_clusters,
                                    'diagnostics.grid_clusters', 1)
        self.per_cluster = as_int(self.per_cluster, 'diagnostics.per_cluster',
                                  1)


@dataclass
class FingerprintSettings(Settings):
    """How much of each sample file the cache fingerprint covers.

    Attributes:
        contents (str): ``'none'`` (default: the paths only), ``'mtime_size'``
            (one ``stat`` per file) or ``'sha256'`` (every byte).
    """

    NAME = 'fingerprint'

    contents: str = 'none'

    def __post_init__(self):
        self.contents = as_choice(self.contents, 'fingerprint.contents',
                                  CONTENTS)


def parse_optional(cls, value: Any, where: Optional[str] = None):
    """``cls.parse(value)``, or None for None (a setting turned off).

    Args:
        cls (type): a :class:`Settings` subclass.
        value: the user's dict, settings, or None.
        where (str, optional): the setting's place, for messages.

    Returns:
        Settings | None: the parsed settings.
    """
    return None if value is None else cls.parse(value, where)
