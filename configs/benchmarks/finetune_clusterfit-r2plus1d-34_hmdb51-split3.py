# Fine-tuning on HMDB51, official split 3: as split 1 otherwise.
_base_ = './finetune_clusterfit-r2plus1d-34_hmdb51-split1.py'
train_dataloader = dict(dataset=dict(split=3))
val_dataloader = dict(dataset=dict(split=3))
test_dataloader = dict(dataset=dict(split=3))
