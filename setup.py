"""dlfund: chapter 5 of Fundamentals of Deep Learning, runnable on TensorFlow 2.x (tf.compat.v1)."""

from setuptools import find_packages, setup

setup(
    name="dlfund",
    version="0.1.0",
    description="The convolutional networks of Fundamentals of Deep Learning, chapter 5, "
                "on current TensorFlow in the book's tf.compat.v1 style",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["dlfund", "dlfund.*", "chapter5", "chapter5.*"]),
    package_data={
        "dlfund.data": ["mnist_sample/*.gz", "mnist_sample/README.md"],
        "chapter5": ["flags/*.cfg", "notebooks/*.ipynb", "notebooks/ko/*.ipynb", "notebooks/ko/*.toml",
                     "draw/static/*"],
    },
    # TensorBoard's "draw" tab: the drawing page (python -m chapter5.draw) inside TensorBoard.
    entry_points={"tensorboard_plugins": ["draw = chapter5.draw.plugin:DrawPlugin"]},
    install_requires=[
        "tensorflow>=2.16,<3",  # everything rests on tf.compat.v1
        "tensorboard>=2.21",  # finds the draw tab's entry point with importlib.metadata (earlier: pkg_resources)
        "numpy",
        "absl-py",
        "pillow",  # reading a reader's pictures (dlfund.digits): formats, EXIF orientation
        "pillow-heif",  # iPhone photos (HEIC)
        "scipy",  # image morphology and labelling (dlfund.digits)
        "werkzeug",  # chapter5.draw's HTTP server (TensorBoard's own)
    ],
    extras_require={
        # What CI needs: the suite, the linter, executing the notebooks headless, and driving the drawing page in
        # Chromium (Debian's chromium and chromium-driver, which .ci/run installs; nothing is downloaded).
        # tomli: the Korean notebooks' text (chapter5/notebooks/ko/*.toml) on Python 3.10, before tomllib.
        "test": ["pytest", "ruff", "nbclient", "nbformat", "ipykernel", "matplotlib", "scikit-learn", "selenium",
                 "tomli; python_version < '3.11'"],
        "plot": ["matplotlib"],
        # Reading and running the notebooks (chapter5/notebooks/) in Jupyter; scikit-learn for t-SNE.
        "notebooks": ["jupyter", "nbclient", "nbformat", "ipykernel", "matplotlib", "scikit-learn",
                      "tomli; python_version < '3.11'"],
    },
    license="MIT (code); the bundled MNIST sample is CC BY-SA 3.0",
)
