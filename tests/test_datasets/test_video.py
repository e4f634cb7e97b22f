# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Video: decoding with decord and PyAV on real mp4 files made here, frame
sampling, clip transforms, bad files, and ClusterFit on clips through a
real Runner with both backends."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from helpers import load_tool, reference_labels
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, MODELS, TRANSFORMS

from clusterfit_plugin.datasets.transforms import (VideoReader, VideoReadError,
                                                   build_pipeline)
from clusterfit_plugin.engine.extractor import extract_features
from clusterfit_plugin.engine.source import build_source_model

moving_digits = load_tool('demo/make_moving_digits')

BACKENDS = ['decord', 'pyav']


def clip_pipeline(backend, clip_len=8, test_mode=True, size=32):
    return [
        dict(type='VideoInit', backend=backend),
        dict(
            type='SampleFrames',
            clip_len=clip_len,
            frame_interval=1,
            test_mode=test_mode),
        dict(type='VideoDecode'),
        dict(type='ClipCenterCrop', crop_size=size),
        dict(type='PackVideoInputs'),
    ]


@pytest.fixture(scope='module')
def video_root(tmp_path_factory):
    """The moving digits (2 train clips of each digit, 1 test clip)."""
    root = str(tmp_path_factory.mktemp('videos'))
    moving_digits.make_moving_digits(
        root, train_per_class=2, test_per_class=1, num_frames=16)
    return root


@pytest.fixture(scope='module')
def clip(tmp_path_factory):
    rng = np.random.default_rng(0)
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255  # a "1"
    clutter = rng.integers(0, 256, (2, 28, 28), dtype=np.uint8)
    frames = moving_digits.moving_digit(digit, 1, clutter, rng, 16)
    path = str(tmp_path_factory.mktemp('clip') / 'clip.mp4')
    moving_digits.write_clip(path, frames)
    return path, frames


def test_decord_and_pyav_return_the_same_frames(clip):
    path, frames = clip
    indices = [0, 3, 7, 15, 3]
    a = VideoReader(path, 'decord')
    b = VideoReader(path, 'pyav')
    assert a.num_frames == b.num_frames == 16
    fa, fb = a.read(indices), b.read(indices)
    assert fa.shape == fb.shape == (5, 32, 32, 3)
    assert np.abs(fa.astype(int) - fb.astype(int)).max() <= 2
    # And both are close to what was encoded (lossy codec).
    assert np.abs(fa.astype(int) - frames[indices].astype(int)).mean() < 8
    np.testing.assert_array_equal(fa[1], fa[4])  # repeats served


def test_sample_frames_rules():
    sample = TRANSFORMS.build(
        dict(
            type='SampleFrames', clip_len=4, frame_interval=2, test_mode=True))
    out = sample(dict(total_frames=20))
    np.testing.assert_array_equal(out['frame_inds'], [6, 8, 10, 12])
    short = sample(dict(total_frames=5))  # fewer frames than the clip spans
    np.testing.assert_array_equal(short['frame_inds'], [0, 2, 4, 1])
    three = TRANSFORMS.build(
        dict(type='SampleFrames', clip_len=2, num_clips=3, test_mode=True))
    np.testing.assert_array_equal(
        three(dict(total_frames=11))['frame_inds'], [0, 1, 4, 5, 9, 10])
    # Training offsets as mmaction2 draws them: a clip spans clip_len x
    # frame_interval frames, and several clips start in their own segment.
    train = TRANSFORMS.build(
        dict(type='SampleFrames', clip_len=4, frame_interval=2))
    starts = {
        int(train(dict(total_frames=20))['frame_inds'][0])
        for _ in range(300)
    }
    assert starts == set(range(0, 13))
    segments = TRANSFORMS.build(
        dict(type='SampleFrames', clip_len=2, num_clips=3))
    starts = [set(), set(), set()]
    for _ in range(300):
        inds = segments(dict(total_frames=30))['frame_inds'].reshape(3, 2)
        for clip, (first, second) in enumerate(inds):
            assert second == first + 1
            starts[clip].add(int(first))
    assert starts == [set(range(9 * i, 9 * i + 9)) for i in range(3)]
    # Past the end: looped, or the clip's last valid frame repeated.
    last = TRANSFORMS.build(
        dict(
            type='SampleFrames',
            clip_len=4,
            frame_interval=2,
            test_mode=True,
            out_of_bound_opt='repeat_last'))
    np.testing.assert_array_equal(
        last(dict(total_frames=5))['frame_inds'], [0, 2, 4, 4])
    with pytest.raises(ValueError, match='clip_len'):
        TRANSFORMS.build(dict(type='SampleFrames', clip_len=0))
    with pytest.raises(
            ValueError, match='twice_sample=True is not '
            'implemented'):
        TRANSFORMS.build(
            dict(type='SampleFrames', clip_len=2, twice_sample=True))


