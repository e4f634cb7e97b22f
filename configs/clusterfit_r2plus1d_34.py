# The paper's Kinetics-400 recipe under a short name:
#   tools/dist_train.sh configs/clusterfit_r2plus1d_34.py 8
_base_ = './clusterfit/clusterfit_r2plus1d-34_8xb16-45e_kinetics400.py'
