# Fine-tuning on UCF101, official split 2: as split 1 otherwise.
_base_ = './finetune_clusterfit-r2plus1d-34_ucf101-split1.py'
train_dataloader = dict(dataset=dict(split=2))
val_dataloader = dict(dataset=dict(split=2))
test_dataloader = dict(dataset=dict(split=2))
