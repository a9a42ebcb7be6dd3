"""Turning a reader's own picture of a digit into an MNIST-style input (for ``chapter5.predict``).

MNIST digits were made like this (LeCun et al.): white ink on a black
background (exactly 0), the digit's bounding box scaled to fit a 20x20 box with
its aspect ratio kept, then placed in a 28x28 frame so that its centre of mass
is at the frame's centre; strokes are about 2-3 pixels wide there and their
ink reaches 1. A photo of a digit on paper differs in every respect: the
paper is grey, not black, and lit unevenly; ink and paper may be coloured;
there is sensor noise, blur and JPEG ringing; the picture may show the
paper's edge or a box drawn around the digit; a thin pen gives strokes far
thinner than MNIST's. :func:`mnist_like` undoes this in steps (:data:`STEPS`),
each of which can be left out (``docs/digits.md`` measures what each adds):

1. decode (PNG, JPEG, GIF, BMP, with TensorFlow's decoders; 16-bit, palette,
   grey with alpha, CMYK too) into RGB in [0, 1], turned as the file's EXIF
   orientation says (as a viewer shows it: phones store the sensor's pixels and
   the tag), a drawing on a transparent background taken as its opacity (white
   ink on black, whatever the ink's colour), large pictures reduced to
   :data:`WORK_SIZE` pixels on their longer side;
   ``mnist_form``: a picture already in MNIST's form (light ink on an exactly
   black background: MNIST's own digits as files, a drawing on transparency) is
   taken as its own ink map and changed no more than MNIST's recipe requires
   (step 8 only; a 28x28 one whose digit already fits and is centred: not at
   all); steps 2-7 are for photos and scans;
2. ``polarity``: the paper covers most of the picture; if the ink is lighter
   than the paper (chalk on a board), the picture is inverted (otherwise: the
   rule used before, a dark border of the picture means light ink);
3. ``local_background``: the paper's brightness at every pixel, estimated by
   a closing (max then min filter) wider than any stroke, then smoothed; ink
   is measured relative to it, which removes uneven lighting (otherwise: one
   paper colour for the whole picture);
4. ``colour``: ink contrast is measured in each of the red, green and blue
   channels and they are combined, each weighted by how clearly it shows the
   ink above its noise, so red ink on pink paper or blue ink on yellow paper
   stands out (otherwise: luminance only);
5. ``components``: of the pixels that stand out from the paper's noise,
   connected pieces that touch the picture's edge (the table beyond the
   paper) or enclose the rest (a box drawn around the digit) are removed, as
   are specks far smaller than the digit (otherwise: all of them are kept);
   everything outside the digit is set to 0, as MNIST's background is;
6. ``stretch``: the paper's level and noise map to 0 and the digit's typical
   ink to 1, as MNIST's strokes reach 1 (otherwise: the contrast as measured);
7. ``stroke_width``: strokes are thickened (or thinned) so that their width
   relative to the digit's size is MNIST's;
8. crop to the ink, resize (area averaging) so the longer side is 20 pixels,
   and paste into a 28x28 frame with the centre of mass at the centre; the
   brightest ink is set to 1.

The functions here run eagerly (call them outside any ``Graph.as_default()``).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from dlfund.errors import DataError

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 40_000_000
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")

#: Longer side, in pixels, that pictures are reduced to before the steps below.
WORK_SIZE = 320

#: The preprocessing steps after decoding, in order; each can be left out of :func:`mnist_like`.
STEPS = ("mnist_form", "polarity", "local_background", "colour", "components", "stretch", "stroke_width")

#: Luminance of RGB (ITU-R BT.601 weights), the brightness a grey picture of the same scene would have.
LUMA = np.array([0.2989, 0.587, 0.114], np.float32)

#: MNIST's stroke width relative to the longer side of a digit's box: 2 * area / perimeter of the ink
#: (pixels above 0.5) over the box side; the median over the bundled sample's training digits is 0.14.
MNIST_STROKE = 0.14


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


#: EXIF orientation (2-8) -> what turns the stored pixels into the picture a viewer shows (1: as stored).
ORIENTATIONS = {
    2: lambda x: x[:, ::-1],                     # mirrored left-right
    3: lambda x: x[::-1, ::-1],                  # turned 180 degrees
    4: lambda x: x[::-1],                        # mirrored top-bottom
    5: lambda x: x.swapaxes(0, 1),               # transposed
    6: lambda x: np.rot90(x, -1),                # turned 90 degrees clockwise
    7: lambda x: x[::-1, ::-1].swapaxes(0, 1),   # transposed across the other diagonal
    8: lambda x: np.rot90(x, 1),                 # turned 90 degrees counter-clockwise
}


def exif_orientation(data: bytes) -> int:
    """The EXIF orientation (1-8) of a JPEG (APP1 ``Exif`` segment) or PNG (``eXIf`` chunk); 1 if none.

    Phones store the pixels as the sensor saw them and this tag for how to
    turn them; every viewer applies it, and so does :func:`load_image`. A tag
    that cannot be read counts as 1 (as stored).
    """
    tiff = _exif_block(data)
    try:
        order = {b"II": "<", b"MM": ">"}[tiff[:2]]
        (ifd,) = struct.unpack(order + "I", tiff[4:8])
        (count,) = struct.unpack(order + "H", tiff[ifd:ifd + 2])
        for i in range(count):
            tag, kind, _, value = struct.unpack(order + "HHIH", tiff[ifd + 2 + 12 * i: ifd + 12 + 12 * i])
            if tag == 0x0112 and kind == 3:  # Orientation, a SHORT
                return value if value in ORIENTATIONS else 1
    except (KeyError, TypeError, struct.error):
        pass
    return 1


def _exif_block(data: bytes) -> bytes | None:
    """The TIFF-structured EXIF data of a JPEG or PNG, or None."""
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 4 <= len(data) and data[i] == 0xFF and data[i + 1] not in (0xD9, 0xDA):  # up to the image data
            (length,) = struct.unpack(">H", data[i + 2:i + 4])
            if data[i + 1] == 0xE1 and data[i + 4:i + 10] == b"Exif\x00\x00":
                return data[i + 10:i + 2 + length]
            i += 2 + length
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        i = 8
        while i + 8 <= len(data):
            (length,) = struct.unpack(">I", data[i:i + 4])
            if data[i + 4:i + 8] == b"eXIf":
                return data[i + 8:i + 8 + length]
            i += 12 + length
    return None


def load_image(path: str) -> np.ndarray:
    """Decodes an image file into RGB float32 [height, width, 3] in [0, 1], turned as its EXIF orientation says.

    A transparent background becomes paper of the colour that sets the ink off
    (:func:`to_rgb`).

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
    orientation = exif_orientation(data)
    return to_rgb(ORIENTATIONS[orientation](image) if orientation != 1 else image)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 [h, w] or [h, w, c] (c = 1, 2, 3 or 4) -> float32 RGB [h, w, 3] in [0, 1].

    A drawing on a transparent background (a drawing app's export: its edge is
    transparent) is its opacity, whatever the ink's colour: it becomes white ink
    on black, MNIST's own form, so white ink is no more lost on white paper than
    dark ink on black. Other transparency is laid over white paper.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    x = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
    alpha = None
    if x.shape[2] in (2, 4):
        alpha, x = x[:, :, -1:], x[:, :, :-1]
    if x.shape[2] == 1:
        x = np.repeat(x, 3, axis=2)
    if alpha is None:
        return x
    edge = np.concatenate([alpha[0, :, 0], alpha[-1, :, 0], alpha[:, 0, 0], alpha[:, -1, 0]])
    if np.median(edge) < 0.5 and alpha.max() > 0.5:
        return np.repeat(alpha, 3, axis=2)
    return x * alpha + (1.0 - alpha)


