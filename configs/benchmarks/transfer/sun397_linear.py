# SUN397, partition 1 (mmpretrain's SUN397 class).
# Linear probe on frozen features (tools/analysis_tools/benchmark_suite.py):
# logistic regression, C chosen on a held-out part of the train split.
_base_ = './_base_/image_eval.py'
data_root = 'data/SUN397'
benchmark = dict(
    name='SUN397',
    protocols=['linear'],
    expects=[
        'Partitions/Training_01.txt', 'Partitions/Testing_01.txt', 'SUN397'
    ])
eval_train_dataset = dict(
    type='SUN397',
    data_root=data_root,
    split='train',
    pipeline={{_base_.eval_pipeline}})
eval_test_dataset = dict(
    type='SUN397',
    data_root=data_root,
    split='test',
    pipeline={{_base_.eval_pipeline}})
