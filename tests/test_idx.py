"""IDX reader: exact values on files written here, and a clear error for every kind of broken file."""

import gzip
import struct

import numpy as np
import pytest

from dlfund.data import idx
from dlfund.errors import DataError


def _images(n=3, rows=4, cols=5):
    return (np.arange(n * rows * cols) % 256).astype(np.uint8).reshape(n, rows, cols)


@pytest.mark.parametrize("name", ["imgs-idx3-ubyte", "imgs-idx3-ubyte.gz"])
def test_images_round_trip_exact(tmp_path, name):
    path = str(tmp_path / name)
    idx.write_idx_images(path, _images())
    got = idx.read_idx_images(path)
    assert got.dtype == np.uint8 and got.shape == (3, 4, 5)
    np.testing.assert_array_equal(got, _images())


def test_header_is_big_endian_as_specified(tmp_path):
    path = str(tmp_path / "raw-idx3-ubyte")
    body = bytes(range(2 * 2 * 3))
    with open(path, "wb") as f:
        f.write(struct.pack(">4I", 2051, 3, 2, 2) + body)
    got = idx.read_idx_images(path)
    assert got.shape == (3, 2, 2)
    assert got[1, 0, 1] == 5 and got[2, 1, 1] == 11


def test_labels_round_trip_exact(tmp_path):
    path = str(tmp_path / "labels-idx1-ubyte.gz")
    labels = np.array([7, 2, 1, 0, 4], dtype=np.uint8)
    idx.write_idx_labels(path, labels)
    np.testing.assert_array_equal(idx.read_idx_labels(path), labels)
    with gzip.open(path) as f:
        assert f.read(8) == struct.pack(">2I", 2049, 5)


def _write_raw(tmp_path, name, data, compress=False):
    path = str(tmp_path / name)
    with open(path, "wb") as f:
        f.write(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize("data, message", [
    (struct.pack(">4I", 2049, 1, 2, 2) + b"\0" * 4, "wrong magic number 2049"),
    (struct.pack(">4I", 2051, 3, 2, 2) + b"\0" * 5, "does not match the header"),
    (struct.pack(">4I", 2051, 1, 2, 2) + b"\0" * 9, "does not match the header"),
    (struct.pack(">2I", 2051, 1), "too short for an IDX header"),
    (b"", "too short for an IDX header"),
    (struct.pack(">4I", 2051, 1, 0, 2), "empty"),
])
def test_broken_image_files_are_refused_by_name(tmp_path, data, message):
    path = _write_raw(tmp_path, "bad-images", data)
    with pytest.raises(DataError) as e:
        idx.read_idx_images(path)
    assert path in str(e.value) and message in str(e.value)


def test_broken_label_files_are_refused_by_name(tmp_path):
    path = _write_raw(tmp_path, "bad-labels.gz", struct.pack(">2I", 2049, 10) + b"\1" * 9, compress=True)
    with pytest.raises(DataError, match="does not match the header") as e:
        idx.read_idx_labels(path)
    assert path in str(e.value)
    path = _write_raw(tmp_path, "images-as-labels", struct.pack(">4I", 2051, 1, 1, 1) + b"\0")
    with pytest.raises(DataError, match="wrong magic number 2051"):
        idx.read_idx_labels(path)


def test_corrupt_gzip_and_missing_file(tmp_path):
    good = gzip.compress(struct.pack(">2I", 2049, 100) + b"\1" * 100)
    path = _write_raw(tmp_path, "cut.gz", good[: len(good) // 2])
    with pytest.raises(DataError, match="corrupt gzip") as e:
        idx.read_idx_labels(path)
    assert path in str(e.value)
    missing = str(tmp_path / "nope-idx1-ubyte.gz")
    with pytest.raises(DataError, match="file not found") as e:
        idx.read_idx_labels(missing)
    assert missing in str(e.value)
