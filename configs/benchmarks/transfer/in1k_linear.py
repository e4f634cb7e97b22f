# ImageNet-1k, mmpretrain's layout (meta/train.txt, meta/val.txt).
# Linear probe on frozen features (tools/analysis_tools/benchmark_suite.py):
# logistic regression, C chosen on a held-out part of the train split.
_base_ = './_base_/image_eval.py'
data_root = 'data/imagenet'
benchmark = dict(
    name='ImageNet-1k',
    protocols=['linear'],
    expects=['meta/train.txt', 'meta/val.txt', 'train', 'val'])
eval_train_dataset = dict(
    type='ImageNet',
    data_root=data_root,
    split='train',
    pipeline={{_base_.eval_pipeline}})
eval_test_dataset = dict(
    type='ImageNet',
    data_root=data_root,
    split='val',
    pipeline={{_base_.eval_pipeline}})
