# The demo's source network: mmpretrain's stock SimCLR recipe, shrunk to a
# small CIFAR-style ResNet-18 (16 base channels) on MNIST-5k, CPU-sized.
_base_ = [
    'mmpretrain::simclr/simclr_resnet50_16xb256-coslr-200e_in1k.py',
    './_base_/mnist5k.py',
]

max_epochs = 8

model = dict(
    data_preprocessor=dict(
        mean={{_base_.mnist_norm.mean}}, std={{_base_.mnist_norm.std}}),
    # Merged into SimCLR's backbone (keeps its zero_init_residual=True).
    backbone={{_base_.mnist_backbone}},
    neck=dict(in_channels=128, hid_channels=128, out_channels=64),
)

view_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=28,
        crop_ratio_range=(0.3, 1.0),
        backend='pillow'),
    dict(
        type='RandomApply',
        transforms=[dict(type='ColorJitter', brightness=0.6, contrast=0.6)],
        prob=0.8),
]
train_dataloader = dict(
    batch_size=128,
    num_workers=1,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root={{_base_.mnist_root}},
        ann_file='train.txt',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
            dict(type='PackInputs'),
        ]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.3, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - 1,
        by_epoch=True,
        begin=1,
        end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
# lr is tuned for this batch size in one process (for --auto-scale-lr).
auto_scale_lr = dict(base_batch_size=128)
