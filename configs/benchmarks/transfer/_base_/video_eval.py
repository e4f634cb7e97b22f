# Frozen-feature evaluation of clips: the centre 8-frame window at frame
# interval 4, short side 128, centre crop 112 (the R(2+1)D recipe's
# extraction pipeline, configs/clusterfit/); the model's own data
# preprocessor normalises.
eval_pipeline = [
    dict(type='VideoInit', backend='auto'),
    dict(type='SampleFrames', clip_len=8, frame_interval=4, test_mode=True),
    dict(type='VideoDecode'),
    dict(type='ClipResize', scale=128),
    dict(type='ClipCenterCrop', crop_size=112),
    dict(type='PackVideoInputs'),
]
eval_linear_c_grid = [0.01, 0.1, 1.0, 10.0]
