# ClusterFit on ImageNet-1k (Yan et al., CVPR 2020, Sec. 4): cluster the
# features of a self-supervised MoCo v2 ResNet-50 into K=16,000 groups and
# train a ResNet-50 from scratch to classify the cluster ids.
#
# Data: ImageNet in mmpretrain's layout under data/imagenet (train/, meta/).
# Source: the MoCo v2 checkpoint of the mmpretrain model zoo, downloaded by
# you to checkpoints/ (nothing is downloaded at run time):
#   mocov2_resnet50_8xb32-coslr-200e_in1k_20220825-b6d23c86.pth
# Run (8 GPUs x 32 images = 256 a step, lr 0.1 as in the paper):
#   tools/dist_train.sh configs/clusterfit_r50.py 8
# The clustering is written to {work_dir}/clusterfit/ and reused on resume.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(
    imports=['clusterfit_plugin'], allow_failed_imports=False)

num_clusters = 16000
source_checkpoint = ('checkpoints/mocov2_resnet50_8xb32-coslr-200e_in1k_'
                     '20220825-b6d23c86.pth')

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='ClusterFitHead',
        num_clusters=num_clusters,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
data_preprocessor = dict(num_classes=num_clusters)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClusterFitDataset',
        dataset=dict(
            type='ImageNet',
            data_root='data/imagenet',
            split='train',
            pipeline={{_base_.train_pipeline}})))

custom_hooks = [
    dict(
        type='ClusterFitHook',
        num_clusters=num_clusters,
        source=dict(
            config=('mmpretrain::mocov2/'
                    'mocov2_resnet50_8xb32-coslr-200e_in1k.py'),
            checkpoint=source_checkpoint,
            stage='backbone'),
        # Deterministic: resize 256 + center crop 224 (the default).
        extract_pipeline={{_base_.test_pipeline}},
        kmeans=dict(niter=50, seed=0, max_points_per_centroid=256),
        batch_size=128,
        num_workers=8,
        amp=True),
]

# Pre-training on pseudo-labels: no validation on them. Evaluate the
# backbone with configs/benchmarks/ instead.
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None

# The paper's schedule: SGD, lr 0.1 per 256 images, 105 epochs, lr x0.1 at
# epochs 30, 60, 90 and 100.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[30, 60, 90, 100], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=105)
auto_scale_lr = dict(base_batch_size=256)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=3))