def test_clip_transforms_apply_to_every_frame_alike():
    imgs = np.zeros((6, 40, 60, 3), np.uint8)
    imgs[:, 10:20, 5:15] = 255  # the same square on every frame
    results = dict(imgs=imgs.copy(), img_shape=(40, 60))
    np.random.seed(0)
    for cfg in (dict(type='ClipRandomResizedCrop', size=24,
                     scale=(0.3, 1.0)), dict(type='ClipFlip', prob=1.0),
                dict(type='ClipResize', scale=16)):
        results = TRANSFORMS.build(cfg)(results)
        frames = results['imgs']
        for t in range(1, 6):
            np.testing.assert_array_equal(frames[t], frames[0])
    assert results['imgs'].shape == (6, 16, 16, 3)
    packed = TRANSFORMS.build(dict(type='PackVideoInputs'))(
        dict(results, gt_label=2))
    assert packed['inputs'].shape == (3, 6, 16, 16)
    assert packed['data_samples'].gt_label.tolist() == [2]


@pytest.mark.parametrize('scale, keep_ratio', [((32, -1), True),
                                               ((-1, 32), True),
                                               ((100, 30), True),
                                               ((30, 100), True),
                                               ((100, 30), False), (0.5, True),
                                               (32, True)])
def test_clip_resize_takes_mmaction2_forms(scale, keep_ratio):
    """The output size of each form equals mmcv's rescale_size (what
    mmaction2's Resize calls) or the exact (w, h) without keep_ratio."""
    import mmcv
    imgs = np.random.default_rng(0).integers(0, 255, (3, 40, 48, 3), np.uint8)
    out = TRANSFORMS.build(
        dict(type='ClipResize', scale=scale, keep_ratio=keep_ratio))(
            dict(imgs=imgs))
    if isinstance(scale, int):  # this plugin's short-edge int
        want = (38, 32)
    elif isinstance(scale, float) or keep_ratio:
        mm_scale = (np.inf, max(scale)) if isinstance(
            scale, tuple) and min(scale) == -1 else scale
        want = mmcv.rescale_size((48, 40), mm_scale)
    else:
        want = scale
    assert out['imgs'].shape == (3, want[1], want[0], 3)
    assert out['img_shape'] == (want[1], want[0])
    for frame, resized in zip(imgs, out['imgs']):  # bilinear, frame by frame
        np.testing.assert_array_equal(
            resized, cv2.resize(frame, want, interpolation=cv2.INTER_LINEAR))


