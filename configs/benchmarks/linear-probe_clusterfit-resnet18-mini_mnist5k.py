# Linear probe (mmpretrain style, the long protocol) of the demo's ClusterFit
# backbone on MNIST-5k: the frozen backbone of a ClusterFit checkpoint and a
# linear head over the 10 digits, trained on the true labels.
#   python tools/train.py \
#       configs/benchmarks/linear-probe_clusterfit-resnet18-mini_mnist5k.py
# tools/eval_features.py is the quick protocol on the same features.
_base_ = '../demo/clusterfit_resnet18-mini_mnist5k.py'

clusterfit_checkpoint = 'work_dirs/demo/clusterfit/epoch_17.pth'
max_epochs = 20

model = dict(
    data_preprocessor=dict(num_classes=10),
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=clusterfit_checkpoint,
            prefix='backbone.')),
    head=dict(
        _delete_=True,
        type='LinearClsHead',
        num_classes=10,
        in_channels={{_base_.mnist_feat_dim}}))
custom_hooks = []

# The ClusterFitDataset of the base is replaced, not merged into.
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root={{_base_.mnist_root}},
        ann_file='train.txt',
        pipeline={{_base_.mnist_test_pipeline}}))
val_dataloader = dict(
    batch_size=256,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset={{_base_.eval_test_dataset}})
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=1.0, momentum=0.9, weight_decay=0.))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(interval=max_epochs))
