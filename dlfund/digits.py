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

1. decode with Pillow (PNG, JPEG, GIF, BMP, WebP, AVIF; HEIC through
   pillow-heif; 16-bit, palette, grey with alpha, CMYK too) into RGB in [0, 1],
   turned as the file's EXIF orientation says (as a viewer shows it: phones
   store the sensor's pixels and the tag), a drawing on a transparent
   background taken as its opacity (white ink on black, whatever the ink's
   colour), large pictures reduced to :data:`WORK_SIZE` pixels on their
   longer side (:func:`decode_image`);
   ``mnist_form``: a picture already in MNIST's form (light ink on an exactly
   black background: MNIST's own digits as files, a drawing on transparency;
   or dark ink on an exactly white one, a drawing app's canvas) is taken as
   its own ink map and changed no more than MNIST's recipe requires (step 8
   only; a 28x28 one whose digit already fits and is centred: not at all);
   steps 2-7 are for photos and scans;
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

The filters, labels and centres of mass are ``scipy.ndimage``'s; nothing here
uses TensorFlow, so these functions can be called anywhere, in any thread.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import warnings
from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from dlfund.errors import DataError

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 40_000_000
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".heic", ".heif", ".avif")

#: The formats :func:`decode_image` reads, as its messages name them.
FORMATS = "PNG, JPEG, GIF, BMP, WebP, HEIC or AVIF"

#: Longer side, in pixels, that pictures are reduced to before the steps below.
WORK_SIZE = 320

#: The preprocessing steps after decoding, in order; each can be left out of :func:`mnist_like`.
STEPS = ("mnist_form", "polarity", "local_background", "colour", "components", "stretch", "stroke_width")

#: Luminance of RGB (ITU-R BT.601 weights), the brightness a grey picture of the same scene would have.
LUMA = np.array([0.2989, 0.587, 0.114], np.float32)

#: MNIST's stroke width relative to the longer side of a digit's box: 2 * area / perimeter of the ink
#: (pixels above 0.5) over the box side; the median over the bundled sample's training digits is 0.14.
MNIST_STROKE = 0.14

#: ISO base-media brands (bytes 8-12 of the file) of HEIF photos (iPhone: ``heic``) and of AVIF pictures.
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
AVIF_BRANDS = (b"avif", b"avis")


