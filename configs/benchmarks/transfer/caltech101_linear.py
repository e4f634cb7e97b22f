# Caltech-101 with mmpretrain's meta/ lists (its Caltech101 class).
# Linear probe on frozen features (tools/analysis_tools/benchmark_suite.py):
# logistic regression, C chosen on a held-out part of the train split.
_base_ = './_base_/image_eval.py'
data_root = 'data/caltech-101'
benchmark = dict(
    name='Caltech-101',
    protocols=['linear'],
    expects=['meta/train.txt', 'meta/test.txt', '101_ObjectCategories'])
eval_train_dataset = dict(
    type='Caltech101',
    data_root=data_root,
    split='train',
    pipeline={{_base_.eval_pipeline}})
eval_test_dataset = dict(
    type='Caltech101',
    data_root=data_root,
    split='test',
    pipeline={{_base_.eval_pipeline}})
