"""eo-tfds: Earth-observation training sets as TensorFlow Datasets and Keras-ready tf.data pipelines."""

from setuptools import find_packages, setup

setup(
    name="eo-tfds",
    version="0.1.0",
    description="TFDS builders and tf.data pipelines for Earth-observation training sets",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["parsers", "parsers.*", "conversion", "conversion.*",
                                    "tfds_builders", "tfds_builders.*", "benchmarks"]),
    package_data={"tfds_builders": ["*/README.md", "*/CITATIONS.bib", "*/TAGS.txt", "*/checksums.tsv"]},
    install_requires=[
        # TensorFlow itself comes from an extra, so a user's own build (GPU, or a
        # distribution other than PyPI's) is never replaced: `pip install eo-tfds[cpu]`.
        "tensorflow-datasets==4.9.10",
        # tensorflow-datasets 4.9.10 needs it to prepare any builder but does not declare it
        "importlib_resources",
        "numpy",
        "h5py",
        "py7zr",
        "rasterio",
        "tqdm",
        "matplotlib",
        "array_record",
        # hardware CRC32C for the TFRecord framing of the shard writer
        "crc32c",
        # tf.train.Example read and written without TensorFlow (parsers.tf_example)
        "protobuf",
    ],
    extras_require={
        "cpu": ["tensorflow-cpu>=2.16"],
        "gpu": ["tensorflow[and-cuda]>=2.16"],
        # apache-beam for Beam generation; the `tfds` command of tensorflow-datasets 4.9.10
        # imports both apache_beam and mlcroissant at start without declaring them
        "beam": ["apache-beam", "mlcroissant"],
        "test": ["pytest", "pytest-xdist"],
    },
    entry_points={"console_scripts": ["eo-tfds=conversion.cli:main"]},
)
