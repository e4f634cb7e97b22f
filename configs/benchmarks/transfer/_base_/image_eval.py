# Frozen-feature evaluation of images (tools/analysis_tools/benchmark_suite.py
# and tools/eval_features.py --data): VISSL's test transform for its linear
# benchmarks (resize the short side to 256, centre crop 224); the model's
# own data preprocessor normalises.
eval_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
# The linear probe's C is chosen from this grid on 20% of the train split
# held out (VISSL sweeps the SGD learning rate and weight decay instead:
# docs/benchmarks.md says where the protocols differ).
eval_linear_c_grid = [0.01, 0.1, 1.0, 10.0]
