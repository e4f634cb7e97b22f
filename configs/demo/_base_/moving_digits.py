# Moving digits (tools/demo/make_moving_digits.py): an MNIST digit moving
# along one axis at one of two speeds, bouncing off the border, over static
# clutter; 16 frames of 32x32 at 8 fps. Two label sets: the digit
# (appearance, train.txt / test.txt) and the motion (axis x speed,
# *_motion.txt). Names are prefixed with `video_` so that they never clash
# with keys of other base configs.
video_root = 'data/moving_digits'
video_backend = 'auto'  # decord when installed, else PyAV
video_clip_len = 8

# A small R(2+1)D-18: every stage a quarter of torchvision's width (16 base
# channels, 2.0M parameters, 128-d features), so that it trains on 2 CPU
# cores in minutes.
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='VideoClsDataPreprocessor', mean=[27.2] * 3, std=[60.0] * 3),
    backbone=dict(
        type='VideoResNetBackbone', arch='r2plus1d_18', base_channels=16),
    neck=dict(type='GlobalAveragePooling', dim=3))
video_feat_dim = 128

# Training decodes each clip once per worker and keeps it (98 MB for the
# 2,000 train clips): later epochs decode nothing
# (tools/benchmarks/video_loading.py).
video_cache_mb = 256
# A random 8-frame window of the clip, whole frames: no spatial
# augmentation (a weakly-supervised source memorises its noisy labels).
video_train_pipeline = [
    dict(type='VideoInit', backend=video_backend, max_cache_mb=video_cache_mb),
    dict(type='SampleFrames', clip_len=video_clip_len, frame_interval=1),
    dict(type='VideoDecode'),
    dict(type='PackVideoInputs'),
]
# ClusterFit's training adds random resized crops.
video_crop_pipeline = [
    dict(type='VideoInit', backend=video_backend, max_cache_mb=video_cache_mb),
    dict(type='SampleFrames', clip_len=video_clip_len, frame_interval=1),
    dict(type='VideoDecode'),
    dict(type='ClipRandomResizedCrop', size=32, scale=(0.6, 1.0)),
    dict(type='PackVideoInputs'),
]
# Deterministic: the centre window (extraction and evaluation).
video_test_pipeline = [
    dict(type='VideoInit', backend=video_backend),
    dict(
        type='SampleFrames',
        clip_len=video_clip_len,
        frame_interval=1,
        test_mode=True),
    dict(type='VideoDecode'),
    dict(type='PackVideoInputs'),
]

# The labelled splits of tools/eval_features.py (--data this file), and the
# label sets it evaluates on the same features.
eval_train_dataset = dict(
    type='VideoDataset',
    data_root=video_root,
    ann_file='train.txt',
    data_prefix='videos',
    pipeline=video_test_pipeline)
eval_test_dataset = dict(
    type='VideoDataset',
    data_root=video_root,
    ann_file='test.txt',
    data_prefix='videos',
    pipeline=video_test_pipeline)
eval_label_sets = dict(
    digit=('train.txt', 'test.txt'),
    motion=('train_motion.txt', 'test_motion.txt'))
