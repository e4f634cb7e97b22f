# RotNet (rotation prediction), the ClusterFit paper's self-supervised
# source, on MNIST-5k with the demo's small ResNet-18. Use it as the source:
#   python tools/train.py configs/demo/rotnet_resnet18-mini_mnist5k.py \
#       --work-dir work_dirs/rotnet
#   python tools/train.py configs/demo/clusterfit_resnet18-mini_mnist5k.py \
#       --cfg-options \
#   custom_hooks.0.source.config=configs/demo/rotnet_resnet18-mini_mnist5k.py \
#   custom_hooks.0.source.checkpoint=work_dirs/rotnet/epoch_4.pth
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    './_base_/mnist5k.py',
]
custom_imports = dict(
    imports=['clusterfit_plugin'], allow_failed_imports=False)

# Every image is shown at its 4 rotations, so an epoch costs about 4 epochs
# of a classifier (about 40 s on 2 CPU cores).
max_epochs = 4
model = dict(
    type='RotNet',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean={{_base_.mnist_norm.mean}},
        std={{_base_.mnist_norm.std}}),
    backbone={{_base_.mnist_backbone}},
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=4,
        in_channels={{_base_.mnist_feat_dim}}))

train_dataloader = dict(
    batch_size=128,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset',
        data_root={{_base_.mnist_root}},
        ann_file='train.txt',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(
                type='RandomResizedCrop',
                scale=28,
                crop_ratio_range=(0.6, 1.0),
                backend='pillow'),
            dict(type='PackInputs'),
        ]))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True)
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
# lr is tuned for this batch size in one process (for --auto-scale-lr).
auto_scale_lr = dict(base_batch_size=128)
