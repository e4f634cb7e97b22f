# MNIST-5k (written by tools/demo/prepare_mnist.py): 28x28 digits read as
# 3-channel images, 4,000 train / 1,000 test. Names are prefixed with
# `mnist_` so that they never clash with keys of mmpretrain's base configs.
mnist_root = 'data/mnist5k'
mnist_norm = dict(mean=[33.3, 33.3, 33.3], std=[78.6, 78.6, 78.6])

# The demo's network: a CIFAR-style ResNet-18 with 16 base channels
# (128-d features), small enough to train on 2 CPU cores.
mnist_backbone = dict(
    type='ResNet_CIFAR',
    depth=18,
    base_channels=16,
    stem_channels=16,
    norm_cfg=dict(type='BN'))
mnist_feat_dim = 128

# Deterministic pipeline: feature extraction and linear-probe evaluation.
mnist_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
# The labelled splits of tools/eval_features.py (--data this file).
eval_train_dataset = dict(
    type='CustomDataset',
    data_root=mnist_root,
    ann_file='train.txt',
    pipeline=mnist_test_pipeline)
eval_test_dataset = dict(
    type='CustomDataset',
    data_root=mnist_root,
    ann_file='test.txt',
    pipeline=mnist_test_pipeline)