def load_image(path: str) -> np.ndarray:
    """Reads an image file into RGB float32 [height, width, 3] in [0, 1] (:func:`decode_image`).

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
    return decode_image(data, path)


def decode_image(data: bytes, name: str) -> np.ndarray:
    """Decodes a picture's bytes into RGB float32 [height, width, 3] in [0, 1], upright as a viewer shows it.

    Pillow decodes it (PNG, JPEG, GIF, BMP, WebP and AVIF; HEIC through
    pillow-heif) and ``ImageOps.exif_transpose`` turns it as its EXIF
    orientation says: phones store the sensor's pixels and a tag for how to
    turn them. The size is checked from the header before anything is decoded;
    a large JPEG is decoded at a reduced scale (``Image.draft``, in the DCT)
    when it is at least twice :data:`WORK_SIZE` on both sides, since the steps
    below reduce it to that anyway. A drawing on a transparent background
    becomes its opacity (:func:`to_rgb`).

    Args:
        data: the file's bytes.
        name: what the messages call it (the file's path, or "the picture sent").

    Raises:
        DataError: empty, too large, not a picture, or truncated; the message
            starts with ``name``.
    """
    if not data:
        raise DataError(f"{name}: empty file")
    if len(data) > MAX_FILE_BYTES:
        raise DataError(f"{name}: {len(data) / 1e6:.0f} MB is too large for a digit image "
                        f"(limit {MAX_FILE_BYTES // 2**20} MB)")
    _register_heif()
    try:
        with _exif_quiet():
            im = Image.open(io.BytesIO(data))  # lazy: the header only
        with im:
            width, height = im.size
            if width * height > MAX_PIXELS or 0 in im.size:
                raise DataError(f"{name}: {width}x{height} pixels is not a usable digit image "
                                f"(limit {MAX_PIXELS // 1_000_000} megapixels)")
            if im.format == "JPEG":
                im.draft(im.mode, (WORK_SIZE, WORK_SIZE))
            im.load()
            return to_rgb(_pixels(_upright(im)))
    except UnidentifiedImageError:
        raise DataError(f"{name}: {_not_readable(data)}") from None
    except Image.DecompressionBombError:  # Pillow's own guard, at many times our limit: refused before ours
        raise DataError(f"{name}: too many pixels for a digit image (limit {MAX_PIXELS // 1_000_000} "
                        "megapixels)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        reason = (str(e).splitlines() or [type(e).__name__])[0]
        raise DataError(f"{name}: cannot decode the image (truncated or corrupt: {reason[:120]})") from None


#: Serializes :func:`_exif_quiet` (``warnings.catch_warnings`` changes process-wide state).
_EXIF_LOCK = threading.Lock()


@contextlib.contextmanager
def _exif_quiet() -> Iterator[None]:
    """Pillow's "Corrupt EXIF data" warnings not shown, while it opens a file and reads its EXIF.

    A damaged EXIF block is no reason to refuse a picture whose pixels are
    fine: it is read as stored, and a reader is not warned about a block they
    cannot see.
    """
    with _EXIF_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _upright(im: Image.Image) -> Image.Image:
    """``im`` turned as its EXIF orientation says; as stored if the tag is missing, unknown or unreadable."""
    with _exif_quiet():
        try:
            return ImageOps.exif_transpose(im)
        except (OSError, ValueError, SyntaxError, KeyError, TypeError, IndexError):
            return im


def _register_heif() -> None:
    """Lets Pillow open HEIC photos: pillow-heif adds its opener to Pillow's registry (once per process).

    pillow-heif applies the photo's own rotation (``irot``/``imir``) and resets
    its EXIF orientation to 1, so ``exif_transpose`` does not turn it twice.
    """
    if "HEIF" in Image.OPEN:
        return
    try:
        import pillow_heif
    except ImportError:
        return  # _not_readable names what is missing
    pillow_heif.register_heif_opener()


def _not_readable(data: bytes) -> str:
    """Why Pillow could not open ``data``: a format whose library is missing, a damaged file, or not a picture.

    A file that starts as a format Pillow knows (by that format's own test of
    the first bytes) but cannot be opened is damaged, e.g. cut off after its
    header.
    """
    brand = data[8:12] if data[4:8] == b"ftyp" else b""
    if brand in HEIF_BRANDS and "HEIF" not in Image.OPEN:
        return "a HEIC photo: reading it needs pillow-heif (pip install pillow-heif)"
    if brand in AVIF_BRANDS and "AVIF" not in Image.OPEN:
        return "an AVIF picture: this Pillow cannot read AVIF (pip install -U pillow)"
    known = [name for name, (_, accept) in Image.OPEN.items() if accept is not None and accept(data[:16])]
    if known:
        return f"cannot decode the image (a truncated or corrupt {known[0]} file)"
    return f"not a {FORMATS} image"


def _pixels(im: Image.Image) -> np.ndarray:
    """The decoded pixels for :func:`to_rgb`: uint8 grey, grey+alpha, RGB or RGBA; 16-bit grey as float [0, 1].

    Palette pictures (GIF, PNG) become RGB, or RGBA where they mark a
    transparent colour; CMYK becomes RGB by Pillow's conversion.
    """
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return np.clip(np.asarray(im, np.float32) / (65535.0 if im.mode != "F" else 1.0), 0.0, 1.0)
    alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    grey = im.mode in ("1", "L", "LA", "La")
    return np.asarray(im.convert(("LA" if alpha else "L") if grey else ("RGBA" if alpha else "RGB")))


def to_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 [h, w] or [h, w, c] (c = 1, 2, 3 or 4), or float in [0, 1] -> float32 RGB [h, w, 3] in [0, 1].

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


def _window(x: np.ndarray, k: int) -> tuple:
    """A k x k window over the rows and columns of [h, w] or [h, w, c] (channels kept apart)."""
    return (k, k) if x.ndim == 2 else (k, k, 1)


def _max_filter(x: np.ndarray, k: int) -> np.ndarray:
    """Grey-scale dilation of float [h, w] or [h, w, c] by a k x k square; pixels beyond the edge are ignored."""
    return x if k <= 1 else ndimage.maximum_filter(x, _window(x, k), mode="nearest")


def _min_filter(x: np.ndarray, k: int) -> np.ndarray:
    """Grey-scale erosion by a k x k square (as :func:`_max_filter`)."""
    return x if k <= 1 else ndimage.minimum_filter(x, _window(x, k), mode="nearest")


def _box_blur(x: np.ndarray, k: int) -> np.ndarray:
    """The mean over a k x k square (k odd), the picture mirrored beyond its edge."""
    return x if k <= 1 else ndimage.uniform_filter(x, _window(x, k), mode="reflect")


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """float32 [n_out, n_in]: each output pixel the mean of the input it covers, fractions of pixels included."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    pixel = np.arange(n_in)[None, :]
    overlap = np.minimum(edges[1:, None], pixel + 1) - np.maximum(edges[:-1, None], pixel)
    return (np.clip(overlap, 0.0, None) * (n_out / n_in)).astype(np.float32)


def area_resize(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resizes float [h, w] or [h, w, c] by area averaging, as ``tf.image.resize(method="area")`` does.

    Area averaging is separable, so it is two small matrix products here: the
    same numbers as TensorFlow's (to float rounding) without an eager op per
    call, which cost more than the arithmetic on a digit. Pillow's ``BOX``
    filter weights whole pixels only, not the fractions at an area's edges.
    """
    rows, cols = _area_matrix(x.shape[0], height), _area_matrix(x.shape[1], width)
    if x.ndim == 2:
        return rows @ x @ cols.T
    return np.stack([rows @ x[:, :, i] @ cols.T for i in range(x.shape[2])], axis=2)


def _reduce(rgb: np.ndarray, longest: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= longest:
        return rgb
    scale = longest / max(h, w)
    return area_resize(rgb, max(1, round(h * scale)), max(1, round(w * scale)))


def _is_grey(rgb: np.ndarray) -> bool:
    """Whether the red, green and blue of every pixel of float RGB [h, w, 3] are equal."""
    return np.array_equal(rgb[:, :, 0], rgb[:, :, 1]) and np.array_equal(rgb[:, :, 0], rgb[:, :, 2])


def _light_ink(lum: np.ndarray) -> bool:
    """Whether the ink is lighter than the paper (chalk on a board) rather than darker.

    The paper covers most of the picture, so the median is paper. A clearly dark
    or light median decides; in between, the ink is on the side where the most
    extreme pixels lie farther from the paper.
    """
    lo, median, hi = np.percentile(_sample(lum), [0.5, 50, 99.5])
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
    # A grey picture's three channels are one: its contrast is the same in each (and in luminance).
    channels = rgb if "colour" in steps and not _is_grey(rgb) else lum[:, :, None]
    if "local_background" in steps:
        # The paper at every pixel: anything dark narrower than the window (strokes, a border band
        # at the picture's edge) vanishes under a closing; smoothing keeps lighting's slow changes.
        paper = _paper(channels)
    else:
        paper = np.median(channels.reshape(-1, channels.shape[2]), axis=0)[None, None, :]
    contrast = np.clip(1.0 - channels / np.maximum(paper, 1e-3), 0.0, 1.0)
    paper_lum = paper.mean(axis=2)
    light = paper_lum / max(float(np.median(_sample(paper_lum))), 1e-3) * np.ones(rgb.shape[:2])
    if contrast.shape[2] == 1:
        return contrast[:, :, 0].astype(np.float32), light.astype(np.float32)
    # Each channel weighted by its signal-to-noise ratio squared (the best linear combination for
    # independent noise): grey ink averages the three, red ink on pink paper leans on green and blue.
    sample = np.ascontiguousarray(_sample(contrast).reshape(-1, contrast.shape[2]).T)  # a row per channel
    level, top = np.percentile(sample, [50, 99.5], axis=1)
    noise = 1.4826 * np.median(np.abs(sample - level[:, None]), axis=1) + 1e-3
    signal = np.maximum(top - level, 1e-3)
    weights = (signal / noise) ** 2
    return (contrast @ (weights / weights.sum())).astype(np.float32), light.astype(np.float32)


def _paper(channels: np.ndarray) -> np.ndarray:
    """The paper's brightness at every pixel of float [h, w, c]: a closing wider than any stroke, smoothed.

    Anything dark narrower than the window (a third of the picture: strokes, a
    border band at its edge) vanishes under the closing; the smoothing keeps
    lighting's slow changes. The closing is computed on a copy reduced to about
    100 pixels on its shorter side, then scaled back and smoothed at full size:
    the paper is as smooth as the window, so this loses nothing there, at a
    fraction of the work.
    """
    h, w = channels.shape[:2]
    k = max(9, min(h, w) // 3) | 1
    f = max(1, min(h, w) // 100)
    if f == 1:
        return _box_blur(_min_filter(_max_filter(channels, k), k), k // 2 | 1)
    small = sum(channels[i:h // f * f:f, j:w // f * f:f] for i in range(f) for j in range(f)) / f**2  # f x f blocks
    closed = np.repeat(np.repeat(_min_filter(_max_filter(small, k // f | 1), k // f | 1), f, axis=0), f, axis=1)
    closed = np.pad(closed, ((0, h - closed.shape[0]), (0, w - closed.shape[1]), (0, 0)), mode="edge")
    return _box_blur(closed, k // 2 | 1)


def _sample(x: np.ndarray, pixels: int = 20_000) -> np.ndarray:
    """A regular subsample of [h, w, ...] of about ``pixels`` pixels, for medians and percentiles."""
    step = max(1, round((x.shape[0] * x.shape[1] / pixels) ** 0.5))
    return x[::step, ::step]


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
    sample, ink_sample = _sample(dark), _sample(ink)
    level, top = np.percentile(sample, [50, 99.5])
    noise = 1.4826 * float(np.median(np.abs(sample - level)))
    candidates = dark > level + max(5 * noise, 0.3 * (top - level), 0.04)
    ink_level = float(np.median(ink_sample))
    return candidates, ink_level, 1.4826 * float(np.median(np.abs(ink_sample - ink_level)))


def stretch(ink: np.ndarray, mask: np.ndarray, level: float, noise: float) -> np.ndarray:
    """Maps the paper (its level plus its noise) to 0 and the digit's typical ink to 1 (step 6)."""
    low = level + 3 * noise
    high = max(float(np.percentile(ink[mask], 80)) if mask.any() else 1.0, low + 1e-3)
    return np.clip((ink - low) / (high - low), 0.0, 1.0)


def digit_mask(candidates: np.ndarray) -> np.ndarray:
    """The pixels that belong to the digit: bool [h, w] (step 5).

    Pieces of candidate ink (8-connected, after closing gaps of a pixel or
    two, so that a faint stroke broken by noise stays one piece) touching the
    picture's edge, or whose box encloses another large piece (a frame), are
    dropped; of the rest, the largest is the digit, with the pieces at least a
    tenth its size that lie near it (a 5's bar, a 4's second stroke).
    """
    joined = ndimage.maximum_filter(candidates.view(np.uint8), 3) > 0
    labels, count = ndimage.label(joined, np.ones((3, 3), int))  # 8-connected
    labels = np.where(candidates, labels, 0)
    h, w = candidates.shape
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    pieces = [dict(i=i, size=int(sizes[i]), box=(s[0].start, s[0].stop - 1, s[1].start, s[1].stop - 1))
              for i, s in enumerate(ndimage.find_objects(labels, count), 1) if s is not None]
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
    chosen = np.zeros(count + 1, bool)
    chosen[keep] = True
    return chosen[labels]


def _stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: 2 * area / perimeter of the mask (the pixels with a 4-neighbour outside it).

    The erosion by the 4-neighbour cross is written as four shifted ANDs:
    the same pixels as ``ndimage.binary_erosion(mask, border_value=0)``, several
    times faster on a digit's crop (docs/digits.md), on the drawing page's path.
    """
    inner = np.zeros_like(mask)
    inner[1:-1, 1:-1] = mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
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


def mnist_like(image: np.ndarray, size: int = 28, box: int = 20, steps: Sequence[str] = STEPS,
               trace: dict | None = None) -> np.ndarray:
    """MNIST-style preprocessing of a picture of a digit (steps 2-8 of the module doc).

    Args:
        image: RGB [h, w, 3] or grey [h, w], float in [0, 1] or uint8.
        size: output side (28 for MNIST).
        box: side of the box the digit is scaled into (20 for MNIST).
        steps: which of :data:`STEPS` to apply (all by default).
        trace: a dict to fill with what step 8 did, for showing it (the drawing
            page): ``ink`` (the ink map, [h', w'] at the working size), ``box``
            (the ink's box in it, [top, left, bottom, right) exclusive), ``crop``,
            ``strokes`` (after the stroke width step), ``fitted`` (resized into
            ``box`` x ``box``), and ``frame``: (origin_row, origin_col,
            rows_per_pixel, cols_per_pixel) such that pixel edge (i, j) of the
            output lies at (origin_row + i * rows_per_pixel, origin_col + j *
            cols_per_pixel) in the picture as given. Left as it is for a picture
            already in MNIST's form at ``size`` x ``size`` (``frame`` the identity).

    Returns:
        float32 [size, size] in [0, 1], light digit on an exactly black background.

    Raises:
        DataError: no digit found (the picture is blank).
    """
    original = to_rgb(image)
    rgb = _reduce(original, WORK_SIZE)
    if trace is not None:
        trace["reduced_by"] = original.shape[0] / rgb.shape[0], original.shape[1] / rgb.shape[1]
        trace["frame"] = (0.0, 0.0, original.shape[0] / size, original.shape[1] / size)
    form = in_mnist_form(rgb, size, box) if "mnist_form" in steps else None
    if form is not None:
        ink, as_it_stands = form
        return ink if as_it_stands else _crop_and_fit(ink, ink > 0.1, steps, size, box, trace)
    ink, light = ink_map(rgb, steps)
    candidates, level, noise = candidate_ink(ink, light)
    mask = digit_mask(candidates) if "components" in steps else candidates
    if "stretch" in steps:
        ink = stretch(ink, mask, level, noise)
    ink = np.where(ndimage.maximum_filter(mask.view(np.uint8), 3) > 0, ink, 0.0)  # the digit and its soft edge
    return _crop_and_fit(ink, mask, steps, size, box, trace)


def in_mnist_form(rgb: np.ndarray, size: int = 28, box: int = 20) -> tuple[np.ndarray, bool] | None:
    """A picture already made as MNIST's digits are, as its ink map (the ``mnist_form`` step of :data:`STEPS`).

    That is light ink on an exactly black background with nothing else on it:
    MNIST's own digits saved as files, a drawing on a transparent background
    (:func:`to_rgb` lays light ink on black), a dark-mode drawing app's black
    canvas; or the same inverted, dark ink on an exactly white background (a
    drawing app's white canvas). Such a picture needs no paper estimated, no
    polarity, no contrast stretched: its brightness (inverted on white) is the
    ink. A photo or a scan never has exactly black or white paper.

    Args:
        rgb: float RGB [h, w, 3] in [0, 1].
        size, box: MNIST's frame and box sides.

    Returns:
        None for any other picture; else (float32 ink [h, w] in [0, 1], whether
        it is MNIST's input as it stands: ``size`` x ``size``, the digit fitting
        ``box`` and centred by its centre of mass, so that the recipe has nothing
        left to do).
    """
    lum = rgb[:, :, 0] if _is_grey(rgb) else rgb @ LUMA  # grey: its values as stored
    border = np.concatenate([lum[0], lum[-1], lum[:, 0], lum[:, -1]])
    if np.percentile(border, 5) >= 0.9:  # on white: the same test for the inverted picture
        lum, border = 1.0 - lum, 1.0 - border
    if np.percentile(border, 95) > 0.1 or np.percentile(lum, 40) > 0.02 or lum.max() <= 0.3:
        return None
    ink = np.clip(lum, 0.0, 1.0).astype(np.float32)
    if ink.shape != (size, size):
        return ink, False
    rows, cols = np.flatnonzero((ink > 0.1).any(axis=1)), np.flatnonzero((ink > 0.1).any(axis=0))
    centre = np.array(ndimage.center_of_mass(ink))
    fits = max(rows[-1] - rows[0], cols[-1] - cols[0]) < box + 2
    return ink, bool(fits and np.abs(centre - (size - 1) / 2).max() < 1.5)


def _crop_and_fit(ink: np.ndarray, mask: np.ndarray, steps: Sequence[str], size: int, box: int,
                  trace: dict | None = None) -> np.ndarray:
    """Steps 7-8: the digit cropped to its ink, strokes brought to MNIST's width, fitted and centred (:func:`_fit`).

    Raises:
        DataError: no digit in ``mask`` (the picture is blank).
    """
    if not mask.any() or ink.max() <= 0.05:
        raise DataError("no digit found: the image is blank")
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    x, mask = ink[crop], mask[crop]
    origin = [int(rows[0]), int(cols[0])]  # of x, in the ink map
    if trace is not None:
        trace.update(ink=ink, box=[int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1], crop=x)
    if "stroke_width" in steps:
        pad = max(x.shape) // 4  # room for thickened strokes
        normalized = normalize_stroke(np.pad(x, pad), np.pad(mask, pad))
        m = normalized > 0.2
        if m.any():
            r, c = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
            x = normalized[r[0]:r[-1] + 1, c[0]:c[-1] + 1]
            origin = [origin[0] - pad + int(r[0]), origin[1] - pad + int(c[0])]
    if trace is not None:
        trace["strokes"] = x
    return _fit(x, size, box, trace, origin)


def _fit(x: np.ndarray, size: int, box: int, trace: dict | None = None, origin: Sequence[int] = (0, 0)) -> np.ndarray:
    """Resize into ``box`` (aspect kept), centre of mass at the centre of a ``size`` frame, brightest ink 1.

    ``trace`` (see :func:`mnist_like`) gets ``fitted`` and ``frame``, ``x`` being at ``origin`` in the ink map."""
    h, w = x.shape
    scale = box / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = np.clip(area_resize(x, new_h, new_w), 0.0, 1.0)
    resized = resized / max(float(resized.max()), 1e-6)
    cy, cx = ndimage.center_of_mass(resized)
    top, left = int(round(size / 2 - cy - 0.5)), int(round(size / 2 - cx - 0.5))
    top = min(max(top, 0), size - new_h)
    left = min(max(left, 0), size - new_w)
    out = np.zeros((size, size), np.float32)
    out[top:top + new_h, left:left + new_w] = resized
    if trace is not None:
        down_r, down_c = trace.get("reduced_by", (1.0, 1.0))
        per_row, per_col = h / new_h, w / new_w
        trace.update(fitted=resized, frame=((origin[0] - top * per_row) * down_r, (origin[1] - left * per_col) * down_c,
                                            per_row * down_r, per_col * down_c))
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
