# The demo's ClusterFit run, also logged to TensorBoard: the training loss,
# the cluster scores (clusterfit/nmi, ari, purity) and pictures (the cluster
# sample grid and size histogram) in {work_dir}/{timestamp}/vis_data/.
# Needs the tensorboard extra (tools/setup_env.sh installs it; or
# pip install -e .[tensorboard]). `TENSORBOARD=1 make demo` uses this config;
# then: tensorboard --logdir work_dirs/demo/clusterfit
_base_ = './clusterfit_resnet18-mini_mnist5k.py'

visualizer = dict(
    type='UniversalVisualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
        dict(type='TensorboardVisBackend'),
    ])
