# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Clip pipelines as mmaction2 1.x writes them (configs/recognition/r2plus1d):
run as mmaction2 runs them, checked against frames decoded and resized the
way mmaction2's own transforms do (decord, mmcv.rescale_size, mmcv.imresize);
image transforms in a clip pipeline refused before any data is read."""
import copy
import os.path as osp

import decord
import mmcv
import numpy as np
import pytest
import torch
from helpers import cache_files, load_tool, reference_labels, run_runner
from mmpretrain.registry import DATASETS, MODELS

from clusterfit_plugin.engine.source import build_source_model

moving_digits = load_tool('demo/make_moving_digits')


def val_pipeline(short_edge=40, crop=36):
    """mmaction2's r2plus1d val_pipeline, at the size of 32 x 32 clips."""
    return [
        dict(type='DecordInit', io_backend='disk'),
        dict(
            type='SampleFrames',
            clip_len=8,
            frame_interval=1,
            num_clips=1,
            test_mode=True),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(-1, short_edge)),
        dict(type='CenterCrop', crop_size=crop),
        dict(type='FormatShape', input_format='NCTHW'),
        dict(type='PackActionInputs')
    ]


# The same with the plugin's own names.
PLUGIN_VAL_PIPELINE = [
    dict(type='VideoInit', backend='decord'),
    dict(type='SampleFrames', clip_len=8, frame_interval=1, test_mode=True),
    dict(type='VideoDecode'),
    dict(type='ClipResize', scale=(-1, 40)),
    dict(type='ClipCenterCrop', crop_size=36),
    dict(type='PackVideoInputs')
]

# mmaction2's r2plus1d train_pipeline, at this size.
TRAIN_PIPELINE = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='SampleFrames', clip_len=8, frame_interval=1, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 36)),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(28, 28), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]

# mmaction2's data preprocessor for R(2+1)D, as its config writes it.
PREPROCESSOR = dict(
    type='ActionDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    format_shape='NCTHW')


@pytest.fixture(scope='module')
def video_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('videos'))
    moving_digits.make_moving_digits(
        root, train_per_class=2, test_per_class=1, num_frames=16)
    return root


def video_dataset(video_root, pipeline, **kwargs):
    """mmaction2's VideoDataset entry: ann_file and data_prefix=dict(video=)
    (no data_root)."""
    return dict(
        type='VideoDataset',
        ann_file=osp.join(video_root, 'train.txt'),
        data_prefix=dict(video=osp.join(video_root, 'videos')),
        pipeline=pipeline,
        **kwargs)


def mmaction2_reference(path: str) -> torch.Tensor:
    """What mmaction2's val pipeline gives for a 16-frame 32 x 32 clip: the
    centre 8 frames (max offset 16 - 8 = 8, start 4), each resized by
    mmcv.imresize to mmcv.rescale_size((32, 32), (inf, 40)), centre-cropped
    to 36 ((40 - 36) // 2 = 2 on each side), as C x T x H x W."""
    frames = decord.VideoReader(path).get_batch(list(range(4, 12))).asnumpy()
    size = mmcv.rescale_size((32, 32), (np.inf, 40))
    assert size == (40, 40)
    resized = np.stack(
        [mmcv.imresize(f, size, interpolation='bilinear') for f in frames])
    crop = resized[:, 2:38, 2:38]
    return torch.from_numpy(np.ascontiguousarray(crop.transpose(3, 0, 1, 2)))


def test_mmaction2_val_pipeline_gives_mmaction2s_pixels(video_root):
    dataset = DATASETS.build(video_dataset(video_root, val_pipeline()))
    ours = DATASETS.build(
        video_dataset(video_root, copy.deepcopy(PLUGIN_VAL_PIPELINE)))
    assert len(dataset) == 20
    for i in (0, 7, 19):
        path = dataset.get_data_info(i)['video_path']
        got = dataset[i]['inputs']
        assert got.shape == (3, 8, 36, 36)  # Resize and CenterCrop applied
        torch.testing.assert_close(
            got, mmaction2_reference(path), rtol=0, atol=0)
        torch.testing.assert_close(got, ours[i]['inputs'], rtol=0, atol=0)


