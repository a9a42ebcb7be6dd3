"""CIFAR-10 reader on small files written here: exact decoding, malformed files, pipelines, training."""

import hashlib
import io
import os
import tarfile

import numpy as np
import pytest
import tensorflow as tf
from conftest import write_cifar

from dlfund.data import cifar10
from dlfund.errors import DataError, DownloadError

v1 = tf.compat.v1


def test_read_cifar10_decodes_label_and_rgb_planes_exactly(tmp_path):
    written = write_cifar(str(tmp_path))
    path = str(tmp_path / "data_batch_2.bin")
    with tf.Graph().as_default():
        it = v1.data.make_one_shot_iterator(cifar10.read_cifar10([path]))
        image, label = it.get_next()
        with v1.Session() as s:
            got = [s.run([image, label]) for _ in range(20)]
    expected_images, expected_labels = written["data_batch_2.bin"]
    for i, (img, lab) in enumerate(got):
        assert img.shape == (32, 32, 3) and img.dtype == np.uint8
        np.testing.assert_array_equal(img, expected_images[i])
        assert lab == expected_labels[i]
    images, labels = cifar10.read_cifar10_file(path)
    np.testing.assert_array_equal(images, expected_images)
    # The first byte of a record is the label, then 1024 red, 1024 green, 1024 blue bytes.
    raw = np.fromfile(path, np.uint8)
    assert raw[0] == labels[0] and raw[1 + 1024 + 5] == images[0, 0, 5, 1]


def test_malformed_files_are_refused_by_name(tmp_path):
    write_cifar(str(tmp_path))
    path = str(tmp_path / "data_batch_3.bin")
    with open(path, "ab") as f:
        f.write(b"\0" * 100)
    with pytest.raises(DataError, match="not a whole number") as e:
        cifar10.check_files([path])
    assert path in str(e.value)
    with pytest.raises(DataError, match="file not found"):
        cifar10.check_files([str(tmp_path / "data_batch_9.bin")])
    bad_label = str(tmp_path / "bad.bin")
    np.full(cifar10.RECORD_BYTES, 11, np.uint8).tofile(bad_label)
    with pytest.raises(DataError, match="label 11"):
        cifar10.read_cifar10_file(bad_label)


def test_training_and_eval_pipelines(tmp_path):
    written = write_cifar(str(tmp_path))
    data = cifar10.read_data_sets(str(tmp_path), seed=1)
    # A tenth of the training records is held out for validation: the first 10, centrally cropped.
    assert data.train.num_examples == 90 and data.validation.num_examples == 10 and data.test.num_examples == 40
    np.testing.assert_array_equal(data.validation.labels, written["data_batch_1.bin"][1][:10])
    x, y = data.train.next_batch(16)
    assert x.shape == (16, 24, 24, 3) and x.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_allclose(x.reshape(16, -1).mean(1), 0, atol=1e-4)  # whitened
    np.testing.assert_allclose(x.reshape(16, -1).std(1), 1, atol=1e-3)
    assert set(y) <= set(range(10))
    # Evaluation: the central crop of each test image, whitened, in file order.
    test_images, test_labels = written["test_batch.bin"]
    crop = test_images[:, 4:28, 4:28].astype(np.float32)
    mean = crop.reshape(40, -1).mean(1)[:, None, None, None]
    std = np.maximum(crop.reshape(40, -1).std(1), 1 / np.sqrt(24 * 24 * 3))[:, None, None, None]
    np.testing.assert_allclose(data.test.images, (crop - mean) / std, atol=1e-4)
    np.testing.assert_array_equal(data.test.labels, test_labels)
    data.train.close()


