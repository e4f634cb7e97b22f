# ClusterFit on generated clips: cluster the axis-label source's features
# into K=8 groups and train a new R(2+1)D-18 from scratch on the cluster ids.
# Run after the source (tools/run_video_demo.sh does both):
#   python tools/train.py \
#       configs/demo/clusterfit_r2plus1d-18_moving-squares.py \
#       --work-dir work_dirs/video_demo/clusterfit
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    './_base_/moving_squares.py',
]
custom_imports = dict(
    imports=['clusterfit_plugin'], allow_failed_imports=False)

num_clusters = 8
max_epochs = 8
source_checkpoint = 'work_dirs/video_demo/source/epoch_6.pth'

model = dict(
    head=dict(
        type='ClusterFitHead',
        num_clusters=num_clusters,
        in_channels={{_base_.video_feat_dim}}))

train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ClusterFitDataset',
        dataset=dict(
            type='VideoDataset',
            data_root={{_base_.video_root}},
            ann_file='train.txt',
            data_prefix='videos',
            pipeline={{_base_.video_train_pipeline}})))

custom_hooks = [
    dict(
        type='ClusterFitHook',
        num_clusters=num_clusters,
        source=dict(
            config='configs/demo/axis-label_r2plus1d-18_moving-squares.py',
            checkpoint=source_checkpoint,
            stage='backbone'),
        extract_pipeline={{_base_.video_test_pipeline}},
        kmeans=dict(niter=50, seed=0),
        batch_size=8,
        num_workers=1),
]

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True)
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=3),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
# lr is tuned for this batch size in one process (for --auto-scale-lr).
auto_scale_lr = dict(base_batch_size=8)
