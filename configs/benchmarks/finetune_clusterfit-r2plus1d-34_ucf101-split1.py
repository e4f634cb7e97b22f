# Fine-tuning a ClusterFit R(2+1)D-34 on UCF101, official split 1: the
# whole network from a ClusterFit checkpoint, a new linear classifier over
# the 101 classes. The schedule is mmaction2's UCF101 fine-tuning recipe
# (c3d_sports1m-pretrained_8xb30-16x1x1-45e_ucf101-rgb.py: SGD lr 0.001,
# momentum 0.9, weight decay 5e-4, gradient clip 40, 45 epochs, lr x0.1 at
# 20 and 40, 8 GPUs x 30 clips); its crops are the ClusterFit recipe's
# (random resized 112 from a 128 short side, where mmaction2 crops 112 at
# random). Data: UCF-101/ and ucfTrainTestlist/ under data/ucf101 (the
# plugin's UCF101 class reads the official split files). Run:
#   tools/dist_train.sh \
#       configs/benchmarks/finetune_clusterfit-r2plus1d-34_ucf101-split1.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=CKPT
# Splits 2 and 3: the two configs beside this one.
_base_ = '../clusterfit_r2plus1d_34.py'

clusterfit_checkpoint = 'work_dirs/clusterfit_r2plus1d_34/epoch_45.pth'
num_classes = 101
max_epochs = 45

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint=clusterfit_checkpoint,
            prefix='backbone.')),
    head=dict(
        _delete_=True,
        type='LinearClsHead',
        num_classes=num_classes,
        in_channels=512,
        topk=(1, 5)))
custom_hooks = []

video_data = dict(
    type='UCF101', data_root='data/ucf101', data_prefix='UCF-101', split=1)
train_dataloader = dict(
    batch_size=30,
    dataset=dict(
        _delete_=True,
        subset='train',
        pipeline={{_base_.train_pipeline}},
        **video_data))
# The base recipe has no validation (None): `_delete_` replaces it.
val_dataloader = dict(
    _delete_=True,
    batch_size=30,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        subset='test',
        test_mode=True,
        pipeline={{_base_.extract_pipeline}},
        **video_data))
val_evaluator = dict(_delete_=True, type='Accuracy', topk=(1, 5))
val_cfg = dict(_delete_=True)
test_dataloader = val_dataloader
test_evaluator = val_evaluator
test_cfg = dict(_delete_=True)

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=5e-4),
    clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=True,
        begin=0,
        end=max_epochs,
        milestones=[20, 40],
        gamma=0.1)
]
train_cfg = dict(
    _delete_=True, by_epoch=True, max_epochs=max_epochs, val_interval=5)
auto_scale_lr = dict(base_batch_size=240)
