# The paper's ImageNet-1k recipe under a short name:
#   tools/dist_train.sh configs/clusterfit_r50.py 8
_base_ = './clusterfit/clusterfit_resnet50_8xb32-105e_in1k.py'
