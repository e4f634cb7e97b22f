# The video demo's source: R(2+1)D-18 trained on weak, coarse labels, the
# axis of motion (0 horizontal, 1 vertical), so it has no reason to tell
# left from right or up from down.
#   python tools/train.py \
#       configs/demo/axis-label_r2plus1d-18_moving-squares.py \
#       --work-dir work_dirs/video_demo/source
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    './_base_/moving_squares.py',
]
custom_imports = dict(
    imports=['clusterfit_plugin'], allow_failed_imports=False)

max_epochs = 6
model = dict(
    head=dict(
        type='LinearClsHead',
        num_classes=2,
        in_channels={{_base_.video_feat_dim}}))

train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='VideoDataset',
        data_root={{_base_.video_root}},
        ann_file='train_axis.txt',
        data_prefix='videos',
        pipeline={{_base_.video_train_pipeline}}))

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