def _max_filter(x: np.ndarray, k: int) -> np.ndarray:
    """Grey-scale dilation of float [h, w] or [h, w, c] by a k x k square (TF's max pooling, stride 1).

    A square's maximum is the maximum along its rows of the maxima along its columns: two k-wide
    passes instead of one k x k one.
    """
    if k <= 1:
        return x
    t = tf.constant(x[None] if x.ndim == 3 else x[None, :, :, None])
    out = tf.nn.max_pool2d(tf.nn.max_pool2d(t, [k, 1], 1, "SAME"), [1, k], 1, "SAME").numpy()[0]
    return out if x.ndim == 3 else out[:, :, 0]


def _min_filter(x: np.ndarray, k: int) -> np.ndarray:
    return -_max_filter(-x, k)


def _box_blur(x: np.ndarray, k: int) -> np.ndarray:
    if k <= 1:
        return x
    t = tf.constant(x[None] if x.ndim == 3 else x[None, :, :, None])
    pad = k // 2
    t = tf.pad(t, [[0, 0], [pad, k - 1 - pad], [pad, k - 1 - pad], [0, 0]], "SYMMETRIC")
    out = tf.nn.avg_pool2d(tf.nn.avg_pool2d(t, [k, 1], 1, "VALID"), [1, k], 1, "VALID").numpy()[0]
    return out if x.ndim == 3 else out[:, :, 0]


