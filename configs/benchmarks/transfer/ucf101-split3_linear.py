# UCF101, official split 3: as split 1 otherwise.
_base_ = './ucf101-split1_linear.py'
benchmark = dict(name='UCF101-split3')
eval_train_dataset = dict(split=3)
eval_test_dataset = dict(split=3)
