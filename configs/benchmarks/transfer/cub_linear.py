# CUB-200-2011 (mmpretrain's CUB class).
# Linear probe on frozen features (tools/analysis_tools/benchmark_suite.py):
# logistic regression, C chosen on a held-out part of the train split.
_base_ = './_base_/image_eval.py'
data_root = 'data/CUB_200_2011'
benchmark = dict(
    name='CUB-200-2011',
    protocols=['linear'],
    expects=[
        'images.txt', 'image_class_labels.txt', 'train_test_split.txt',
        'images'
    ])
eval_train_dataset = dict(
    type='CUB',
    data_root=data_root,
    split='train',
    pipeline={{_base_.eval_pipeline}})
eval_test_dataset = dict(
    type='CUB',
    data_root=data_root,
    split='test',
    pipeline={{_base_.eval_pipeline}})
