"""Shared test helpers: tiny MNIST-format data sets written into a temp dir, subprocess runs."""

import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def digit_images(labels: np.ndarray, seed: int = 0, size: int = 28) -> np.ndarray:
    """uint8 images [n, size, size] in which the class is learnable: a bright bar at a class-dependent row."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    images = rng.integers(0, 40, size=(n, size, size)).astype(np.uint8)
    for i, label in enumerate(labels):
        row = 2 + int(label) * (size - 4) // 10
        images[i, row:row + 2, 4:size - 4] = 250
    return images


def write_mnist_format(directory: str, n_train: int = 300, n_test: int = 100, seed: int = 0,
                       compress: bool = True) -> str:
    """Writes the four IDX files of a tiny learnable data set; returns the directory."""
    from dlfund.data import idx, mnist
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    train_labels = rng.integers(0, 10, n_train).astype(np.uint8)
    test_labels = rng.integers(0, 10, n_test).astype(np.uint8)
    names = {k: (k if compress else k[:-3]) for k in mnist.FILES}
    idx.write_idx_images(os.path.join(directory, names[mnist.TRAIN_IMAGES]), digit_images(train_labels, seed))
    idx.write_idx_labels(os.path.join(directory, names[mnist.TRAIN_LABELS]), train_labels)
    idx.write_idx_images(os.path.join(directory, names[mnist.TEST_IMAGES]), digit_images(test_labels, seed + 1))
    idx.write_idx_labels(os.path.join(directory, names[mnist.TEST_LABELS]), test_labels)
    return directory


@pytest.fixture
def tiny_mnist(tmp_path):
    return write_mnist_format(str(tmp_path / "data"))


def run_module(module: str, *args: str, cwd: str = REPO, timeout: float = 300, env_extra=None,
               check: bool = False) -> subprocess.CompletedProcess:
    """Runs ``python -m module args`` and returns the completed process (text output)."""
    env = dict(os.environ)
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{module} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc
