"""Reader and writer for the IDX files that MNIST and Fashion-MNIST ship in.

Format (all integers big-endian uint32):

* images (``*-images-idx3-ubyte``): magic 2051, count, rows, cols, then
  ``count * rows * cols`` unsigned bytes, row-major;
* labels (``*-labels-idx1-ubyte``): magic 2049, count, then ``count`` bytes.

Files may be gzip-compressed (detected by content, not by name). Every check
failure raises :class:`dlfund.errors.DataError` naming the file, so a reader sees
which file is broken and why instead of a NumPy reshape error.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

from dlfund.errors import DataError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: str) -> bytes:
    """Returns the (decompressed) content of ``path``; raises DataError if unreadable."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path}: corrupt gzip data ({e}); delete the file and download it again") from None
    return raw


def _header(path: str, raw: bytes, magic: int, ndims: int) -> tuple[int, ...]:
    size = 4 * (1 + ndims)
    if len(raw) < size:
        raise DataError(f"{path}: too short for an IDX header ({len(raw)} bytes, need {size})")
    fields = struct.unpack(f">{1 + ndims}I", raw[:size])
    if fields[0] != magic:
        kind = "image" if magic == IMAGES_MAGIC else "label"
        raise DataError(f"{path}: wrong magic number {fields[0]} (an IDX {kind} file starts with {magic})")
    return fields[1:]


def read_idx_images(path: str) -> np.ndarray:
    """Reads an IDX image file.

    Args:
        path: file path, gzip-compressed or not.

    Returns:
        uint8 array of shape [count, rows, cols].

    Raises:
        DataError: the file is missing, not IDX images, or its length does not
            match its header.
    """
    raw = _read_bytes(path)
    count, rows, cols = _header(path, raw, IMAGES_MAGIC, 3)
    if rows == 0 or cols == 0:
        raise DataError(f"{path}: image size {rows}x{cols} in the header is empty")
    expected = 16 + count * rows * cols
    if len(raw) != expected:
        raise DataError(
            f"{path}: length {len(raw)} bytes does not match the header "
            f"({count} images of {rows}x{cols} need {expected} bytes); the file is truncated or not IDX")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows, cols)


def read_idx_labels(path: str) -> np.ndarray:
    """Reads an IDX label file.

    Args:
        path: file path, gzip-compressed or not.

    Returns:
        uint8 array of shape [count].

    Raises:
        DataError: the file is missing, not IDX labels, or its length does not
            match its header.
    """
    raw = _read_bytes(path)
    (count,) = _header(path, raw, LABELS_MAGIC, 1)
    if len(raw) != 8 + count:
        raise DataError(
            f"{path}: length {len(raw)} bytes does not match the header "
            f"({count} labels need {8 + count} bytes); the file is truncated or not IDX")
    return np.frombuffer(raw, dtype=np.uint8, offset=8)


def _write(path: str, header: bytes, body: np.ndarray, compress: bool | None) -> None:
    if compress is None:
        compress = path.endswith(".gz")
    data = header + np.ascontiguousarray(body, dtype=np.uint8).tobytes()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        # mtime=0 keeps the compressed bytes reproducible.
        f.write(gzip.compress(data, compresslevel=9, mtime=0) if compress else data)
    os.replace(tmp, path)


def write_idx_images(path: str, images: np.ndarray, compress: bool | None = None) -> None:
    """Writes uint8 images [count, rows, cols] as an IDX file (gzip if the name ends in .gz)."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape [count, rows, cols], got {images.shape}")
    _write(path, struct.pack(">4I", IMAGES_MAGIC, *images.shape), images, compress)


def write_idx_labels(path: str, labels: np.ndarray, compress: bool | None = None) -> None:
    """Writes uint8 labels [count] as an IDX file (gzip if the name ends in .gz)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must have shape [count], got {labels.shape}")
    _write(path, struct.pack(">2I", LABELS_MAGIC, labels.shape[0]), labels, compress)