def test_mmaction2_train_pipeline_applies_every_transform(video_root):
    dataset = DATASETS.build(
        video_dataset(video_root, copy.deepcopy(TRAIN_PIPELINE)))
    np.random.seed(0)
    item = dataset[3]
    # Resize((28, 28), keep_ratio=False) ran: an image Resize would have
    # left the 32 x 32 frames as they were.
    assert item['inputs'].shape == (3, 8, 28, 28)
    assert item['inputs'].dtype == torch.uint8


@pytest.mark.parametrize('transform, message', [
    (dict(type='RandomFlip', prob=0.5),
     r"'RandomFlip' \(mmcv.*image transform.*Flip\(flip_ratio=\.\.\.\)"),
    (dict(type='ResizeEdge',
          scale=16), r'image transform.*Resize\(scale=\(-1, S\)\)'),
    (dict(type='ColorJitter', brightness=0.4),
     r"'ColorJitter' \(mmpretrain.*image transform.*Use one of .*"
     r'ClipFlip'),
    (dict(type='ThreeCrop',
          crop_size=32), r"'ThreeCrop' is not a transform of a clip pipeline"),
    (dict(type='DecordDecode', mode='efficient'),
     r"DecordDecode mode='efficient' is not implemented here"),
    (dict(type='DecordInit', io_backend='petrel'), r"io_backend='petrel'"),
    (dict(type='FormatShape', input_format='NCHW'),
     r"input_format='NCHW' is not implemented.*3D clip models"),
    (dict(type='RandomResizedCrop',
          lazy=True), r'lazy=True is not implemented'),
])
def test_image_and_unimplemented_transforms_are_refused(
        video_root, transform, message):
    pipeline = val_pipeline()
    pipeline.insert(3, transform)
    with pytest.raises((KeyError, ValueError), match=message):
        DATASETS.build(video_dataset(video_root, pipeline))


def test_several_clips_as_views_are_refused(video_root):
    pipeline = val_pipeline()
    pipeline[1]['num_clips'] = 3
    with pytest.raises(ValueError, match=r'num_clips=3\) with FormatShape'):
        DATASETS.build(video_dataset(video_root, pipeline))


def test_mmaction2_dataset_settings(video_root, tmp_path):
    with pytest.raises(ValueError, match=r"data_prefix=\{'img': "):
        DATASETS.build(
            dict(
                type='VideoDataset',
                ann_file=osp.join(video_root, 'train.txt'),
                data_prefix=dict(img=video_root)))
    with pytest.raises(ValueError, match='multi_class=True is not supported'):
        DATASETS.build(
            video_dataset(video_root, [], multi_class=True, num_classes=4))
    with pytest.raises(ValueError, match='start_index=1 is not supported'):
        DATASETS.build(video_dataset(video_root, [], start_index=1))
    # A comma-separated list whose paths hold spaces (mmaction2's
    # delimiter=',').
    spaced = tmp_path / 'with space.mp4'
    spaced.symlink_to(
        osp.join(video_root, 'videos',
                 open(osp.join(video_root,
                               'train.txt')).readline().split()[0]))
    ann = tmp_path / 'list.txt'
    ann.write_text('with space.mp4,3\n')
    dataset = DATASETS.build(
        dict(
            type='VideoDataset',
            ann_file=str(ann),
            data_prefix=dict(video=str(tmp_path)),
            delimiter=',',
            pipeline=val_pipeline()))
    assert dataset.get_data_info(0)['video_path'] == str(spaced)
    assert dataset.get_data_info(0)['gt_label'] == 3
    assert dataset[0]['inputs'].shape == (3, 8, 36, 36)


