# Linear probe of a ClusterFit R(2+1)D-34 on Kinetics-400: frozen backbone
# from a ClusterFit checkpoint, a linear classifier over the 400 classes,
# evaluated on the centre clip of each validation video. Run:
#   CONFIG=configs/benchmarks/linear-probe_clusterfit-r2plus1d-34_kinetics400.py
#   CKPT=work_dirs/clusterfit_r2plus1d_34/epoch_45.pth
#   tools/dist_train.sh $CONFIG 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=$CKPT
_base_ = '../clusterfit_r2plus1d_34.py'

clusterfit_checkpoint = 'work_dirs/clusterfit_r2plus1d_34/epoch_45.pth'
max_epochs = 30

model = dict(
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
        num_classes=400,
        in_channels=512,
        topk=(1, 5)))
custom_hooks = []

kinetics_train = dict(
    type='VideoDataset',
    data_root={{_base_.data_root}},
    ann_file='kinetics400_train_list_videos.txt',
    data_prefix='videos_train',
    pipeline={{_base_.train_pipeline}})
kinetics_val = dict(
    type='VideoDataset',
    data_root={{_base_.data_root}},
    ann_file='kinetics400_val_list_videos.txt',
    data_prefix='videos_val',
    pipeline={{_base_.extract_pipeline}})
train_dataloader = dict(dataset=dict(_delete_=True, **kinetics_train))
# The base recipe has no validation (None): `_delete_` replaces it.
val_dataloader = dict(
    _delete_=True,
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=kinetics_val)
val_evaluator = dict(_delete_=True, type='Accuracy', topk=(1, 5))
val_cfg = dict(_delete_=True)
test_dataloader = val_dataloader
test_evaluator = val_evaluator
test_cfg = dict(_delete_=True)

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=1.0, momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=5)
