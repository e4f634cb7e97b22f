# ClusterFit on video (Yan et al., CVPR 2020, Sec. 5): cluster the clip
# features of a weakly-supervised R(2+1)D-34 and train a new R(2+1)D-34 from
# scratch on the cluster ids, here on Kinetics-400 style data.
#
# Data: mmaction2's Kinetics layout, data/kinetics400/videos_train/ and the
# list kinetics400_train_list_videos.txt ("relative/path.mp4 label" lines;
# labels are ignored for training, and may be omitted).
# Source: your own R(2+1)D-34 checkpoint trained on a proxy task (the paper
# uses weakly-supervised hashtag pre-training), saved with a `state_dict`
# whose keys start with `backbone.`; nothing is downloaded at run time.
# K: set num_clusters for your data (the same value goes to the head).
# Run:
#   tools/dist_train.sh configs/clusterfit_r2plus1d_34.py 8
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(
    imports=['clusterfit_plugin'], allow_failed_imports=False)

num_clusters = 4000
source_checkpoint = 'checkpoints/r2plus1d_34_weakly_supervised.pth'
data_root = 'data/kinetics400'
clip_len = 8
frame_interval = 4

video_model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='VideoClsDataPreprocessor',
        mean=[110.2008, 100.63983, 95.99475],
        std=[58.14765, 56.46975, 55.332195]),
    backbone=dict(type='VideoResNetBackbone', arch='r2plus1d_34'),
    neck=dict(type='GlobalAveragePooling', dim=3))
model = dict(
    head=dict(
        type='ClusterFitHead',
        num_clusters=num_clusters,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)),
    **video_model)

train_pipeline = [
    dict(type='VideoInit', backend='auto'),
    dict(
        type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval),
    dict(type='VideoDecode'),
    dict(type='ClipResize', scale=128),
    dict(type='ClipRandomResizedCrop', size=112, scale=(0.25, 1.0)),
    dict(type='ClipFlip', prob=0.5),
    dict(type='PackVideoInputs'),
]
extract_pipeline = [
    dict(type='VideoInit', backend='auto'),
    dict(
        type='SampleFrames',
        clip_len=clip_len,
        frame_interval=frame_interval,
        test_mode=True),
    dict(type='VideoDecode'),
    dict(type='ClipResize', scale=128),
    dict(type='ClipCenterCrop', crop_size=112),
    dict(type='PackVideoInputs'),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='ClusterFitDataset',
        dataset=dict(
            type='VideoDataset',
            data_root=data_root,
            ann_file='kinetics400_train_list_videos.txt',
            data_prefix='videos_train',
            pipeline=train_pipeline)))

custom_hooks = [
    dict(
        type='ClusterFitHook',
        num_clusters=num_clusters,
        source=dict(
            model=dict(
                head=dict(
                    type='LinearClsHead', num_classes=400, in_channels=512),
                **video_model),
            checkpoint=source_checkpoint,
            stage='backbone'),
        extract_pipeline=extract_pipeline,
        kmeans=dict(niter=50, seed=0),
        features=dict(storage='disk', dtype='float16'),
        batch_size=32,
        num_workers=8,
        amp=True),
]

# Pre-training on pseudo-labels: evaluate with configs/benchmarks/.
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None

# A starting point, not the paper's exact schedule (which is not given for
# this setting): SGD, lr 0.1 per 128 clips, 5 warm-up epochs, cosine to 45.
max_epochs = 45
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - 5,
        by_epoch=True,
        begin=5,
        end=max_epochs),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=128)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=3))
