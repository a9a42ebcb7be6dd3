"""Photo-like pictures of digits, made here, for testing and measuring ``dlfund.digits``.

Two kinds of digit shapes:

* rendered digits: strokes of four "fonts" (:data:`FONTS`: plain, with serifs and a closed 4, handwritten
  with a slant, an open 4 and a crossed 7, and a round one), drawn with anti-aliasing at a chosen width;
* handwritten digits: the bundled MNIST sample's *test* digits (which no model here trained on), enlarged.

Each is then "photographed" by :func:`photograph`: placed off-centre on a non-square page of some paper
colour in some ink colour, lit unevenly, blurred, given sensor noise and a border or a drawn frame, and
JPEG-compressed. :func:`rendered_forty` is 40 plain dark-on-light rendered digits (4 fonts x 10),
:func:`photo_set` the harder mixed set. Everything is drawn from a seeded generator: the same images every time.
"""

from __future__ import annotations

import io

import numpy as np
import tensorflow as tf

# --- glyphs: polylines in a unit box (x right, y down) ---------------------------------------------------


def _arc(cx, cy, rx, ry, start, end, n=24):
    """Points on an ellipse from angle ``start`` to ``end`` (degrees, 0 = right, 90 = down)."""
    t = np.radians(np.linspace(start, end, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t), strict=True))


def _glyph(digit: int, style: dict) -> list:
    """The strokes of ``digit`` in one font style."""
    r = style.get("round", 0.0)  # 0: narrow ovals, 1: round
    rx = 0.32 + 0.08 * r
    if digit == 0:
        return [_arc(0.5, 0.5, rx, 0.45, 0, 360, 40)]
    if digit == 1:
        strokes = [[(0.52, 0.05), (0.52, 0.95)]]
        if style.get("flag"):
            strokes.append([(0.52, 0.05), (0.3, 0.25)])
        if style.get("serif"):
            strokes.append([(0.32, 0.95), (0.72, 0.95)])
        return strokes
    if digit == 2:
        return [_arc(0.5, 0.3, rx, 0.25, 190, 370) + [(0.18, 0.95), (0.85, 0.95)]]
    if digit == 3:
        return [_arc(0.48, 0.28, 0.3, 0.23, 200, 450), _arc(0.48, 0.72, 0.33, 0.23, 270, 520)]
    if digit == 4:
        if style.get("open4"):
            return [[(0.25, 0.05), (0.18, 0.62), (0.85, 0.62)], [(0.68, 0.25), (0.68, 0.95)]]
        return [[(0.68, 0.95), (0.68, 0.05), (0.15, 0.65), (0.88, 0.65)]]
    if digit == 5:
        return [[(0.8, 0.05), (0.28, 0.05), (0.24, 0.45)] + _arc(0.5, 0.66, 0.32, 0.28, 215, 500)[:20]]
    if digit == 6:
        return [_arc(0.62, 0.55, 0.4, 0.5, 250, 180, 14) + _arc(0.5, 0.7, 0.3, 0.25, 180, 540)]
    if digit == 7:
        strokes = [[(0.15, 0.05), (0.85, 0.05), (0.38, 0.95)]]
        if style.get("bar7"):
            strokes.append([(0.38, 0.5), (0.78, 0.5)])
        return strokes
    if digit == 8:
        return [_arc(0.5, 0.27, 0.27, 0.22, 0, 360, 32), _arc(0.5, 0.72, 0.33, 0.23, 0, 360, 32)]
    if digit == 9:
        loop = _arc(0.5, 0.3, 0.3, 0.25, 0, 360, 32)
        tail = [(0.8, 0.3), (0.75, 0.95)] if style.get("straight9") else _arc(0.38, 0.3, 0.42, 0.65, 0, 90, 12)
        return [loop, tail]
    raise ValueError(digit)


#: Four fonts: each a set of glyph choices, a slant and an aspect (width / height of the digit).
FONTS = {
    "plain": dict(round=0.3, slant=0.0, aspect=0.62),
    "serif": dict(round=0.0, slant=0.0, aspect=0.55, flag=True, serif=True, straight9=True),
    "hand": dict(round=0.2, slant=0.18, aspect=0.6, flag=True, open4=True, bar7=True),
    "round": dict(round=1.0, slant=0.05, aspect=0.75, straight9=False),
}


