from setuptools import find_packages, setup


def read_requirements(path):
    with open(path) as f:
        return [ln.split('#')[0].strip() for ln in f if ln.split('#')[0].strip()]


setup(
    name='est_mm',
    version='0.1.0',
    description='Expression Snippet Transformer (EST) for video facial-expression recognition, '
                'as an mmaction2 plugin',
    packages=find_packages(include=['est_mm', 'est_mm.*']),
    python_requires='>=3.9',
    # mmengine / mmcv-lite / mmaction2 are installed --no-deps (see requirements-nodeps.txt).
    install_requires=read_requirements('requirements.txt'),
    license='Apache-2.0',
)
