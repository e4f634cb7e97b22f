# Oxford Flowers-102 (mmpretrain's Flowers102 class).
# Linear probe on frozen features (tools/analysis_tools/benchmark_suite.py):
# logistic regression, C chosen on a held-out part of the train split.
_base_ = './_base_/image_eval.py'
data_root = 'data/flowers102'
benchmark = dict(
    name='Flowers-102',
    protocols=['linear'],
    expects=['imagelabels.mat', 'setid.mat', 'jpg'])
eval_train_dataset = dict(
    type='Flowers102',
    data_root=data_root,
    split='trainval',
    pipeline={{_base_.eval_pipeline}})
eval_test_dataset = dict(
    type='Flowers102',
    data_root=data_root,
    split='test',
    pipeline={{_base_.eval_pipeline}})
