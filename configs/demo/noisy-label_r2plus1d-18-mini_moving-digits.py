# A weakly-supervised video source: a small R(2+1)D-18 classifier trained
# on the digit of each moving-digit clip, with 40% of the labels wrong (the
# analogue of the paper's hashtag supervision). No spatial augmentation, so
# the network memorises the noise: the proxy-task idiosyncrasy that
# ClusterFit is meant to remove.
#   python tools/train.py \
#       configs/demo/noisy-label_r2plus1d-18-mini_moving-digits.py \
#       --work-dir work_dirs/video_demo/source
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    './_base_/moving_digits.py',
]
custom_imports = dict(
    imports=['clusterfit_plugin'], allow_failed_imports=False)

max_epochs = 12
model = dict(
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels={{_base_.video_feat_dim}}))

train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='VideoDataset',
        data_root={{_base_.video_root}},
        ann_file='train_noisy40.txt',
        data_prefix='videos',
        pipeline={{_base_.video_train_pipeline}}))

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
