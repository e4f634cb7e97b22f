# Places205, its official lists (trainvalsplit_places205/*.csv: 'path label'
# per line) and images256/ (mmpretrain's Places205 class).
# Linear probe on frozen features (tools/analysis_tools/benchmark_suite.py):
# logistic regression, C chosen on a held-out part of the train split.
_base_ = './_base_/image_eval.py'
data_root = 'data/places205'
benchmark = dict(
    name='Places205',
    protocols=['linear'],
    expects=[
        'trainvalsplit_places205/train_places205.csv',
        'trainvalsplit_places205/val_places205.csv', 'images256'
    ])
eval_train_dataset = dict(
    type='Places205',
    data_root=data_root,
    ann_file='trainvalsplit_places205/train_places205.csv',
    data_prefix='images256',
    pipeline={{_base_.eval_pipeline}})
eval_test_dataset = dict(
    type='Places205',
    data_root=data_root,
    ann_file='trainvalsplit_places205/val_places205.csv',
    data_prefix='images256',
    pipeline={{_base_.eval_pipeline}})