def test_mmaction2_flip_and_crop_names():
    imgs = np.arange(2 * 4 * 6 * 3, dtype=np.uint8).reshape(2, 4, 6, 3)
    flipped = TRANSFORMS.build(dict(type='ClipFlip', flip_ratio=1.0))(
        dict(imgs=imgs))
    np.testing.assert_array_equal(flipped['imgs'], imgs[:, :, ::-1])
    assert flipped['flip_direction'] == 'horizontal'
    never = TRANSFORMS.build(dict(type='ClipFlip', flip_ratio=0.0))
    assert not never(dict(imgs=imgs))['flip']
    vertical = TRANSFORMS.build(
        dict(type='ClipFlip', prob=1.0, direction='vertical'))(
            dict(imgs=imgs))
    np.testing.assert_array_equal(vertical['imgs'], imgs[:, ::-1])
    crop = TRANSFORMS.build(
        dict(
            type='ClipRandomResizedCrop',
            size=8,
            area_range=(0.5, 0.6),
            aspect_ratio_range=(1.0, 1.0)))
    assert crop.scale == (0.5, 0.6) and crop.ratio == (1.0, 1.0)
    # mmaction2 arguments with no counterpart are refused by name, with the
    # accepted ones listed; so are bad values.
    with pytest.raises(
            Exception,
            match=r"does not take \['flip_prob'\]; it "
            r"accepts \['prob', 'direction', 'flip_ratio', "):
        TRANSFORMS.build(dict(type='ClipFlip', flip_prob=0.5))
    with pytest.raises(
            Exception,
            match=r'ClipFlip left_kp=\[1\] is not '
            r'implemented here \(keypoints\)'):
        TRANSFORMS.build(dict(type='ClipFlip', flip_ratio=0.5, left_kp=[1]))
    with pytest.raises(Exception, match="out_of_bound_opt='wrap'"):
        TRANSFORMS.build(
            dict(type='SampleFrames', clip_len=4, out_of_bound_opt='wrap'))
    with pytest.raises(Exception, match=r'\(short_edge, -1\)'):
        TRANSFORMS.build(dict(type='ClipResize', scale=(-1, -1)))
    with pytest.raises(Exception, match="direction='diagonal'"):
        TRANSFORMS.build(dict(type='ClipFlip', direction='diagonal'))


@pytest.fixture(scope='module')
def narrow_clip(tmp_path_factory):
    """48 x 40 frames: decord 0.6.0 opens the file but fails to decode it
    (its rows are padded to 64 pixels); PyAV reads it."""
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (6, 40, 48, 3), np.uint8)
    path = str(tmp_path_factory.mktemp('narrow') / 'narrow.mp4')
    moving_digits.write_clip(path, frames)
    return path


def test_auto_backend_falls_back_to_pyav(narrow_clip, log):
    with pytest.raises(
            VideoReadError, match='backend decord.*try backend='
            "'pyav'"):
        VideoReader(narrow_clip, 'decord').read([0, 2])
    reference = VideoReader(narrow_clip, 'pyav').read([0, 2, 5])
    from clusterfit_plugin.datasets.transforms import video_readers
    video_readers._fallback_logged = False
    log()
    auto = VideoReader(narrow_clip, 'auto')
    assert auto.backend == 'decord'  # decord opened it
    np.testing.assert_array_equal(auto.read([0, 2, 5]), reference)
    assert auto.backend == 'pyav'
    again = VideoReader(narrow_clip, 'auto')
    again.read([1])
    out = log()
    assert out.count('decord could not read') == 1  # logged once
    assert narrow_clip in out
    # Through the pipeline, the packed sample says which backend read it.
    pipeline = [
        TRANSFORMS.build(t) for t in clip_pipeline('auto', clip_len=4)[:-2]
    ] + [TRANSFORMS.build(dict(type='PackVideoInputs'))]
    results = dict(video_path=narrow_clip)
    for t in pipeline:
        results = t(results)
    assert results['data_samples'].video_backend == 'pyav'
    assert results['inputs'].shape == (3, 4, 40, 48)


def test_auto_backend_reports_both_failures(tmp_path):
    garbage = tmp_path / 'garbage.mp4'
    garbage.write_bytes(b'not a video at all' * 20)
    with pytest.raises(VideoReadError) as err:
        VideoReader(str(garbage), 'auto')
    assert 'backend pyav' in str(err.value)
    assert 'decord failed on it too' in str(err.value)


