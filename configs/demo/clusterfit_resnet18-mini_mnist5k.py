# ClusterFit on MNIST-5k: cluster the features of a source trained on 40%
# wrong labels into K=200 groups and train a new small ResNet-18 from
# scratch on the cluster ids. Run after the source (tools/run_demo.sh does
# both):
#   python tools/train.py configs/demo/noisy-label_resnet18-mini_mnist5k.py \
#       --work-dir work_dirs/demo/source
#   python tools/train.py configs/demo/clusterfit_resnet18-mini_mnist5k.py \
#       --work-dir work_dirs/demo/clusterfit
# The SimCLR source (simclr_resnet18-mini_mnist5k.py) plugs in the same way:
#   --cfg-options \
#   custom_hooks.0.source.config=configs/demo/simclr_resnet18-mini_mnist5k.py \
#   custom_hooks.0.source.checkpoint=work_dirs/demo/simclr/epoch_8.pth
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    './_base_/mnist5k.py',
]
custom_imports = dict(
    imports=['clusterfit_plugin'], allow_failed_imports=False)

num_clusters = 200
max_epochs = 17
source_checkpoint = 'work_dirs/demo/source/epoch_9.pth'

model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        mean={{_base_.mnist_norm.mean}}, std={{_base_.mnist_norm.std}}),
    backbone={{_base_.mnist_backbone}},
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='ClusterFitHead',
        num_clusters=num_clusters,
        in_channels={{_base_.mnist_feat_dim}},
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))

# No worker process, here and in the hook's extraction: on 2 cores a worker
# takes CPU time from the two compute threads (tools/benchmarks/
# demo_profile.py).
train_dataloader = dict(
    batch_size=128,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ClusterFitDataset',
        dataset=dict(
            type='CustomDataset',
            data_root={{_base_.mnist_root}},
            ann_file='train.txt',
            pipeline=[
                dict(type='LoadImageFromFileCached'),
                dict(
                    type='RandomResizedCrop',
                    scale=28,
                    crop_ratio_range=(0.6, 1.0),
                    backend='pillow'),
                dict(type='PackInputs'),
            ])))

custom_hooks = [
    dict(
        type='ClusterFitHook',
        num_clusters=num_clusters,
        source=dict(
            config='configs/demo/noisy-label_resnet18-mini_mnist5k.py',
            checkpoint=source_checkpoint,
            stage='backbone'),
        extract_pipeline={{_base_.mnist_test_pipeline}},
        kmeans=dict(niter=50, seed=0),
        batch_size=256,
        num_workers=0,
        channels_last=True),
    # No ChannelsLastHook: the demo's table was measured without it; it is
    # safe here (docs/guide.md, Speed on CPUs) and makes the steps faster.
]

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True)
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
# lr is tuned for this batch size in one process (for --auto-scale-lr).
auto_scale_lr = dict(base_batch_size=128)
