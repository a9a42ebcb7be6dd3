"""Reads MNIST-format IDX files (``*-ubyte.gz``) for the whole-process comparison scripts, with numpy only.

Used by ``epoch_keras.py`` and ``epoch_bare.py`` so that neither reads data
through ``dlfund``: each is the plain program a reader might write. The split
is the book's ``input_data``'s: the first 55,000 training images train, the
last 5,000 validate; pixels scaled to [0, 1], labels one-hot.
"""

from __future__ import annotations

import gzip
import os

import numpy as np


def _read(path: str, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load(data_dir: str) -> dict:
    """``{"train"|"validation"|"test": (images float32 [n, 784], labels one-hot float32 [n, 10])}``."""
    def part(prefix: str) -> tuple[np.ndarray, np.ndarray]:
        images = _read(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"), 16).reshape(-1, 784)
        labels = _read(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"), 8)
        return images.astype(np.float32) / 255.0, np.eye(10, dtype=np.float32)[labels]

    (x, y), test = part("train"), part("t10k")
    return {"train": (x[:55000], y[:55000]), "validation": (x[55000:], y[55000:]), "test": test}