@pytest.mark.parametrize('backend', BACKENDS)
def test_dataset_layouts(tmp_path, video_root, backend):
    listed = DATASETS.build(
        dict(
            type='VideoDataset',
            data_root=video_root,
            ann_file='train.txt',
            data_prefix='videos',
            pipeline=clip_pipeline(backend)))
    # The same clips in class folders, one per motion.
    motions = moving_digits.MOTIONS
    for line in open(osp.join(video_root, 'train_motion.txt')):
        name, motion = line.split()
        folder = tmp_path / motions[int(motion)]
        folder.mkdir(exist_ok=True)
        (folder / osp.basename(name)).symlink_to(
            osp.join(video_root, 'videos', name))
    folders = DATASETS.build(
        dict(
            type='VideoDataset',
            data_prefix=str(tmp_path),
            pipeline=clip_pipeline(backend)))
    assert len(listed) == len(folders) == 20
    assert folders.metainfo['classes'] == tuple(sorted(motions))
    item = listed[0]
    assert item['inputs'].shape == (3, 8, 32, 32)
    assert item['inputs'].dtype == torch.uint8
    assert item['data_samples'].video_backend == backend


def test_bad_annotation_line(tmp_path):
    ann = tmp_path / 'ann.txt'
    ann.write_text('a.mp4 1\nb.mp4 one two\n')
    with pytest.raises(ValueError, match=r'ann.txt:2: expected'):
        DATASETS.build(dict(type='VideoDataset', ann_file=str(ann)))


@pytest.mark.parametrize('backend', BACKENDS)
def test_bad_videos_name_file_and_backend(tmp_path, clip, backend):
    garbage = tmp_path / 'garbage.mp4'
    garbage.write_bytes(b'not a video at all' * 20)
    truncated = tmp_path / 'truncated.mp4'
    data = open(clip[0], 'rb').read()
    truncated.write_bytes(data[:len(data) // 3])
    empty = str(tmp_path / 'empty.mp4')
    moving_digits.write_clip(empty, np.zeros((0, 32, 32, 3), np.uint8))
    for path in (str(garbage), str(truncated), empty):
        with pytest.raises(VideoReadError) as err:
            VideoReader(path, backend).read([0, 1])
        message = str(err.value)
        assert path in message and f'backend {backend}' in message


@pytest.mark.slow
@pytest.mark.parametrize('backend', BACKENDS)
def test_extraction_of_a_clip_is_deterministic(video_root, backend):
    model_cfg = video_model(num_clusters=4)
    model = build_source_model(
        dict(model=model_cfg, checkpoint=None, stage='backbone'))
    ds = DATASETS.build(
        dict(
            type='VideoDataset',
            data_root=video_root,
            ann_file='train.txt',
            data_prefix='videos',
            pipeline=clip_pipeline(backend)))
    idx = np.arange(len(ds))
    a = extract_features(
        model,
        ds,
        clip_pipeline(backend),
        idx,
        'backbone',
        batch_size=4,
        num_workers=0,
        progress=False)
    b = extract_features(
        model,
        ds,
        clip_pipeline(backend),
        idx,
        'backbone',
        batch_size=4,
        num_workers=0,
        progress=False)
    assert a.shape == (20, 512)
    np.testing.assert_array_equal(a, b)
    # channels_last leaves a video model (3-D convolutions) as it is.
    c = extract_features(
        model,
        ds,
        clip_pipeline(backend),
        idx,
        'backbone',
        batch_size=4,
        num_workers=0,
        channels_last=True,
        progress=False)
    np.testing.assert_array_equal(a, c)


def video_model(num_clusters=None, num_classes=None):
    head = (
        dict(
            type='ClusterFitHead', num_clusters=num_clusters, in_channels=512)
        if num_clusters else dict(
            type='LinearClsHead', num_classes=num_classes, in_channels=512))
    return dict(
        type='ImageClassifier',
        data_preprocessor=dict(
            type='VideoClsDataPreprocessor',
            mean=[114.75, 114.75, 114.75],
            std=[57.4, 57.4, 57.4]),
        backbone=dict(type='VideoResNetBackbone', arch='r2plus1d_18'),
        neck=dict(type='GlobalAveragePooling', dim=3),
        head=head)


@pytest.mark.slow
@pytest.mark.parametrize('backend', BACKENDS)
def test_clusterfit_runner_on_clips(tmp_path, video_root, backend):
    torch.manual_seed(0)
    source = MODELS.build(video_model(num_classes=4))
    source.init_weights()
    ckpt = str(tmp_path / 'video_source.pth')
    torch.save(dict(state_dict=source.state_dict()), ckpt)
    work = str(tmp_path / 'w')
    train_pipeline = [
        dict(type='VideoInit', backend=backend),
        dict(type='SampleFrames', clip_len=8, frame_interval=1),
        dict(type='VideoDecode'),
        dict(type='ClipRandomResizedCrop', size=28, scale=(0.5, 1.0)),
        dict(type='ClipFlip', prob=0.5),
        dict(type='PackVideoInputs'),
    ]
    cfg = dict(
        default_scope='mmpretrain',
        work_dir=work,
        model=video_model(num_clusters=4),
        train_dataloader=dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dict(
                type='ClusterFitDataset',
                dataset=dict(
                    type='VideoDataset',
                    data_root=video_root,
                    ann_file='train.txt',
                    data_prefix='videos',
                    pipeline=train_pipeline))),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        custom_hooks=[
            dict(
                type='ClusterFitHook',
                num_clusters=4,
                source=dict(model=video_model(num_classes=4), checkpoint=ckpt),
                extract_pipeline=clip_pipeline(backend),
                kmeans=dict(niter=10, seed=0),
                batch_size=4,
                num_workers=0)
        ],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        randomness=dict(seed=0))
    runner = Runner.from_cfg(Config(cfg))
    runner.train()
    labels = np.load(osp.join(work, 'clusterfit', 'labels.npy'))
    # The labels of the source's clip features, computed outside the hook.
    source = build_source_model(
        dict(model=video_model(num_classes=4), checkpoint=ckpt))
    np.testing.assert_array_equal(
        labels,
        reference_labels(
            source,
            runner.train_dataloader.dataset.dataset,
            num_clusters=4,
            pipeline=clip_pipeline(backend),
            batch_size=4))
    np.testing.assert_array_equal(runner.train_dataloader.dataset.labels,
                                  labels)
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))