def test_the_books_inputs_give_one_pass_of_central_crops_whitened(tmp_path):
    """``inputs`` is the book's evaluation API (``cifar10_input.inputs``); the programs use ``read_data_sets``."""
    written = write_cifar(str(tmp_path), per_file=6, test=40)
    for eval_data, names in ((True, ["test_batch.bin"]), (False, list(cifar10.TRAIN_FILES))):
        images = np.concatenate([written[n][0] for n in names])
        labels = np.concatenate([written[n][1] for n in names])
        crop = images[:, 4:28, 4:28].astype(np.float32)
        n = len(crop)
        mean = crop.reshape(n, -1).mean(1)[:, None, None, None]
        std = np.maximum(crop.reshape(n, -1).std(1), 1 / np.sqrt(24 * 24 * 3))[:, None, None, None]
        with tf.Graph().as_default():
            batch_images, batch_labels = cifar10.inputs(eval_data, str(tmp_path), batch_size=16)
            got = []
            with v1.Session() as s:
                with pytest.raises(tf.errors.OutOfRangeError):
                    while True:
                        got.append(s.run([batch_images, batch_labels]))
        assert [len(b) for _, b in got] == [16] * (n // 16) + ([n % 16] if n % 16 else [])
        assert got[0][0].shape[1:] == (cifar10.IMAGE_SIZE, cifar10.IMAGE_SIZE, 3)  # the book's IMAGE_SIZE: 24
        np.testing.assert_allclose(np.concatenate([i for i, _ in got]), (crop - mean) / std, atol=1e-4)
        np.testing.assert_array_equal(np.concatenate([b for _, b in got]), labels)


def test_unaugmented_stream_keeps_labels_with_their_images_and_skips_the_held_out_ones(tmp_path):
    written = write_cifar(str(tmp_path))
    data = cifar10.read_data_sets(str(tmp_path), augment=(), whitened=False, shuffle=False, validation_size=5)
    x, y = data.train.next_batch(20)
    images = np.concatenate([written["data_batch_1.bin"][0], written["data_batch_2.bin"][0]])[5:25]
    labels = np.concatenate([written["data_batch_1.bin"][1], written["data_batch_2.bin"][1]])[5:25]
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_array_equal(x, images[:, 4:28, 4:28].astype(np.float32))
    data.train.close()


def test_the_listings_validation_on_the_test_set(tmp_path):
    write_cifar(str(tmp_path))
    data = cifar10.read_data_sets(str(tmp_path), validation_on_test=True)
    assert data.train.num_examples == 100 and data.validation is data.test
    assert "validation = test set, as in the book" in data.note
    with pytest.raises(DataError, match="validation_size 100 must be in 0..99"):
        cifar10.read_data_sets(str(tmp_path), validation_size=100)


def test_augmentation_preview_shows_originals_augmented_and_network_input(tmp_path):
    written = write_cifar(str(tmp_path))
    data = cifar10.read_data_sets(str(tmp_path), seed=0, validation_size=3)
    first, second = data.train.preview(n=4), data.train.preview(n=4)
    by_tag = {}
    for summary in first:
        for value in summary.value:
            by_tag.setdefault(value.tag.split("/")[0], []).append(value.image)
    assert sorted(by_tag) == ["augmented_images", "distorted_images", "original_images"]
    assert all(len(images) == 4 for images in by_tag.values())
    assert (by_tag["original_images"][0].height, by_tag["augmented_images"][0].height) == (32, 24)
    decoded = tf.io.decode_png(by_tag["original_images"][0].encoded_image_string).numpy()
    np.testing.assert_array_equal(decoded, written["data_batch_1.bin"][0][3])  # the first training image
    # Each preview draws a new augmentation of the same images.
    assert [v.image.encoded_image_string for v in first[1].value] != \
        [v.image.encoded_image_string for v in second[1].value]
    data.train.close()


def _served_archive(tmp_path, monkeypatch):
    src = tmp_path / "src"
    write_cifar(str(src / cifar10.BATCHES_DIR))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(str(src / cifar10.BATCHES_DIR), arcname=cifar10.BATCHES_DIR)
    served = tmp_path / "served"
    served.mkdir()
    (served / cifar10.ARCHIVE).write_bytes(buf.getvalue())
    monkeypatch.setattr(cifar10, "URL", served.as_uri() + "/")
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", hashlib.md5(buf.getvalue()).hexdigest())
    return buf.getvalue()


def test_download_and_safe_extract_from_a_local_mirror(tmp_path, monkeypatch):
    _served_archive(tmp_path, monkeypatch)
    batches = cifar10.maybe_download_and_extract(str(tmp_path / "data"))
    assert batches == str(tmp_path / "data" / "cifar10" / cifar10.BATCHES_DIR)
    assert sorted(os.listdir(batches)) == sorted(cifar10.TRAIN_FILES + cifar10.TEST_FILES)
    # A second call finds the extracted copy without downloading.
    monkeypatch.setattr(cifar10, "URL", "http://127.0.0.1:9/")
    assert cifar10.maybe_download_and_extract(str(tmp_path / "data")) == batches


def test_an_interrupted_download_or_extraction_is_retried(tmp_path, monkeypatch):
    """The listing never retried once the tarball existed (errata E16); here a partial archive is fetched
    again and the extraction repeated."""
    archive = _served_archive(tmp_path, monkeypatch)
    target = tmp_path / "data" / "cifar10"
    target.mkdir(parents=True)
    (target / cifar10.ARCHIVE).write_bytes(archive[:len(archive) // 2])  # an interrupted copy
    batches = cifar10.maybe_download_and_extract(str(tmp_path / "data"))
    assert (target / cifar10.ARCHIVE).read_bytes() == archive
    os.remove(os.path.join(batches, "test_batch.bin"))  # an interrupted extraction
    monkeypatch.setattr(cifar10, "URL", "http://127.0.0.1:9/")  # the good archive is reused, not fetched
    assert cifar10.maybe_download_and_extract(str(tmp_path / "data")) == batches
    assert os.path.exists(os.path.join(batches, "test_batch.bin"))


@pytest.mark.parametrize("cut", ["a training file missing", "a training file cut short"])
def test_an_extraction_cut_short_after_the_test_file_is_extracted_again(tmp_path, monkeypatch, cut):
    """test_batch.bin alone is no proof of a whole extraction: every batch file and its size are checked."""
    archive = _served_archive(tmp_path, monkeypatch)
    batches = cifar10.maybe_download_and_extract(str(tmp_path / "data"))
    whole = {n: open(os.path.join(batches, n), "rb").read() for n in cifar10.TRAIN_FILES}
    if cut == "a training file missing":
        os.remove(os.path.join(batches, "data_batch_4.bin"))
    else:  # cut at a record boundary, so that the file is still a whole number of records
        with open(os.path.join(batches, "data_batch_5.bin"), "r+b") as f:
            f.truncate(5 * cifar10.RECORD_BYTES)
    monkeypatch.setattr(cifar10, "URL", "http://127.0.0.1:9/")  # the archive on disk is extracted again
    assert cifar10.maybe_download_and_extract(str(tmp_path / "data")) == batches
    assert {n: open(os.path.join(batches, n), "rb").read() for n in cifar10.TRAIN_FILES} == whole
    assert (tmp_path / "data" / "cifar10" / cifar10.ARCHIVE).read_bytes() == archive


def test_a_failed_download_is_one_message_naming_one_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar10, "URL", "http://127.0.0.1:9/")  # nothing listens there
    with pytest.raises(DownloadError) as e:
        cifar10.maybe_download_and_extract(str(tmp_path / "data"))
    message = str(e.value)
    assert message.startswith(f"CIFAR-10 is not in {tmp_path / 'data'} and could not be downloaded (")
    assert "http://127.0.0.1:9/" in message and str(tmp_path / "data" / "cifar10") not in message
    assert 'dataset="mnist_sample"' in message and "--" not in message and "\n" not in message
    assert e.value.dataset == "cifar10" and "http://127.0.0.1:9/" in e.value.reason


def test_the_cifar_pipelines_run_under_op_determinism_and_give_the_same_numbers_twice(tmp_path):
    """Every graph of the CIFAR-10 reader sets a graph-level seed: TensorFlow's op determinism (``--deterministic``,
    the notebooks) refuses a random op without one, and the same seed then gives the same run."""
    from chapter5.from_flags import op_determinism
    from dlfund import training
    from dlfund.graph import build_graph
    from dlfund.models import get_model

    write_cifar(str(tmp_path), per_file=20, test=20)
    results = []
    with op_determinism(True):
        for _ in range(2):
            data = cifar10.read_data_sets(str(tmp_path), seed=0, validation_size=20)
            g = build_graph(get_model("cifar_conv"), sparse_labels=True, seed=0)
            with tf.compat.v1.Session(graph=g.graph) as sess:
                sess.run(g.init_op)
                training.train(sess, g, data, training.TrainConfig(training_epochs=1, batch_size=20, keep_prob=0.5))
                evaluation = training.evaluate_set(sess, g, data.test, fetches={"output": g.output})
                previews = [s.SerializeToString() for s in data.train.preview()]
            data.train.close()
            results.append((evaluation.outputs["output"].tobytes(), previews))
    assert results[0] == results[1]
