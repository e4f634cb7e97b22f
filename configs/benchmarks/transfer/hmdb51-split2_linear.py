# HMDB51, official split 2: as split 1 otherwise.
_base_ = './hmdb51-split1_linear.py'
benchmark = dict(name='HMDB51-split2')
eval_train_dataset = dict(split=2)
eval_test_dataset = dict(split=2)
