# PASCAL VOC 2007 low-shot classification, VISSL's benchmark
# (SVMLowShotTrainer, extra_scripts/create_low_shot_samples.py): per class k
# positive and (20 - 1) x k negative trainval images, 5 draws per k; an SVM
# per class and cost, mAP on test; per k, the cost with the best mean over
# the draws (VISSL chooses it on test). The data and features as in
# voc07_svm.py.
_base_ = './voc07_svm.py'
benchmark = dict(name='VOC07-low-shot', protocols=['voc07-low-shot'])
eval_low_shot = dict(k_values=[1, 2, 4, 8, 16, 32, 64, 96], samples=5)
