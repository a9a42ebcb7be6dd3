"""A reader's picture of a digit made MNIST-like: the geometry against a NumPy reference, and photos (uneven
light, noise, JPEG, colours, borders, frames, thin and thick strokes) against the clean digit."""

import io

import numpy as np
import photo_digits
import pytest
import tensorflow as tf

from dlfund import digits
from dlfund.data import mnist
from dlfund.errors import DataError


def reference_fit(x):
    """The test's own NumPy version of MNIST's last step, for ink whose box scales by an integer factor."""
    f = max(x.shape) // 20
    assert max(x.shape) == 20 * f and x.shape[0] % f == 0 and x.shape[1] % f == 0
    small = x.reshape(x.shape[0] // f, f, x.shape[1] // f, f).mean(axis=(1, 3))
    small = small / small.max()
    ys, xs = np.indices(small.shape)
    cy, cx = (ys * small).sum() / small.sum(), (xs * small).sum() / small.sum()
    top, left = int(round(13.5 - cy)), int(round(13.5 - cx))
    out = np.zeros((28, 28))
    out[top:top + small.shape[0], left:left + small.shape[1]] = small
    return out


@pytest.mark.parametrize("h, w", [(100, 60), (40, 80), (60, 60)])
def test_the_box_and_centre_of_mass_match_the_numpy_reference(h, w):
    rng = np.random.default_rng(h + w)
    ink = np.zeros((h, w), np.float32)
    ink[:, : max(1, w // 5)] = 1.0
    ink[: max(1, h // 6), :] = 1.0
    ink[h // 2:, w // 2:] = rng.uniform(0.5, 1.0, (h - h // 2, w - w // 2))  # the centre of mass is off-centre
    got = digits._fit(ink, 28, 20)
    assert got.shape == (28, 28) and got.dtype == np.float32
    np.testing.assert_allclose(got, reference_fit(ink), atol=1e-5)


def _check_mnist_like(x):
    """MNIST's look: background exactly 0, ink reaching 1, centre of mass at the centre, inside the 20x20 box."""
    assert x.shape == (28, 28) and x.min() == 0.0 and x.max() == pytest.approx(1.0)
    assert (x == 0).mean() > 0.5 and not x[:2].any() and not x[-2:].any() and not x[:, :2].any()
    ys, xs = np.indices(x.shape)
    assert abs((ys * x).sum() / x.sum() - 13.5) <= 0.6 and abs((xs * x).sum() / x.sum() - 13.5) <= 0.6
    rows, cols = np.flatnonzero(x.any(1)), np.flatnonzero(x.any(0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21


CONDITIONS = {
    "grey paper, a camera's exposure": dict(paper="grey"),
    "uneven light": dict(gradient=0.6),
    "noise and blur": dict(noise=0.05, blur=1.0),
    "JPEG quality 40": dict(jpeg=40),
    "red ink on pink paper": dict(paper="pink", ink_colour="red"),
    "orange ink on yellow paper": dict(paper="yellow", ink_colour="orange"),
    "the table beyond the paper": dict(border=True),
    "a box drawn around it": dict(frame=True),
    "chalk on a board": dict(light_on_dark=True),
    "everything at once": dict(paper="cream", ink_colour="blue", gradient=0.5, blur=1.0, noise=0.03, jpeg=60,
                               border=True, frame=True),
}


@pytest.mark.parametrize("condition", CONDITIONS)
def test_a_photographed_digit_becomes_the_clean_digit(condition):
    ink = photo_digits.render(4, "plain", height=150, width_px=12)
    clean = digits.mnist_like(photo_digits.photograph(ink, np.random.default_rng(0)))
    photo = digits.mnist_like(photo_digits.photograph(ink, np.random.default_rng(0), **CONDITIONS[condition]))
    _check_mnist_like(clean)
    _check_mnist_like(photo)
    a, b = clean > 0.5, photo > 0.5
    assert (a & b).sum() / (a | b).sum() > 0.6  # the same strokes in the same place


@pytest.mark.parametrize("width", [1.5, 40])
def test_thin_and_thick_strokes_get_mnists_width(width):
    ink = photo_digits.render(7, "plain", height=200, width_px=width)
    x = digits.mnist_like(photo_digits.photograph(ink, np.random.default_rng(1)))
    _check_mnist_like(x)
    relative = digits._stroke_width(x > 0.5) / 20
    assert 0.6 * digits.MNIST_STROKE < relative < 1.8 * digits.MNIST_STROKE


def test_connected_pieces_match_a_flood_fill():
    rng = np.random.default_rng(0)
    for _ in range(50):
        mask = rng.random((rng.integers(1, 25), rng.integers(1, 25))) < rng.uniform(0.2, 0.6)
        labels, count = digits._label(mask)
        reference, n = np.zeros(mask.shape, int), 0
        for start in zip(*np.nonzero(mask), strict=True):
            if reference[start]:
                continue
            n += 1
            reference[start], todo = n, [start]
            while todo:
                r, c = todo.pop()
                for rr in range(max(r - 1, 0), min(r + 2, mask.shape[0])):
                    for cc in range(max(c - 1, 0), min(c + 2, mask.shape[1])):
                        if mask[rr, cc] and not reference[rr, cc]:
                            reference[rr, cc] = n
                            todo.append((rr, cc))
        assert count == n and len(set(zip(labels[mask], reference[mask], strict=True))) == n
        assert not labels[~mask].any()


def test_blank_pictures_are_refused():
    for blank in (np.ones((50, 50), np.float32), np.full((40, 60, 3), 0.8, np.float32)):
        with pytest.raises(DataError, match="blank"):
            digits.mnist_like(blank)


# --- pictures as they come: EXIF orientation, MNIST's own form, transparency, file formats ----------------

def _upright():
    """An asymmetric picture (a 7-like stroke and a dot), 48x32, uint8 RGB: every turn and mirror differs."""
    x = np.full((48, 32, 3), 235, np.uint8)
    x[4:8, 4:28] = (20, 20, 90)
    x[8:44, 22:26] = (20, 20, 90)
    x[36:42, 4:10] = (160, 20, 20)
    return x


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_read_as_a_viewer_shows_the_picture(tmp_path, orientation):
    upright = _upright()
    stored = np.ascontiguousarray(photo_digits.STORED[orientation](upright))
    for endian in (False, True):
        assert digits.exif_orientation(photo_digits.jpeg(stored, orientation, endian)) == orientation
    # Lossless: the picture read is the upright one, exactly.
    (tmp_path / "turned.png").write_bytes(photo_digits.png(stored, orientation))
    np.testing.assert_array_equal(digits.load_image(str(tmp_path / "turned.png")), digits.to_rgb(upright))
    # A phone's JPEG: read exactly as its upright copy (its own decoded pixels, turned as the tag says).
    (tmp_path / "turned.jpg").write_bytes(photo_digits.jpeg(stored, orientation))
    decoded = tf.io.decode_jpeg((tmp_path / "turned.jpg").read_bytes()).numpy()
    (tmp_path / "upright.png").write_bytes(photo_digits.png(np.ascontiguousarray(digits.ORIENTATIONS.get(
        orientation, lambda x: x)(decoded))))
    np.testing.assert_array_equal(digits.load_image(str(tmp_path / "turned.jpg")),
                                  digits.load_image(str(tmp_path / "upright.png")))


def test_a_missing_or_broken_exif_block_means_as_stored():
    plain = photo_digits.jpeg(_upright())
    assert digits.exif_orientation(plain) == 1 and digits.exif_orientation(b"not an image") == 1
    cut = photo_digits.jpeg(_upright(), 6)
    assert digits.exif_orientation(cut[:30]) == 1  # the block cut short
    assert digits.exif_orientation(photo_digits.jpeg(_upright(), 9)) == 1  # not an orientation


def test_mnists_own_digits_as_files_are_taken_as_they_stand(tmp_path):
    """The bundled test digits saved as 28x28 PNG files, light on black as MNIST is: the network gets them
    back unchanged (re-binarised, re-thickened and re-centred, they were read worse than chapter5.evaluate
    reads them)."""
    test = mnist.read_data_sets("", dataset="mnist_sample", one_hot=False).test
    unchanged = 0
    for i, image in enumerate(test.images[:300]):
        path = tmp_path / f"{i}.png"
        path.write_bytes(photo_digits.png((image.reshape(28, 28, 1) * 255).round().astype(np.uint8)))
        prepared = digits.mnist_like(digits.load_image(str(path)))
        unchanged += np.allclose(prepared.reshape(784), image, rtol=0, atol=1e-6)  # (uint8 / 255 either way)
    assert unchanged >= 0.97 * 300  # the few others: refitted and recentred as MNIST's recipe says


def _stroke(alpha_side=140):
    """An MNIST test digit drawn large: float [side, side] in [0, 1]."""
    test = mnist.read_data_sets("", dataset="mnist_sample", one_hot=False).test
    return test.images[0].reshape(28, 28), np.clip(tf.image.resize(test.images[0].reshape(28, 28, 1),
                                                                   [alpha_side, alpha_side]).numpy()[:, :, 0], 0, 1)


@pytest.mark.parametrize("ink", [(255, 255, 255), (0, 0, 0), (30, 60, 200), (250, 230, 40)],
                         ids=["white", "black", "blue", "yellow"])
def test_a_drawing_on_a_transparent_background_is_read_whatever_its_ink(ink):
    digit, alpha = _stroke()
    rgba = np.concatenate([np.broadcast_to(np.array(ink, np.uint8), alpha.shape + (3,)),
                           (alpha * 255).round().astype(np.uint8)[:, :, None]], axis=2)
    got = digits.mnist_like(digits.to_rgb(rgba))
    # Its opacity, in MNIST's form: the digit as drawn, whatever the ink (white ink was blank on white before).
    assert np.corrcoef(got.ravel(), digit.ravel())[0, 1] > 0.95


def test_light_ink_on_an_exactly_black_canvas_is_in_mnists_form_and_a_photo_is_not():
    _, stroke = _stroke()
    canvas = np.repeat(stroke[:, :, None], 3, axis=2)
    assert digits.in_mnist_form(canvas) is not None
    assert digits.in_mnist_form(1.0 - canvas) is None  # dark ink on white
    assert digits.in_mnist_form(0.1 + 0.8 * canvas) is None  # a dark-grey board: a photo's path
    images, _ = photo_digits.rendered_forty()
    assert all(digits.in_mnist_form(digits.to_rgb(im)) is None for im in images[:10])


def test_file_formats_other_than_8_bit_rgb_are_read(tmp_path):
    digit, stroke = _stroke()
    grey = ((1 - stroke) * 255).round().astype(np.uint8)[:, :, None]  # black ink on white
    cases = {"grey16.png": tf.io.encode_png(grey.astype(np.uint16) * 257).numpy(),
             "grey_alpha.png": tf.io.encode_png(np.concatenate([grey, np.full_like(grey, 255)], axis=2)).numpy()}
    PIL = pytest.importorskip("PIL.Image")
    for name, mode, fmt in (("palette.png", "P", "PNG"), ("cmyk.jpg", "CMYK", "JPEG")):
        buffer = io.BytesIO()
        PIL.fromarray(np.repeat(grey, 3, axis=2)).convert(mode).save(buffer, fmt)
        cases[name] = buffer.getvalue()
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        got = digits.mnist_like(digits.load_image(str(tmp_path / name)))
        assert np.corrcoef(got.ravel(), digit.ravel())[0, 1] > 0.75, name  # a scan's path: stretched, thickened
