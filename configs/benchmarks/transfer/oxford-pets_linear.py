# Oxford-IIIT Pets (mmpretrain's OxfordIIITPet class).
# Linear probe on frozen features (tools/analysis_tools/benchmark_suite.py):
# logistic regression, C chosen on a held-out part of the train split.
_base_ = './_base_/image_eval.py'
data_root = 'data/oxford-iiit-pet'
benchmark = dict(
    name='Oxford-IIIT-Pets',
    protocols=['linear'],
    expects=['annotations/trainval.txt', 'annotations/test.txt', 'images'])
eval_train_dataset = dict(
    type='OxfordIIITPet',
    data_root=data_root,
    split='trainval',
    pipeline={{_base_.eval_pipeline}})
eval_test_dataset = dict(
    type='OxfordIIITPet',
    data_root=data_root,
    split='test',
    pipeline={{_base_.eval_pipeline}})
