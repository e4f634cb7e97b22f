# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""VISSL's disk_filelist label pair: export, and import matched by image
path in any order, with clear errors on every path that does not match."""
import os.path as osp

import numpy as np
import pytest
from helpers import NUM_IMAGES, image_dataset, load_tool, make_cfg
from mmengine.config import Config

from clusterfit_plugin.datasets import export_vissl_labels, import_vissl_labels

tool = load_tool('dataset_converters/vissl_labels')


@pytest.fixture
def dataset(image_root):
    return image_dataset(image_root)


@pytest.fixture
def labels():
    return np.random.default_rng(0).integers(0, 7, NUM_IMAGES)


def save_pair(directory, paths, labels, prefix='train'):
    images_file = osp.join(directory, f'{prefix}_images.npy')
    labels_file = osp.join(directory, f'{prefix}_labels.npy')
    np.save(images_file, np.array(paths, dtype=str))
    np.save(labels_file, np.asarray(labels))
    return labels_file, images_file


def test_export_writes_vissl_disk_filelist(tmp_path, dataset, labels,
                                           image_root):
    images_file, labels_file = export_vissl_labels(dataset, labels,
                                                   str(tmp_path))
    assert (images_file, labels_file) == (str(tmp_path / 'train_images.npy'),
                                          str(tmp_path / 'train_labels.npy'))
    images = np.load(images_file)
    # The absolute image paths in dataset order (the ann.txt lines).
    lines = open(osp.join(image_root, 'ann.txt')).read().split('\n')
    want = [osp.join(image_root, line.split()[0]) for line in lines if line]
    assert images.dtype.kind == 'U' and images.tolist() == want
    np.testing.assert_array_equal(np.load(labels_file), labels)
    assert np.load(labels_file).dtype == np.int64


def test_export_refuses_float_and_negative_labels(tmp_path, dataset, labels):
    """The old export truncated 1.7 to 1 and wrote -1, which its own import
    refuses."""
    with pytest.raises(TypeError, match='float64; cluster ids are integers'):
        export_vissl_labels(dataset, labels + 0.7, str(tmp_path))
    negative = labels.copy()
    negative[4] = -1
    with pytest.raises(ValueError, match=r'cluster ids range over \[-1, '):
        export_vissl_labels(dataset, negative, str(tmp_path))
    assert not list(tmp_path.iterdir())  # nothing written


def test_import_matches_by_path_in_any_order(tmp_path, dataset, labels,
                                             image_root):
    paths = [dataset.get_data_info(i)['img_path'] for i in range(len(labels))]
    order = np.random.default_rng(1).permutation(len(labels))
    # VISSL's list in another order, made on another machine.
    moved = [
        '/cluster/data/' + osp.relpath(paths[i], image_root) for i in order
    ]
    labels_file, images_file = save_pair(str(tmp_path), moved, labels[order])
    with pytest.raises(ValueError, match='--replace-prefix') as err:
        import_vissl_labels(dataset, labels_file, images_file)
    assert f'{NUM_IMAGES} of the dataset' in str(err.value)
    imported = import_vissl_labels(dataset, labels_file, images_file,
                                   ('/cluster/data/', image_root + '/'))
    np.testing.assert_array_equal(imported, labels)
    assert imported.dtype == np.int64


def test_import_refuses_what_does_not_match(tmp_path, dataset, labels):
    paths = [dataset.get_data_info(i)['img_path'] for i in range(len(labels))]
    d = str(tmp_path)
    cases = [
        (paths + ['/elsewhere/x.png'], list(labels) + [0],
         'not in the dataset'),
        (paths[:-1] + [paths[0]], labels, 'twice'),
        (paths[1:], labels[1:], '1 of the dataset'),
        (paths, labels[:-1], f'{NUM_IMAGES - 1} labels but'),
        (paths, -labels - 1, 'negative'),
        (paths, labels.astype(float), '1-D integer'),
    ]
    for i, (p, lab, message) in enumerate(cases):
        pair = save_pair(d, p, lab, prefix=f'case{i}')
        with pytest.raises(ValueError, match=message):
            import_vissl_labels(dataset, *pair)
    extra = save_pair(d, paths + ['/elsewhere/x.png'],
                      list(labels) + [0], 'extra')
    np.testing.assert_array_equal(
        import_vissl_labels(dataset, *extra, allow_extra=True), labels)
    labels_file, pickled = save_pair(d, paths, labels, 'obj')
    np.save(pickled, np.array(paths, dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match='Python objects'):
        import_vissl_labels(dataset, labels_file, pickled)


def test_tool_round_trip(tmp_path, image_root, source_checkpoint, labels):
    """export then import through the tool gives the labels back, and the
    result is a label file the ClusterFitDataset takes."""
    config = str(tmp_path / 'cfg.py')
    Config(make_cfg(str(tmp_path / 'w'), image_root,
                    source_checkpoint)).dump(config)
    np.save(tmp_path / 'labels.npy', labels)
    tool.main([
        'export', config,
        str(tmp_path / 'labels.npy'), '--out-dir',
        str(tmp_path / 'vissl')
    ])
    out = str(tmp_path / 'imported.npy')
    tool.main([
        'import', config,
        str(tmp_path / 'vissl' / 'train_labels.npy'), '--out', out
    ])
    np.testing.assert_array_equal(np.load(out), labels)
    from clusterfit_plugin.datasets import load_label_file
    np.testing.assert_array_equal(load_label_file(out, NUM_IMAGES, 7), labels)
    with pytest.raises(SystemExit):
        tool.parse_args(['import', config, 'x_lbls.npy', '--out', out])
