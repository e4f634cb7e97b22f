# HMDB51, official split 1 (testTrainMulti_7030_splits/, the plugin's
# HMDB51 class);
# linear probe on frozen clip features (tools/analysis_tools/
# benchmark_suite.py). Fine-tuning is not part of the suite: train the
# backbone with a video classification config for that.
_base_ = './_base_/video_eval.py'
data_root = 'data/hmdb51'
benchmark = dict(
    name='HMDB51-split1',
    protocols=['linear'],
    expects=['testTrainMulti_7030_splits', 'videos'])
eval_train_dataset = dict(
    type='HMDB51',
    data_root=data_root,
    data_prefix='videos',
    split=1,
    subset='train',
    pipeline={{_base_.eval_pipeline}})
eval_test_dataset = dict(
    type='HMDB51',
    data_root=data_root,
    data_prefix='videos',
    split=1,
    subset='test',
    test_mode=True,
    pipeline={{_base_.eval_pipeline}})
