# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Typed settings: unknown keys, foreign words, types and ranges refused."""
import dataclasses

import pytest

from clusterfit_plugin.clustering import KMeans
from clusterfit_plugin.engine.settings import (DiagnosticsSettings,
                                               FeatureStoreSettings,
                                               FingerprintSettings,
                                               PCASettings, SourceSettings)
from clusterfit_plugin.settings import (Settings, as_bool, as_choice, as_float,
                                        as_int, check_keys)

MODEL = dict(type='ImageClassifier', backbone=dict(type='ResNet', depth=18))


def test_check_keys_names_the_key_the_match_and_the_accepted_ones():
    with pytest.raises(ValueError) as info:
        check_keys(['config', 'checkpont'], ('config', 'checkpoint', 'stage'),
                   'source')
    assert str(info.value) == (
        "source: unknown key 'checkpont'; did you mean 'checkpoint'? "
        '(accepted: config, checkpoint, stage).')
    with pytest.raises(ValueError, match=r"unknown key 'zzz' \(accepted"):
        check_keys(['zzz'], ('config', ), 'source')
    with pytest.raises(ValueError, match="'pretrained'; write checkpoint="):
        check_keys(['pretrained'], ('checkpoint', ), 'source',
                   dict(pretrained='checkpoint=...'))
    check_keys(['stage'], ('stage', ), 'source')  # no error


@pytest.mark.parametrize('value', [True, 2.0, '2', None])
def test_as_int_refuses_what_is_not_an_integer(value):
    with pytest.raises(TypeError, match=r'niter=.* must be an integer'):
        as_int(value, 'niter')


def test_value_checks():
    assert as_int(3, 'n', 1, 3) == 3
    with pytest.raises(ValueError, match='n=0 must be >= 1'):
        as_int(0, 'n', 1)
    with pytest.raises(ValueError, match='n=4 must be <= 3'):
        as_int(4, 'n', maximum=3)
    assert as_float(1, 'x') == 1.0
    with pytest.raises(ValueError, match='x=nan must be a finite number'):
        as_float(float('nan'), 'x')
    with pytest.raises(TypeError, match='must be a number'):
        as_float('1e-3', 'x')
    with pytest.raises(TypeError, match="keep='False' must be True or False"):
        as_bool('False', 'keep')
    with pytest.raises(
            ValueError,
            match=r"dtype='float61' is unknown \(did you mean 'float16'"):
        as_choice('float61', 'dtype', ('float32', 'float16'))


@pytest.mark.parametrize('cls, bad, hint', [
    (FeatureStoreSettings, dict(dtyp='float16'), "did you mean 'dtype'"),
    (FeatureStoreSettings, dict(precision='float16'), 'write dtype='),
    (PCASettings, dict(dim=8, whitening=False), "did you mean 'whiten'"),
    (PCASettings, dict(n_components=8), 'write dim=...'),
    (DiagnosticsSettings, dict(grid_cluster=4), "'grid_clusters'"),
    (FingerprintSettings, dict(content='sha256'), "did you mean 'contents'"),
    (SourceSettings, dict(model=MODEL,
                          checkpont='a.pth'), "did you mean 'checkpoint'"),
    (SourceSettings, dict(
        model=MODEL, pretrained='a.pth'), "write checkpoint='...'.*mmselfsup"),
    (SourceSettings, dict(model=MODEL, checkpoint=None,
                          layer='neck'), 'write stage='),
])
def test_every_settings_class_refuses_unknown_keys(cls, bad, hint):
    with pytest.raises(ValueError, match=f'{cls.NAME}: unknown key.*{hint}'):
        cls.parse(bad)


