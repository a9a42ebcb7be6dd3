"""read_data_sets and DataSet: the book's split and format, epochs, shuffling, resumable order."""

import os

import numpy as np
import pytest
from conftest import write_mnist_format

from dlfund.data import idx, mnist
from dlfund.errors import DataError, DataUnavailable


def test_split_and_format_like_the_book(tmp_path):
    d = write_mnist_format(str(tmp_path), n_train=120, n_test=30)
    data = mnist.read_data_sets(d, dataset="mnist", validation_size=20, download_missing=False)
    assert (data.train.num_examples, data.validation.num_examples, data.test.num_examples) == (100, 20, 30)
    raw = idx.read_idx_images(os.path.join(d, mnist.TRAIN_IMAGES))
    labels = idx.read_idx_labels(os.path.join(d, mnist.TRAIN_LABELS))
    # validation = the first images of the training file; train = the rest, in stored order.
    np.testing.assert_allclose(data.validation.images, raw[:20].reshape(20, 784) / 255.0, atol=1e-7)
    np.testing.assert_allclose(data.train.images, raw[20:].reshape(100, 784) / 255.0, atol=1e-7)
    assert data.train.images.dtype == np.float32 and data.train.images.max() <= 1.0
    assert data.train.labels.shape == (100, 10) and data.train.labels.dtype == np.float32
    np.testing.assert_array_equal(data.train.labels.argmax(1), labels[20:])
    np.testing.assert_array_equal(data.train.labels.sum(1), np.ones(100))
    assert "not byte-identical" in data.note  # generated files are not the official release


def test_no_validation_set_at_all(tmp_path):
    data = mnist.read_data_sets(write_mnist_format(str(tmp_path), n_train=60, n_test=10), validation_size=0)
    assert data.validation.num_examples == 0 and data.validation.images.shape == (0, 784)
    assert data.train.num_examples == 60


def test_uncompressed_files_are_read_too(tmp_path):
    d = write_mnist_format(str(tmp_path), n_train=50, n_test=10, compress=False)
    data = mnist.read_data_sets(d, validation_size=10, download_missing=False)
    assert data.train.num_examples == 40


def test_count_mismatch_names_both_files(tmp_path):
    d = write_mnist_format(str(tmp_path), n_train=50, n_test=10)
    idx.write_idx_labels(os.path.join(d, mnist.TRAIN_LABELS), np.zeros(49, np.uint8))
    with pytest.raises(DataError, match="has 50 images but .* has 49 labels"):
        mnist.read_data_sets(d, validation_size=10, download_missing=False)


def test_missing_files_without_download_are_named_in_the_error_and_its_fields(tmp_path):
    with pytest.raises(DataUnavailable) as e:
        mnist.read_data_sets(str(tmp_path), download_missing=False)
    assert e.value.missing == mnist.FILES and e.value.data_dir == str(tmp_path) and e.value.reason is None
    assert e.value.problem == f"The mnist files {', '.join(mnist.FILES)} are not in {tmp_path} (downloading is off)"
    # A library error speaks Python: the offline alternative as an argument, no command-line flag.
    assert 'dataset="mnist_sample"' in str(e.value) and "--" not in str(e.value)


def _dataset(n=10, **kw):
    labels = np.arange(n) % 10
    images = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None], 4, axis=1).repeat(4, axis=2)
    return mnist.DataSet(images, labels, **kw)


def _ids(batch_images):
    return [int(round(v * 255)) for v in batch_images[:, 0]]


def test_next_batch_covers_each_epoch_once_and_reshuffles():
    ds = _dataset(10, seed=3)
    epoch1 = _ids(np.concatenate([ds.next_batch(5)[0] for _ in range(2)]))
    assert ds.epochs_completed == 0
    epoch2 = _ids(np.concatenate([ds.next_batch(5)[0] for _ in range(2)]))
    assert ds.epochs_completed == 1
    assert sorted(epoch1) == list(range(10)) and sorted(epoch2) == list(range(10))
    assert epoch1 != epoch2 and epoch1 != list(range(10))


def test_batch_crossing_an_epoch_takes_the_rest_then_the_next_order():
    ds = _dataset(10, seed=0)
    first = _ids(ds.next_batch(4)[0]) + _ids(ds.next_batch(4)[0])
    crossing = _ids(ds.next_batch(4)[0])
    assert ds.epochs_completed == 1
    assert sorted(first + crossing[:2]) == list(range(10))


def test_seek_reproduces_the_uninterrupted_stream():
    a = _dataset(10, seed=7)
    stream = [_ids(a.next_batch(3)[0]) for _ in range(9)]
    b = _dataset(10, seed=7)
    b.seek(5 * 3)
    assert [_ids(b.next_batch(3)[0]) for _ in range(4)] == stream[5:]
    assert b.epochs_completed == a.epochs_completed


def test_fixed_and_sorted_orders():
    fixed = _dataset(10, shuffle=False)
    assert _ids(fixed.next_batch(10)[0]) == list(range(10))
    assert _ids(fixed.next_batch(10)[0]) == list(range(10))
    labels = np.array([3, 1, 2, 1, 0, 3])
    images = np.arange(6, dtype=np.uint8).reshape(6, 1, 1)
    sorted_ds = mnist.DataSet(images, labels, sort_by_label=True)
    _, batch_labels = sorted_ds.next_batch(6)
    assert list(batch_labels.argmax(1)) == [0, 1, 1, 2, 3, 3]


def test_bundled_sample_is_real_stratified_and_offline():
    data = mnist.read_data_sets("/nonexistent", dataset="mnist_sample")
    assert (data.train.num_examples, data.validation.num_examples, data.test.num_examples) == (3500, 500, 1000)
    for split, per_class in ((data.train, 350), (data.validation, 50), (data.test, 100)):
        assert np.bincount(split.label_ids, minlength=10).tolist() == [per_class] * 10
    # Real digits: ink covers roughly a fifth of the pixels, centred in the 28x28 frame.
    images = data.test.images.reshape(-1, 28, 28)
    ink = (images > 0.5).mean()
    assert 0.08 < ink < 0.25
    assert images[:, :, :3].mean() < 0.01 and images[:, 10:18, 10:18].mean() > 0.2


def test_the_books_order_visits_the_first_epoch_in_file_order_and_shuffles_from_the_second():
    labels = np.arange(40) % 10
    images = np.arange(40, dtype=np.uint8)[:, None, None].repeat(2, 1).repeat(2, 2)
    book = mnist.DataSet(images, labels, one_hot=False, first_epoch_in_order=True, seed=3)
    ours = mnist.DataSet(images, labels, one_hot=False, seed=3)
    first, second = [book.next_batch(40)[1] for _ in range(2)]
    assert list(first) == list(labels)  # file order, as input_data.py's first epoch
    assert list(second) != list(labels) and sorted(second) == sorted(labels)
    ours.next_batch(40)
    np.testing.assert_array_equal(second, ours.next_batch(40)[1])  # from the second epoch on, the same orders
