# ClusterFit on moving digits: cluster the clip features of the noisy-label
# video source into K groups and train a new small R(2+1)D-18 from scratch
# on the cluster ids. Run after the source (tools/run_video_demo.sh does
# both):
#   python tools/train.py \
#       configs/demo/clusterfit_r2plus1d-18-mini_moving-digits.py \
#       --work-dir work_dirs/video_demo/clusterfit
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    './_base_/moving_digits.py',
]
custom_imports = dict(
    imports=['clusterfit_plugin'], allow_failed_imports=False)

num_clusters = 100
max_epochs = 12
source_config = 'configs/demo/noisy-label_r2plus1d-18-mini_moving-digits.py'
source_checkpoint = 'work_dirs/video_demo/source/epoch_12.pth'

model = dict(
    head=dict(
        type='ClusterFitHead',
        num_clusters=num_clusters,
        in_channels={{_base_.video_feat_dim}}))

train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ClusterFitDataset',
        dataset=dict(
            type='VideoDataset',
            data_root={{_base_.video_root}},
            ann_file='train.txt',
            data_prefix='videos',
            pipeline={{_base_.video_crop_pipeline}})))

custom_hooks = [
    dict(
        type='ClusterFitHook',
        num_clusters=num_clusters,
        source=dict(
            config=source_config,
            checkpoint=source_checkpoint,
            stage='backbone'),
        extract_pipeline={{_base_.video_test_pipeline}},
        kmeans=dict(niter=50, seed=0),
        batch_size=64,
        num_workers=1),
]

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True)
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
# lr is tuned for this batch size in one process (for --auto-scale-lr).
auto_scale_lr = dict(base_batch_size=16)
