from setuptools import find_packages, setup


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def version():
    scope = {}
    with open('clusterfit_plugin/version.py', encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='clusterfit_plugin',
    version=version(),
    description='ClusterFit (Yan et al., CVPR 2020) as an OpenMMLab plugin',
    long_description=readme(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['clusterfit_plugin', 'clusterfit_plugin.*']),
    python_requires='>=3.9',
    install_requires=[
        'torch', 'torchvision', 'mmengine>=0.10',
        'mmpretrain>=1.0', 'numpy', 'setuptools<81'
    ],
    extras_require=dict(
        faiss=['faiss-cpu>=1.15'], video=['av', 'decord'],
        demo=['mlxtend', 'scikit-learn', 'threadpoolctl']),
    license='Apache License 2.0')
