from setuptools import find_packages, setup


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def requirements(path):
    """The requirement lines of a file under requirements/ (ranges; the
    exact versions checked on this project's machines are the lock in
    requirements.txt)."""
    with open(path, encoding='utf-8') as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip()
        ]


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
    packages=find_packages(
        include=['clusterfit_plugin', 'clusterfit_plugin.*']),
    python_requires='>=3.9',
    install_requires=requirements('requirements/runtime.txt'),
    extras_require=dict(
        faiss=['faiss-cpu>=1.15'],
        video=['av', 'decord'],
        demo=['mlxtend', 'scikit-learn', 'threadpoolctl'],
        tensorboard=['tensorboard'],
        all=requirements('requirements/optional.txt'),
        tests=requirements('requirements/tests.txt')),
    license='Apache License 2.0')
