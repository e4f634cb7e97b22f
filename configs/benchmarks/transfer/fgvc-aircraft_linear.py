# FGVC-Aircraft 2013b, variants (mmpretrain's FGVCAircraft class).
# Linear probe on frozen features (tools/analysis_tools/benchmark_suite.py):
# logistic regression, C chosen on a held-out part of the train split.
_base_ = './_base_/image_eval.py'
data_root = 'data/fgvc-aircraft-2013b'
benchmark = dict(
    name='FGVC-Aircraft',
    protocols=['linear'],
    expects=[
        'data/images_variant_trainval.txt', 'data/images_variant_test.txt',
        'data/images'
    ])
eval_train_dataset = dict(
    type='FGVCAircraft',
    data_root=data_root,
    split='trainval',
    pipeline={{_base_.eval_pipeline}})
eval_test_dataset = dict(
    type='FGVCAircraft',
    data_root=data_root,
    split='test',
    pipeline={{_base_.eval_pipeline}})
