# UCF101, official split 1 (ucfTrainTestlist/, the plugin's UCF101 class);
# linear probe on frozen clip features (tools/analysis_tools/
# benchmark_suite.py). Fine-tuning is not part of the suite: train the
# backbone with a video classification config for that.
_base_ = './_base_/video_eval.py'
data_root = 'data/ucf101'
benchmark = dict(
    name='UCF101-split1',
    protocols=['linear'],
    expects=['ucfTrainTestlist', 'UCF-101'])
eval_train_dataset = dict(
    type='UCF101',
    data_root=data_root,
    data_prefix='UCF-101',
    split=1,
    subset='train',
    pipeline={{_base_.eval_pipeline}})
eval_test_dataset = dict(
    type='UCF101',
    data_root=data_root,
    data_prefix='UCF-101',
    split=1,
    subset='test',
    test_mode=True,
    pipeline={{_base_.eval_pipeline}})