def _reduce(rgb: np.ndarray, longest: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= longest:
        return rgb
    scale = longest / max(h, w)
    return tf.image.resize(rgb, [max(1, round(h * scale)), max(1, round(w * scale))], method="area").numpy()


def _light_ink(lum: np.ndarray) -> bool:
    """Whether the ink is lighter than the paper (chalk on a board) rather than darker.

    The paper covers most of the picture, so the median is paper. A clearly dark
    or light median decides; in between, the ink is on the side where the most
    extreme pixels lie farther from the paper.
    """
    lo, median, hi = np.percentile(lum, [0.5, 50, 99.5])
    if median < 0.3 or median > 0.7:
        return median < 0.3
    return hi - median > median - lo


def ink_map(rgb: np.ndarray, steps: Sequence[str] = STEPS) -> tuple[np.ndarray, np.ndarray]:
    """How much darker than the paper around it each pixel is (steps 2-4).

    Args:
        rgb: float RGB [h, w, 3] in [0, 1].
        steps: which of :data:`STEPS` to apply.

    Returns:
        (ink: float32 [h, w], 0 on paper, the fraction of the paper's light the
        ink takes away; light: float32 [h, w], the paper's brightness relative
        to its typical brightness, 1 where it is lit as most of it is).
    """
    lum = rgb @ LUMA
    if "polarity" in steps and _light_ink(lum):
        rgb, lum = 1.0 - rgb, 1.0 - lum  # make the ink the dark part
    elif "polarity" not in steps and np.median(np.concatenate([lum[0], lum[-1], lum[:, 0], lum[:, -1]])) <= 0.5:
        rgb, lum = 1.0 - rgb, 1.0 - lum  # the old rule: a dark border means light ink
    channels = rgb if "colour" in steps else lum[:, :, None]
    if "local_background" in steps:
        # The paper at every pixel: anything dark narrower than the window (strokes, a border band
        # at the picture's edge) vanishes under a closing; smoothing keeps lighting's slow changes.
        k = max(9, min(rgb.shape[:2]) // 3) | 1
        paper = _box_blur(_min_filter(_max_filter(channels, k), k), k // 2 | 1)
    else:
        paper = np.median(channels.reshape(-1, channels.shape[2]), axis=0)[None, None, :]
    contrast = np.clip(1.0 - channels / np.maximum(paper, 1e-3), 0.0, 1.0)
    light = paper.mean(axis=2) / max(float(np.median(paper.mean(axis=2))), 1e-3) * np.ones(rgb.shape[:2])
    if contrast.shape[2] == 1:
        return contrast[:, :, 0].astype(np.float32), light.astype(np.float32)
    # Each channel weighted by its signal-to-noise ratio squared (the best linear combination for
    # independent noise): grey ink averages the three, red ink on pink paper leans on green and blue.
    level = np.median(contrast, axis=(0, 1))
    noise = 1.4826 * np.median(np.abs(contrast - level), axis=(0, 1)) + 1e-3
    signal = np.maximum(np.percentile(contrast, 99.5, axis=(0, 1)) - level, 1e-3)
    weights = (signal / noise) ** 2
    return (contrast @ (weights / weights.sum())).astype(np.float32), light.astype(np.float32)


def candidate_ink(ink: np.ndarray, light: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Pixels that stand out from the paper's noise: (bool mask, paper level, noise level of ``ink``).

    Where the paper is dim, the same sensor noise is a larger fraction of its
    light, so the test is made on ``ink * light`` (darkness in units of the
    typical paper), whose noise is the same everywhere. The paper covers most
    of the picture, so the median and the median absolute deviation of that
    map, lightly smoothed, are the paper's level and noise; ink is what lies
    clearly above them, and above a third of the strongest ink (so that JPEG
    ringing on clean paper is not taken for ink).
    """
    dark = _box_blur(ink * light, 3)
    level = float(np.median(dark))
    noise = 1.4826 * float(np.median(np.abs(dark - level)))
    strongest = float(np.percentile(dark, 99.5)) - level
    candidates = dark > level + max(5 * noise, 0.3 * strongest, 0.04)
    ink_level = float(np.median(ink))
    return candidates, ink_level, 1.4826 * float(np.median(np.abs(ink - ink_level)))


def stretch(ink: np.ndarray, mask: np.ndarray, level: float, noise: float) -> np.ndarray:
    """Maps the paper (its level plus its noise) to 0 and the digit's typical ink to 1 (step 6)."""
    low = level + 3 * noise
    high = max(float(np.percentile(ink[mask], 80)) if mask.any() else 1.0, low + 1e-3)
    return np.clip((ink - low) / (high - low), 0.0, 1.0)


def _label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a boolean mask: (int32 labels, 0 = background; their count).

    Works on runs of pixels within rows (a few per row for a digit), joined across neighbouring rows
    with a union-find, rather than pixel by pixel.
    """
    padded = np.pad(mask, ((0, 0), (1, 1))).astype(np.int8)
    edges = np.diff(padded, axis=1)
    rows_starts = [np.flatnonzero(edges[r] == 1) for r in range(mask.shape[0])]
    rows_ends = [np.flatnonzero(edges[r] == -1) - 1 for r in range(mask.shape[0])]  # inclusive
    parent, runs, previous = [], [], []
    for r, (starts, ends) in enumerate(zip(rows_starts, rows_ends, strict=True)):
        current = []
        j = 0
        for start, end in zip(starts, ends, strict=True):
            run = len(parent)
            parent.append(run)
            runs.append((r, start, end))
            current.append((start, end, run))
            while j < len(previous) and previous[j][1] < start - 1:
                j += 1
            k = j
            while k < len(previous) and previous[k][0] <= end + 1:  # overlaps, diagonals included
                a, b = _root(parent, run), _root(parent, previous[k][2])
                parent[max(a, b)] = min(a, b)
                k += 1
        previous = current
    labels = np.zeros(mask.shape, np.int32)
    ids = {}
    for run, (r, start, end) in enumerate(runs):
        labels[r, start:end + 1] = ids.setdefault(_root(parent, run), len(ids) + 1)
    return labels, len(ids)


def _root(parent: list, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def digit_mask(candidates: np.ndarray) -> np.ndarray:
    """The pixels that belong to the digit: bool [h, w] (step 5).

    Pieces of candidate ink (8-connected, after closing gaps of a pixel or
    two, so that a faint stroke broken by noise stays one piece) touching the
    picture's edge, or whose box encloses another large piece (a frame), are
    dropped; of the rest, the largest is the digit, with the pieces at least a
    tenth its size that lie near it (a 5's bar, a 4's second stroke).
    """
    joined = _max_filter(candidates.astype(np.float32), 3) > 0.5
    labels, count = _label(joined)
    labels = np.where(candidates, labels, 0)
    h, w = candidates.shape
    pieces = []
    for i in range(1, count + 1):
        rows, cols = np.nonzero(labels == i)
        if not rows.size:
            continue
        pieces.append(dict(i=i, size=rows.size, box=(rows.min(), rows.max(), cols.min(), cols.max())))
    inside = [p for p in pieces if p["box"][0] > 0 and p["box"][2] > 0 and p["box"][1] < h - 1 and p["box"][3] < w - 1]
    large = [p for p in inside if p["size"] >= 0.1 * max((q["size"] for q in inside), default=0)]

    def encloses(a, b):
        return a is not b and a["box"][0] < b["box"][0] and a["box"][1] > b["box"][1] and \
            a["box"][2] < b["box"][2] and a["box"][3] > b["box"][3]

    candidates = [p for p in large if not any(encloses(p, q) for q in large)] or inside or pieces
    if not candidates:
        return np.zeros_like(labels, bool)
    main = max(candidates, key=lambda p: p["size"])
    r0, r1, c0, c1 = main["box"]
    margin = 0.5 * max(r1 - r0, c1 - c0)
    keep = [p["i"] for p in candidates if p["size"] >= 0.1 * main["size"]
            and p["box"][0] <= r1 + margin and p["box"][1] >= r0 - margin
            and p["box"][2] <= c1 + margin and p["box"][3] >= c0 - margin]
    return np.isin(labels, keep)


def _stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: 2 * area / perimeter of the mask."""
    inner = mask.copy()
    inner[1:-1, 1:-1] = mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    inner[0], inner[-1], inner[:, 0], inner[:, -1] = False, False, False, False
    perimeter = int((mask & ~inner).sum())
    return 2.0 * mask.sum() / max(perimeter, 1)


def normalize_stroke(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Thickens or thins the strokes of a cropped digit towards MNIST's relative width (step 7)."""
    side = max(ink.shape)
    width = _stroke_width(mask)
    target = MNIST_STROKE * side
    if width < 0.7 * target:
        return _max_filter(ink, int(round(target - width)) | 1)
    if width > 1.6 * target:
        return _min_filter(ink, int(round(width - target)) | 1)
    return ink


def mnist_like(image: np.ndarray, size: int = 28, box: int = 20, steps: Sequence[str] = STEPS) -> np.ndarray:
    """MNIST-style preprocessing of a picture of a digit (steps 2-8 of the module doc).

    Args:
        image: RGB [h, w, 3] or grey [h, w], float in [0, 1] or uint8.
        size: output side (28 for MNIST).
        box: side of the box the digit is scaled into (20 for MNIST).
        steps: which of :data:`STEPS` to apply (all by default).

    Returns:
        float32 [size, size] in [0, 1], light digit on an exactly black background.

    Raises:
        DataError: no digit found (the picture is blank).
    """
    rgb = _reduce(to_rgb(image), WORK_SIZE)
    form = in_mnist_form(rgb, size, box) if "mnist_form" in steps else None
    if form is not None:
        ink, as_it_stands = form
        return ink if as_it_stands else _crop_and_fit(ink, ink > 0.1, steps, size, box)
    ink, light = ink_map(rgb, steps)
    candidates, level, noise = candidate_ink(ink, light)
    mask = digit_mask(candidates) if "components" in steps else candidates
    if "stretch" in steps:
        ink = stretch(ink, mask, level, noise)
    ink = np.where(_max_filter(mask.astype(np.float32), 3) > 0.5, ink, 0.0)  # the digit and its soft edge
    return _crop_and_fit(ink, mask, steps, size, box)


def in_mnist_form(rgb: np.ndarray, size: int = 28, box: int = 20) -> tuple[np.ndarray, bool] | None:
    """A picture already made as MNIST's digits are, as its ink map (the ``mnist_form`` step of :data:`STEPS`).

    That is light ink on an exactly black background with nothing else on it:
    MNIST's own digits saved as files, a drawing on a transparent background
    (:func:`to_rgb` lays light ink on black), a dark-mode drawing app's black
    canvas. Such a picture needs no paper estimated, no polarity, no contrast
    stretched: its brightness is the ink.

    Args:
        rgb: float RGB [h, w, 3] in [0, 1].
        size, box: MNIST's frame and box sides.

    Returns:
        None for any other picture; else (float32 ink [h, w] in [0, 1], whether
        it is MNIST's input as it stands: ``size`` x ``size``, the digit fitting
        ``box`` and centred by its centre of mass, so that the recipe has nothing
        left to do).
    """
    grey = np.array_equal(rgb[:, :, 0], rgb[:, :, 1]) and np.array_equal(rgb[:, :, 0], rgb[:, :, 2])
    lum = rgb[:, :, 0] if grey else rgb @ LUMA  # grey: its values as stored
    border = np.concatenate([lum[0], lum[-1], lum[:, 0], lum[:, -1]])
    if np.percentile(lum, 40) > 0.02 or np.percentile(border, 95) > 0.1 or lum.max() <= 0.3:
        return None
    ink = np.clip(lum, 0.0, 1.0).astype(np.float32)
    if ink.shape != (size, size):
        return ink, False
    rows, cols = np.flatnonzero((ink > 0.1).any(axis=1)), np.flatnonzero((ink > 0.1).any(axis=0))
    ys, xs = np.indices(ink.shape)
    centre = np.array([(ys * ink).sum(), (xs * ink).sum()]) / ink.sum()
    fits = max(rows[-1] - rows[0], cols[-1] - cols[0]) < box + 2
    return ink, bool(fits and np.abs(centre - (size - 1) / 2).max() < 1.5)


def _crop_and_fit(ink: np.ndarray, mask: np.ndarray, steps: Sequence[str], size: int, box: int) -> np.ndarray:
    """Steps 7-8: the digit cropped to its ink, strokes brought to MNIST's width, fitted and centred (:func:`_fit`).

    Raises:
        DataError: no digit in ``mask`` (the picture is blank).
    """
    if not mask.any() or ink.max() <= 0.05:
        raise DataError("no digit found: the image is blank")
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    x, mask = ink[crop], mask[crop]
    if "stroke_width" in steps:
        pad = max(x.shape) // 4  # room for thickened strokes
        normalized = normalize_stroke(np.pad(x, pad), np.pad(mask, pad))
        m = normalized > 0.2
        if m.any():
            r, c = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
            x = normalized[r[0]:r[-1] + 1, c[0]:c[-1] + 1]
    return _fit(x, size, box)


def _fit(x: np.ndarray, size: int, box: int) -> np.ndarray:
    """Resize into ``box`` (aspect kept), centre of mass at the centre of a ``size`` frame, brightest ink 1."""
    h, w = x.shape
    scale = box / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = np.clip(tf.image.resize(x[:, :, None], [new_h, new_w], method="area").numpy()[:, :, 0], 0.0, 1.0)
    resized = resized / max(float(resized.max()), 1e-6)
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
