# Ten classes of drawn shapes in MNIST's format (written by
# tools/demo/make_shapes.py): a generated transfer target of another kind
# than digits for the MNIST-5k models, 1,000 train / 1,000 test. Read as
# 3-channel images, like MNIST-5k; the model's own data preprocessor
# normalises them.
shapes_root = 'data/shapes'
shapes_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
# The labelled splits of tools/eval_features.py (--data this file).
eval_train_dataset = dict(
    type='CustomDataset',
    data_root=shapes_root,
    ann_file='train.txt',
    pipeline=shapes_pipeline)
eval_test_dataset = dict(
    type='CustomDataset',
    data_root=shapes_root,
    ann_file='test.txt',
    pipeline=shapes_pipeline)