def render(digit: int, font: str, height: int, width_px: float) -> np.ndarray:
    """Anti-aliased ink of a rendered digit: float32 [height, ~height * aspect] in [0, 1]."""
    style = FONTS[font]
    w = int(round(height * style["aspect"])) + int(width_px) + 4
    h = height + int(width_px) + 4
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    pad = width_px / 2 + 2
    dist = np.full((h, w), np.inf, np.float32)
    for stroke in _glyph(digit, style):
        pts = np.array(stroke, np.float32)
        x = pad + (pts[:, 0] + style["slant"] * (1 - pts[:, 1])) * (w - 2 * pad) / (1 + style["slant"])
        y = pad + pts[:, 1] * (h - 2 * pad)
        for (x0, y0), (x1, y1) in zip(zip(x[:-1], y[:-1], strict=True), zip(x[1:], y[1:], strict=True),
                                      strict=True):
            dx, dy = x1 - x0, y1 - y0
            t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / max(dx * dx + dy * dy, 1e-6), 0, 1)
            dist = np.minimum(dist, np.hypot(xs - x0 - t * dx, ys - y0 - t * dy))
    return np.clip(width_px / 2 - dist + 0.5, 0, 1).astype(np.float32)


def handwritten(image28: np.ndarray, height: int, width_scale: float = 1.0) -> np.ndarray:
    """An MNIST digit enlarged to ``height`` rows (its 28x28 frame included), strokes thinned or thickened."""
    big = tf.image.resize(image28[:, :, None], [height, height], method="bicubic").numpy()[:, :, 0]
    # MNIST's grey edge becomes a soft edge at the new size; width_scale < 1 thins the strokes.
    return np.clip((big - (1 - 0.5 * width_scale)) * 4 + 0.5, 0, 1).astype(np.float32)


# --- photographing ---------------------------------------------------------------------------------------

PAPERS = {"white": (0.97, 0.97, 0.96), "grey": (0.92, 0.92, 0.91), "cream": (0.96, 0.92, 0.78),
          "yellow": (0.98, 0.93, 0.55), "blue": (0.82, 0.88, 0.97), "pink": (0.98, 0.85, 0.88)}
INKS = {"black": (0.08, 0.08, 0.1), "pencil": (0.45, 0.45, 0.48), "blue": (0.12, 0.2, 0.65),
        "red": (0.75, 0.1, 0.12), "green": (0.1, 0.45, 0.2), "orange": (0.95, 0.55, 0.1)}


