# iNaturalist 2018, its official JSON lists (train2018.json, val2018.json)
# and train_val2018/ (the plugin's INaturalist class).
# Linear probe on frozen features (tools/analysis_tools/benchmark_suite.py):
# logistic regression, C chosen on a held-out part of the train split.
_base_ = './_base_/image_eval.py'
data_root = 'data/inat2018'
benchmark = dict(
    name='iNaturalist-2018',
    protocols=['linear'],
    expects=['train2018.json', 'val2018.json'])
eval_train_dataset = dict(
    type='INaturalist',
    data_root=data_root,
    ann_file='train2018.json',
    pipeline={{_base_.eval_pipeline}})
eval_test_dataset = dict(
    type='INaturalist',
    data_root=data_root,
    ann_file='val2018.json',
    pipeline={{_base_.eval_pipeline}})
