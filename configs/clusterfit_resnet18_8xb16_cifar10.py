# ClusterFit from a recipe you already have: mmpretrain's CIFAR-10 ResNet-18
# becomes ClusterFit with the three entries below (the README's "Using it in
# your config"). The source is a MoCo v2 ResNet-50 checkpoint of yours.
#   python tools/train.py configs/clusterfit_resnet18_8xb16_cifar10.py
_base_ = 'mmpretrain::resnet/resnet18_8xb16_cifar10.py'
custom_imports = dict(
    imports=['clusterfit_plugin'], allow_failed_imports=False)
num_clusters = 100

# 1. The head classifies the K clusters; it replaces the recipe's head.
model = dict(
    head=dict(
        _delete_=True,
        type='ClusterFitHead',
        num_clusters=num_clusters,
        in_channels=512))
data_preprocessor = dict(num_classes=num_clusters)
# 2. The wrapper labels each sample with its cluster id; it replaces the
#    recipe's dataset entry and wraps the recipe's dataset.
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClusterFitDataset',
        dataset={{_base_.train_dataloader.dataset}}))
# 3. The hook clusters the source's features before training.
custom_hooks = [
    dict(
        type='ClusterFitHook',
        num_clusters=num_clusters,
        source=dict(
            config=('mmpretrain::mocov2/'
                    'mocov2_resnet50_8xb32-coslr-200e_in1k.py'),
            checkpoint='checkpoints/mocov2_resnet50.pth',
            stage='backbone'),
        extract_pipeline={{_base_.test_pipeline}},
        kmeans=dict(niter=50, seed=0)),
]
# The recipe validates on CIFAR's classes; cluster ids are not classes.
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
