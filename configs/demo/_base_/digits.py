# scikit-learn's 1,797 handwritten digits (written by
# tools/demo/prepare_digits.py) in MNIST's shape: a transfer target for the
# MNIST-5k models, 900 train / 897 test. Read as 3-channel images, like
# MNIST-5k; the model's own data preprocessor normalises them.
digits_root = 'data/digits'
digits_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
# The labelled splits of tools/eval_features.py (--data this file).
eval_train_dataset = dict(
    type='CustomDataset',
    data_root=digits_root,
    ann_file='train.txt',
    pipeline=digits_pipeline)
eval_test_dataset = dict(
    type='CustomDataset',
    data_root=digits_root,
    ann_file='test.txt',
    pipeline=digits_pipeline)
