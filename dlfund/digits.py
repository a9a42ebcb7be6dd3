"""Turning a reader's own image of a digit into an MNIST-style input (for ``chapter5.predict``).

MNIST digits were made like this (LeCun et al.): white ink on black, the digit's
bounding box scaled to fit a 20x20 box with its aspect ratio kept, then placed
in a 28x28 frame so that its centre of mass is at the frame's centre.
:func:`mnist_like` repeats those steps on any photo or scan:

1. decode (PNG, JPEG, GIF, BMP, with TensorFlow's own decoders) and convert to
   grayscale in [0, 1];
2. if the background is light (the border is mostly bright), invert, since
   MNIST is light ink on a dark background;
3. crop to the bounding box of the ink (pixels above ``ink_threshold``);
4. resize (area averaging) so the longer side is 20 pixels;
5. paste into a 28x28 frame with the centre of mass at the centre.

The functions here run eagerly (call them outside any ``Graph.as_default()``).
"""

from __future__ import annotations

import os
import re
import struct

import numpy as np
import tensorflow as tf

from dlfund.errors import DataError

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 40_000_000
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


def _declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from an image header without decoding, or None if unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return abs(w), abs(h)
    if data[:2] == b"\xff\xd8":
        try:
            h, w, _ = tf.io.extract_jpeg_shape(data).numpy()
            return int(w), int(h)
        except (tf.errors.OpError, ValueError):
            return None
    return None


def load_grayscale(path: str) -> np.ndarray:
    """Decodes an image file into grayscale float32 [height, width] in [0, 1].

    Raises:
        DataError: missing, empty, too large, not an image, or truncated; the
            message names the file.
    """
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise DataError(f"{path}: {size / 1e6:.0f} MB is too large for a digit image "
                            f"(limit {MAX_FILE_BYTES // 2**20} MB)")
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if not data:
        raise DataError(f"{path}: empty file")
    declared = _declared_size(data)
    if declared is None:
        raise DataError(f"{path}: not a PNG, JPEG, GIF or BMP image")
    if declared[0] * declared[1] > MAX_PIXELS or 0 in declared:
        raise DataError(f"{path}: {declared[0]}x{declared[1]} pixels is not a usable digit image "
                        f"(limit {MAX_PIXELS // 1_000_000} megapixels)")
    try:
        image = tf.io.decode_image(data, channels=0, expand_animations=False).numpy()
    except (tf.errors.OpError, ValueError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        reason = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", reason)
        raise DataError(f"{path}: cannot decode the image (truncated or corrupt: {reason[:120]})") from None
    return to_grayscale(image)


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """uint8 [h, w, c] (c = 1, 2, 3 or 4) -> float32 [h, w] in [0, 1]; transparency becomes white paper."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    x = image.astype(np.float32) / 255.0
    channels = x.shape[2]
    alpha = None
    if channels in (2, 4):
        alpha, x = x[:, :, -1:], x[:, :, :-1]
    # ITU-R BT.601 luma, the weights tf.image.rgb_to_grayscale uses.
    gray = x[:, :, 0] if x.shape[2] == 1 else x @ np.array([0.2989, 0.587, 0.114], np.float32)
    if alpha is not None:
        gray = gray * alpha[:, :, 0] + (1.0 - alpha[:, :, 0])
    return gray.astype(np.float32)


def mnist_like(gray: np.ndarray, size: int = 28, box: int = 20, ink_threshold: float = 0.2) -> np.ndarray:
    """MNIST-style preprocessing of a grayscale digit (steps 2-5 of the module doc).

    Args:
        gray: float32 [h, w] in [0, 1].
        size: output side (28 for MNIST).
        box: side of the box the digit is scaled into (20 for MNIST).
        ink_threshold: after inversion, pixels above this are ink.

    Returns:
        float32 [size, size] in [0, 1], light digit on black.

    Raises:
        DataError: the image has no ink (it is blank).
    """
    x = np.asarray(gray, dtype=np.float32)
    border = np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
    if np.median(border) > 0.5:
        x = 1.0 - x
    ink = x > ink_threshold
    if not ink.any():
        raise DataError("no digit found: the image is blank")
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    x = x[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = x.shape
    scale = box / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = tf.image.resize(x[:, :, None], [new_h, new_w], method="area").numpy()[:, :, 0]
    resized = np.clip(resized, 0.0, 1.0)
    total = resized.sum()
    ys, xs = np.indices(resized.shape)
    cy, cx = (ys * resized).sum() / total, (xs * resized).sum() / total
    top, left = int(round(size / 2 - cy - 0.5)), int(round(size / 2 - cx - 0.5))
    top = min(max(top, 0), size - new_h)
    left = min(max(left, 0), size - new_w)
    out = np.zeros((size, size), np.float32)
    out[top:top + new_h, left:left + new_w] = resized
    return out


def list_images(paths: list) -> list:
    """Expands directories into their image files (sorted); files are kept as given."""
    found = []
    for p in paths:
        if os.path.isdir(p):
            found.extend(sorted(os.path.join(p, n) for n in os.listdir(p) if n.lower().endswith(IMAGE_EXTENSIONS)))
        else:
            found.append(p)
    return found