def test_action_data_preprocessor_takes_mmaction2s_arguments():
    model = MODELS.build(PREPROCESSOR)
    clip = torch.full((3, 8, 4, 4), 255, dtype=torch.uint8)
    out = model(dict(inputs=clip[None], data_samples=None))['inputs']
    assert out.shape == (1, 3, 8, 4, 4)
    torch.testing.assert_close(out[0, :, 0, 0, 0],
                               (255 - torch.tensor(PREPROCESSOR['mean'])) /
                               torch.tensor(PREPROCESSOR['std']))
    with pytest.raises(ValueError, match="format_shape='NCHW'"):
        MODELS.build(dict(PREPROCESSOR, format_shape='NCHW'))
    with pytest.raises(ValueError, match='blending='):
        MODELS.build(dict(PREPROCESSOR, blending=dict(type='MixupBlending')))


def video_model(head: dict) -> dict:
    return dict(
        type='ImageClassifier',
        data_preprocessor=copy.deepcopy(PREPROCESSOR),
        backbone=dict(
            type='VideoResNetBackbone', arch='r2plus1d_18', base_channels=8),
        neck=dict(type='GlobalAveragePooling', dim=3),
        head=head)


SOURCE = video_model(dict(type='LinearClsHead', num_classes=4, in_channels=64))


def clusterfit_cfg(work: str, video_root: str, checkpoint: str,
                   extract_pipeline) -> dict:
    """An mmaction2-style R(2+1)D ClusterFit config: mmaction2's pipelines,
    dataset entry and data preprocessor."""
    return dict(
        default_scope='mmpretrain',
        work_dir=work,
        model=video_model(
            dict(type='ClusterFitHead', num_clusters=4, in_channels=64)),
        train_dataloader=dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dict(
                type='ClusterFitDataset',
                dataset=video_dataset(video_root,
                                      copy.deepcopy(TRAIN_PIPELINE)))),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        custom_hooks=[
            dict(
                type='ClusterFitHook',
                num_clusters=4,
                source=dict(
                    model=copy.deepcopy(SOURCE), checkpoint=checkpoint),
                extract_pipeline=extract_pipeline,
                kmeans=dict(niter=10, seed=0),
                batch_size=4,
                num_workers=0)
        ],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        randomness=dict(seed=0))


@pytest.fixture(scope='module')
def video_source(tmp_path_factory):
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(SOURCE))
    model.init_weights()
    path = str(tmp_path_factory.mktemp('video_source') / 'source.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    return path


def test_an_image_extract_pipeline_for_clips_is_refused_before_extraction(
        tmp_path, video_root, video_source):
    """The hook's default extraction pipeline is for images: with a
    VideoDataset it stops in before_run, naming the clip transforms."""
    work = str(tmp_path / 'w')
    cfg = clusterfit_cfg(work, video_root, video_source, None)
    del cfg['custom_hooks'][0]['extract_pipeline']
    with pytest.raises(
            ValueError,
            match=r"ClusterFitHook: extract_pipeline: 'LoadImageFromFile' .*"
            r'image transform.*VideoInit, SampleFrames and VideoDecode'):
        run_runner(cfg)
    assert 'labels.npy' not in cache_files(work)


@pytest.mark.slow
def test_mmaction2_style_r2plus1d_config_end_to_end(tmp_path, video_root,
                                                    video_source):
    """Trained through the Runner; the labels equal those of features
    extracted with the plugin's own transforms and raw faiss k-means."""
    work = str(tmp_path / 'w')
    runner = run_runner(
        clusterfit_cfg(work, video_root, video_source, val_pipeline()))
    labels = np.load(osp.join(work, 'clusterfit', 'labels.npy'))
    dataset = runner.train_dataloader.dataset
    assert dataset[0]['inputs'].shape == (3, 8, 28, 28)
    reference_set = DATASETS.build(
        video_dataset(video_root, copy.deepcopy(PLUGIN_VAL_PIPELINE)))
    source = build_source_model(
        dict(model=copy.deepcopy(SOURCE), checkpoint=video_source))
    np.testing.assert_array_equal(
        labels,
        reference_labels(
            source,
            reference_set,
            num_clusters=4,
            pipeline=PLUGIN_VAL_PIPELINE,
            batch_size=4))
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
