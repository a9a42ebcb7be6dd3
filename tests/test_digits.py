"""A reader's picture of a digit made MNIST-like: the geometry against a NumPy reference, and photos (uneven
light, noise, JPEG, colours, borders, frames, thin and thick strokes) against the clean digit."""

import numpy as np
import photo_digits
import pytest

from dlfund import digits
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
