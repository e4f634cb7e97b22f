# Describable Textures, split 1 of imdb.mat (mmpretrain's DTD class).
# Linear probe on frozen features (tools/analysis_tools/benchmark_suite.py):
# logistic regression, C chosen on a held-out part of the train split.
_base_ = './_base_/image_eval.py'
data_root = 'data/dtd'
benchmark = dict(
    name='DTD', protocols=['linear'], expects=['imdb/imdb.mat', 'images'])
eval_train_dataset = dict(
    type='DTD',
    data_root=data_root,
    split='trainval',
    pipeline={{_base_.eval_pipeline}})
eval_test_dataset = dict(
    type='DTD',
    data_root=data_root,
    split='test',
    pipeline={{_base_.eval_pipeline}})
