# Linear probe of a ClusterFit ResNet-50 on ImageNet-1k: mmpretrain's MoCo v2
# benchmark recipe (frozen backbone, SGD lr 30, 100 epochs, steps 60/80)
# with the backbone taken from a ClusterFit checkpoint. Run:
#   tools/dist_train.sh \
#       configs/benchmarks/linear-probe_clusterfit-r50_in1k.py 8 \
#       --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/clusterfit_r50/epoch_105.pth
_base_ = ('mmpretrain::mocov2/benchmarks/'
          'resnet50_8xb32-linear-steplr-100e_in1k.py')

clusterfit_checkpoint = 'work_dirs/clusterfit_r50/epoch_105.pth'
model = dict(
    backbone=dict(
        frozen_stages=4,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=clusterfit_checkpoint,
            prefix='backbone.')))
