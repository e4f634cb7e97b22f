# Generated clips (tools/demo/make_videos.py): a square moving right, left,
# down or up; 16 frames of 32x32 at 8 fps. Names are prefixed with `video_`
# so that they never clash with keys of other base configs.
video_root = 'data/moving_squares'
video_backend = 'auto'  # decord when installed, else PyAV
video_clip_len = 8

# The model without its head (each config adds one).
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='VideoClsDataPreprocessor',
        mean=[114.75, 114.75, 114.75],
        std=[57.4, 57.4, 57.4]),
    backbone=dict(type='VideoResNetBackbone', arch='r2plus1d_18'),
    neck=dict(type='GlobalAveragePooling', dim=3))
video_feat_dim = 512

video_train_pipeline = [
    dict(type='VideoInit', backend=video_backend),
    dict(type='SampleFrames', clip_len=video_clip_len, frame_interval=1),
    dict(type='VideoDecode'),
    dict(type='ClipRandomResizedCrop', size=28, scale=(0.5, 1.0)),
    dict(type='PackVideoInputs'),
]
# Deterministic: the centre clip, centre crop (extraction and evaluation).
video_test_pipeline = [
    dict(type='VideoInit', backend=video_backend),
    dict(
        type='SampleFrames',
        clip_len=video_clip_len,
        frame_interval=1,
        test_mode=True),
    dict(type='VideoDecode'),
    dict(type='ClipCenterCrop', crop_size=28),
    dict(type='PackVideoInputs'),
]

# The labelled splits of tools/eval_features.py (--data this file).
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