def test_settings_check_their_values():
    with pytest.raises(TypeError, match='features.keep'):
        FeatureStoreSettings.parse(dict(keep='yes'))
    with pytest.raises(ValueError, match="features.storage='tape'"):
        FeatureStoreSettings.parse(dict(storage='tape'))
    with pytest.raises(ValueError, match='features.flush_every=0'):
        FeatureStoreSettings.parse(dict(flush_every=0))
    with pytest.raises(ValueError, match='pca needs dim'):
        PCASettings.parse(dict(whiten=False))
    with pytest.raises(TypeError, match='pca.dim=8.5'):
        PCASettings.parse(dict(dim=8.5))
    with pytest.raises(ValueError, match='diagnostics.per_cluster=0'):
        DiagnosticsSettings.parse(dict(per_cluster=0))
    with pytest.raises(ValueError, match="fingerprint.contents='md5'"):
        FingerprintSettings.parse(dict(contents='md5'))
    with pytest.raises(TypeError, match='must be a dict with the keys'):
        PCASettings.parse(64)
    with pytest.raises(ValueError, match="source.stage='layer4'"):
        SourceSettings.parse(
            dict(model=MODEL, checkpoint=None, stage='layer4'))
    with pytest.raises(ValueError, match="checkpoint_format='timm'"):
        SourceSettings.parse(
            dict(model=MODEL, checkpoint='a.pth', checkpoint_format='timm'))


def test_parse_keeps_the_defaults_and_returns_parsed_settings_as_they_are():
    store = FeatureStoreSettings.parse({})
    assert store.to_dict() == dict(
        storage='memory', dtype='float32', keep=False, flush_every=8192)
    assert FeatureStoreSettings.parse(store) is store
    assert PCASettings.parse(dict(dim=8)).to_dict() == dict(dim=8, whiten=True)
    assert isinstance(store, Settings) and dataclasses.is_dataclass(store)


def test_a_random_source_only_on_purpose():
    with pytest.raises(
            ValueError,
            match='source has no checkpoint.*'
            "checkpoint=None or init='random'"):
        SourceSettings.parse(dict(model=MODEL))
    assert SourceSettings.parse(dict(model=MODEL, checkpoint=None)).is_random
    random = SourceSettings.parse(dict(model=MODEL, init='random'))
    assert random.is_random and random.random_on_purpose
    loaded = SourceSettings.parse(dict(model=MODEL, checkpoint='a.pth'))
    assert not loaded.is_random and loaded.init is None
    with pytest.raises(ValueError, match='contradict'):
        SourceSettings.parse(
            dict(model=MODEL, checkpoint='a.pth', init='random'))
    with pytest.raises(ValueError, match="init='checkpoint' needs"):
        SourceSettings.parse(dict(model=MODEL, init='checkpoint'))
    with pytest.raises(ValueError, match="checkpoint='' names no file"):
        SourceSettings.parse(dict(model=MODEL, checkpoint=''))
    with pytest.raises(ValueError, match='has none'):
        SourceSettings.parse(
            dict(model=MODEL, checkpoint=None, checkpoint_format='moco'))
    with pytest.raises(ValueError, match='exactly one of config'):
        SourceSettings.parse(dict(checkpoint=None))


def test_kmeans_from_config_refuses_typos_and_foreign_words():
    with pytest.raises(
            ValueError,
            match="kmeans: unknown key 'nitr'; did "
            "you mean 'niter'"):
        KMeans.from_config(4, dict(nitr=10))
    with pytest.raises(ValueError, match="'max_iter'; write niter="):
        KMeans.from_config(4, dict(max_iter=10))
    with pytest.raises(ValueError, match="'num_clusters'; write the hook's"):
        KMeans.from_config(4, dict(num_clusters=8))
    with pytest.raises(TypeError, match="kmeans.spherical='True'"):
        KMeans.from_config(4, dict(spherical='True'))
    with pytest.raises(TypeError, match='kmeans.niter=10.5'):
        KMeans.from_config(4, dict(niter=10.5))
    kmeans = KMeans.from_config(4, dict(niter=7, seed=3))
    assert (kmeans.num_clusters, kmeans.niter, kmeans.seed) == (4, 7, 3)
