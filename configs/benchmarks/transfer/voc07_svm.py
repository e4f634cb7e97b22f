# PASCAL VOC 2007 classification, VISSL's benchmark: a linear SVM per class
# on frozen features, cost chosen by 3-fold cross-validated AP on trainval,
# mAP on test (clusterfit_plugin/evaluation/voc07_svm.py follows VISSL's
# SVMTrainer and eval_resnet_8gpu_transfer_voc07_svm.yaml). VISSL resizes
# to 256 then to 224x224 and scores each ResNet stage's average-pooled map;
# here the model's own stage output (global average pooled) is scored.
# Data: VOCdevkit/VOC2007 in VOC's layout (mmpretrain's VOC class).
eval_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs'),
]
data_root = 'data/VOCdevkit/VOC2007'
benchmark = dict(
    name='VOC07',
    protocols=['voc07-svm'],
    expects=[
        'ImageSets/Main/trainval.txt', 'ImageSets/Main/test.txt',
        'Annotations', 'JPEGImages'
    ])
eval_train_dataset = dict(
    type='VOC', data_root=data_root, split='trainval', pipeline=eval_pipeline)
eval_test_dataset = dict(
    type='VOC',
    data_root=data_root,
    split='test',
    test_mode=True,
    pipeline=eval_pipeline)