@pytest.fixture
def opened(monkeypatch) -> list:
    """The video files the plugin's readers really opened in this test."""
    calls = []
    real = VideoReader.__init__

    def counted(self, path, backend='auto'):
        calls.append(path)
        real(self, path, backend)

    monkeypatch.setattr(VideoReader, '__init__', counted)
    return calls


def pipeline_with(backend, **init):
    return build_pipeline([
        dict(type='VideoInit', backend=backend, **init),
        dict(type='SampleFrames', clip_len=8, frame_interval=1),
        dict(type='VideoDecode'),
        dict(type='PackVideoInputs'),
    ])


@pytest.mark.parametrize('backend', BACKENDS)
def test_cached_videos_are_decoded_once_and_serve_the_same_clips(
        video_root, opened, backend):
    """With ``max_cache_mb`` a video is opened and decoded once per process
    and its random windows are those the plain reader decodes for the same
    frame indices; without room in the budget every read decodes again."""
    paths = [
        osp.join(video_root, 'videos',
                 line.split()[0])
        for line in open(osp.join(video_root, 'train.txt'))
    ][:5]
    cached = pipeline_with(backend, max_cache_mb=64)
    plain = pipeline_with(backend)
    for epoch in range(3):
        np.random.seed(epoch)
        served = [cached(dict(video_path=p)) for p in paths]
        np.random.seed(epoch)
        decoded = [plain(dict(video_path=p)) for p in paths]
        for a, b in zip(served, decoded):
            assert a['data_samples'].video_backend == backend
            torch.testing.assert_close(a['inputs'], b['inputs'])
        served[0]['inputs'].zero_()  # a copy: the cache is left as it was
    # The cached pipeline opened each file once; the plain one every time.
    assert opened.count(paths[0]) == 1 + 3 and len(opened) == 5 + 3 * 5
    full = pipeline_with(backend, max_cache_mb=1e-6)
    opened.clear()
    for _ in range(2):
        full(dict(video_path=paths[0]))
    assert opened == [paths[0]] * 2
