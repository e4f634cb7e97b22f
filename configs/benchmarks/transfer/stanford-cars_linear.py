# Stanford Cars, cars_annos.mat (mmpretrain's StanfordCars class).
# Linear probe on frozen features (tools/analysis_tools/benchmark_suite.py):
# logistic regression, C chosen on a held-out part of the train split.
_base_ = './_base_/image_eval.py'
data_root = 'data/stanfordcars'
benchmark = dict(
    name='Stanford-Cars', protocols=['linear'], expects=['cars_annos.mat'])
eval_train_dataset = dict(
    type='StanfordCars',
    data_root=data_root,
    split='train',
    pipeline={{_base_.eval_pipeline}})
eval_test_dataset = dict(
    type='StanfordCars',
    data_root=data_root,
    split='test',
    pipeline={{_base_.eval_pipeline}})