def photograph(ink: np.ndarray, rng: np.random.Generator, *, paper: str = "white", ink_colour: str = "black",
               gradient: float = 0.0, blur: float = 0.0, noise: float = 0.0, jpeg: int = 0,
               border: bool = False, frame: bool = False, light_on_dark: bool = False) -> np.ndarray:
    """A photo of ``ink`` (float [h, w] in [0, 1]) on paper: uint8 RGB [H, W, 3].

    Args:
        ink: the digit's ink coverage.
        rng: where the random placement, page size and lighting direction come from.
        paper, ink_colour: names in :data:`PAPERS` and :data:`INKS`.
        gradient: lighting falls off by this fraction across the page, in a random direction.
        blur: standard deviation of a Gaussian blur, in pixels.
        noise: standard deviation of sensor noise (0-1 scale).
        jpeg: JPEG quality (0: no compression).
        border: a dark band along one side (the table beyond the paper's edge).
        frame: a thin rectangle drawn around the digit.
        light_on_dark: chalk on a blackboard instead of ink on paper.
    """
    h, w = ink.shape
    page_h = int(h / rng.uniform(0.45, 0.7))
    page_w = int(page_h * rng.uniform(0.75, 1.5))
    page_w = max(page_w, w + 8)
    top, left = rng.integers(2, page_h - h - 1), rng.integers(2, page_w - w - 1)
    cover = np.zeros((page_h, page_w), np.float32)
    cover[top:top + h, left:left + w] = ink
    if frame:
        t, b = max(top - 6, 1), min(top + h + 6, page_h - 2)
        lft, rgt = max(left - 6, 1), min(left + w + 6, page_w - 2)
        cover[t:t + 2, lft:rgt] = cover[b - 2:b, lft:rgt] = 1
        cover[t:b, lft:lft + 2] = cover[t:b, rgt - 2:rgt] = 1
    paper_rgb, ink_rgb = np.array(PAPERS[paper]), np.array(INKS[ink_colour])
    if light_on_dark:
        paper_rgb, ink_rgb = np.array((0.15, 0.22, 0.18)), np.array((0.9, 0.9, 0.88))
    image = paper_rgb * (1 - cover[..., None]) + ink_rgb * cover[..., None]
    if border:
        side, width = rng.integers(4), int(min(page_h, page_w) * rng.uniform(0.05, 0.12))
        band = (slice(None, width), slice(None)) if side == 0 else (slice(-width, None), slice(None)) \
            if side == 1 else (slice(None), slice(None, width)) if side == 2 else (slice(None), slice(-width, None))
        image[band] = (0.2, 0.15, 0.12)
    if gradient:
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = np.mgrid[0:page_h, 0:page_w]
        ramp = (np.cos(angle) * xs / page_w + np.sin(angle) * ys / page_h)
        ramp = (ramp - ramp.min()) / max(ramp.max() - ramp.min(), 1e-6)
        image = image * (1 - gradient * ramp)[..., None]
    if blur:
        image = _gaussian_blur(image, blur)
    if noise:
        image = image + rng.normal(0, noise, image.shape)
    pixels = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    if jpeg:
        pixels = tf.io.decode_jpeg(tf.io.encode_jpeg(pixels, quality=jpeg)).numpy()
    return pixels


def _gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    radius = int(3 * sigma) + 1
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k = (k / k.sum()).astype(np.float32)
    x = tf.constant(image[None].astype(np.float32))
    channels = image.shape[2]
    kh = np.tile(k[:, None, None, None], (1, 1, channels, 1))
    kw = np.tile(k[None, :, None, None], (1, 1, channels, 1))
    x = tf.nn.depthwise_conv2d(tf.pad(x, [[0, 0], [radius, radius], [0, 0], [0, 0]], "SYMMETRIC"), kh,
                               [1, 1, 1, 1], "VALID")
    x = tf.nn.depthwise_conv2d(tf.pad(x, [[0, 0], [0, 0], [radius, radius], [0, 0]], "SYMMETRIC"), kw,
                               [1, 1, 1, 1], "VALID")
    return x.numpy()[0]


# --- the sets ----------------------------------------------------------------------------------------------


