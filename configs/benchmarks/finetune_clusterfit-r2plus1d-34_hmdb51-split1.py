# Fine-tuning a ClusterFit R(2+1)D-34 on HMDB51, official split 1: as the
# UCF101 config (mmaction2's fine-tuning schedule), over the 51 classes.
# Data: videos/ (one folder per class) and testTrainMulti_7030_splits/ under
# data/hmdb51 (the plugin's HMDB51 class reads the official split files).
# Splits 2 and 3: the two configs beside this one.
_base_ = './finetune_clusterfit-r2plus1d-34_ucf101-split1.py'
num_classes = 51
hmdb51 = dict(
    type='HMDB51', data_root='data/hmdb51', data_prefix='videos', split=1)
model = dict(head=dict(num_classes=num_classes))
train_dataloader = dict(dataset=hmdb51)
val_dataloader = dict(dataset=hmdb51)
test_dataloader = dict(dataset=hmdb51)