def rendered_forty(seed: int = 0) -> tuple[list, np.ndarray]:
    """40 rendered digits (4 fonts x 10), dark ink on light paper as a camera sees it (grey levels 200 to 245),
    off-centre, on non-square pictures, strokes from thin to bold; no other degradation."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for font in FONTS:
        for digit in range(10):
            height = int(rng.integers(70, 200))
            ink = render(digit, font, height, width_px=height * rng.uniform(0.02, 0.1))
            grey = rng.uniform(0.78, 0.96)
            PAPERS["camera"] = (grey, grey, grey * 0.98)
            images.append(photograph(ink, rng, paper="camera", ink_colour=str(rng.choice(["black", "pencil"]))))
            labels.append(digit)
    del PAPERS["camera"]
    return images, np.array(labels)


def photo_set(mnist_test_images: np.ndarray, mnist_test_labels: np.ndarray, n: int = 200,
              seed: int = 1) -> tuple[list, np.ndarray, list]:
    """``n`` photo-like digits, half rendered, half handwritten (MNIST test digits), each with a random mix of
    uneven light, blur, noise, JPEG, coloured ink or paper, a border or frame, thin or thick strokes.

    Returns:
        (uint8 RGB images, int labels, a description of each image's conditions).
    """
    rng = np.random.default_rng(seed)
    images, labels, notes = [], [], []
    for i in range(n):
        height = int(rng.integers(60, 200))
        stroke = float(rng.choice([0.35, 0.7, 1.0, 1.6, 2.4]))  # thin pen .. thick marker
        if i % 2:
            k = int(rng.integers(len(mnist_test_labels)))
            ink, label = handwritten(mnist_test_images[k], height, min(stroke, 1.4)), int(mnist_test_labels[k])
        else:
            label = int(rng.integers(10))
            ink = render(label, str(rng.choice(list(FONTS))), height, max(1.5, height * 0.07 * stroke))
        conditions = dict(
            paper=str(rng.choice(list(PAPERS))), ink_colour=str(rng.choice(list(INKS))),
            gradient=float(rng.choice([0.0, 0.3, 0.5, 0.65])), blur=float(rng.choice([0.0, 0.0, 1.0, 2.0])),
            noise=float(rng.choice([0.0, 0.02, 0.05])), jpeg=int(rng.choice([0, 75, 40])),
            border=bool(rng.random() < 0.25), frame=bool(rng.random() < 0.15),
            light_on_dark=bool(rng.random() < 0.1))
        images.append(photograph(ink, rng, **conditions))
        labels.append(label)
        notes.append(dict(conditions, stroke=stroke, kind="handwritten" if i % 2 else "rendered"))
    return images, np.array(labels), notes


# --- phone pictures: EXIF orientation ----------------------------------------------------------------------

#: What a viewer shows of a picture stored with each EXIF orientation (the tag's meaning, in numpy): the
#: reference that ``dlfund.digits.decode_image`` (Pillow's ``ImageOps.exif_transpose``) is checked against.
VIEWER = {1: lambda x: x, 2: lambda x: x[:, ::-1], 3: lambda x: x[::-1, ::-1], 4: lambda x: x[::-1],
          5: lambda x: x.swapaxes(0, 1), 6: lambda x: np.rot90(x, -1), 7: lambda x: x[::-1, ::-1].swapaxes(0, 1),
          8: lambda x: np.rot90(x, 1)}

#: What a camera stores for an upright picture, for each EXIF orientation: the inverse of :data:`VIEWER`.
STORED = {1: lambda x: x, 2: lambda x: x[:, ::-1], 3: lambda x: x[::-1, ::-1], 4: lambda x: x[::-1],
          5: lambda x: x.swapaxes(0, 1), 6: lambda x: np.rot90(x, 1), 7: lambda x: x[::-1, ::-1].swapaxes(0, 1),
          8: lambda x: np.rot90(x, -1)}


def encode(pixels: np.ndarray, fmt: str, orientation: int | None = None, quality: int = 95) -> bytes:
    """``pixels`` (uint8 [h, w], [h, w, c]) as a ``fmt`` file (Pillow's format name: PNG, JPEG, WEBP, AVIF,
    HEIF), with an EXIF orientation tag if given (HEIF: pillow-heif stores it as the photo's own rotation,
    as a phone does)."""
    from PIL import Image

    if fmt == "HEIF":
        import pillow_heif
        pillow_heif.register_heif_opener()
    image = Image.fromarray(np.ascontiguousarray(pixels.squeeze(-1) if pixels.ndim == 3 and pixels.shape[2] == 1
                                                 else pixels))
    options = {} if fmt == "PNG" else {"quality": quality}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg(pixels: np.ndarray, orientation: int | None = None, quality: int = 95) -> bytes:
    """JPEG bytes of uint8 ``pixels``, with an EXIF orientation if given."""
    return encode(pixels, "JPEG", orientation, quality)


def png(pixels: np.ndarray, orientation: int | None = None) -> bytes:
    """PNG bytes of uint8 ``pixels``, with an eXIf chunk carrying ``orientation`` if given."""
    return encode(pixels, "PNG", orientation)


def decoded_as_stored(data: bytes) -> np.ndarray:
    """A picture's pixels as stored (no orientation applied): uint8 RGB [h, w, 3]."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
