"""Downloads against a local HTTP server on 127.0.0.1: mirrors, checksums, nothing partial left."""

import functools
import hashlib
import http.server
import io
import os
import pathlib
import socket
import tarfile
import threading

import pytest
from absl import flags
from conftest import write_mnist_format

from chapter5 import _cli, train
from dlfund.data import download, mnist
from dlfund.errors import DataError, DataUnavailable, DownloadError


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


def _listing(directory):
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def test_download_verifies_and_reports_progress(server, tmp_path):
    root, url = server
    payload = os.urandom(200_000)
    (root / "blob.bin").write_bytes(payload)
    seen = []
    path = download.maybe_download("blob.bin", str(tmp_path / "cache"), [url],
                                   ("sha256", hashlib.sha256(payload).hexdigest()),
                                   progress=lambda done, total: seen.append((done, total)))
    assert pathlib.Path(path).read_bytes() == payload
    assert seen[-1] == (200_000, 200_000) and len(seen) > 1
    assert _listing(tmp_path / "cache") == ["blob.bin"]


def test_checksum_mismatch_leaves_nothing_and_tries_next_mirror(server, tmp_path):
    root, url = server
    good = b"the real file" * 1000
    (root / "bad").mkdir()
    (root / "bad" / "f.gz").write_bytes(b"tampered" * 1000)
    (root / "f.gz").write_bytes(good)
    cache = tmp_path / "cache"
    checksum = ("md5", hashlib.md5(good).hexdigest())
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download.maybe_download("f.gz", str(cache), [url + "bad/"], checksum)
    assert _listing(cache) == []
    path = download.maybe_download("f.gz", str(cache), [url + "bad/", _closed_port_url(), url], checksum)
    assert pathlib.Path(path).read_bytes() == good and _listing(cache) == ["f.gz"]


def test_existing_file_is_used_without_network(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "f.gz").write_bytes(b"local copy")
    got = download.maybe_download("f.gz", str(cache), [_closed_port_url()], ("sha256", "0" * 64))
    assert got == str(cache / "f.gz")


def test_read_data_sets_downloads_mnist_from_a_mirror(server, tmp_path, monkeypatch):
    root, url = server
    write_mnist_format(str(root), n_train=60, n_test=20)
    checksums = {n: ("sha256", download.file_digest(str(root / n))) for n in mnist.FILES}
    source = mnist.IdxSource("mnist", (_closed_port_url(), url), checksums, {}, 10, mnist.MNIST.class_names)
    monkeypatch.setitem(mnist.SOURCES, "mnist", source)
    progress = []
    data = mnist.read_data_sets(str(tmp_path / "cache"), progress=lambda *a: progress.append(a))
    assert data.train.num_examples == 50 and data.test.num_examples == 20
    assert {p[0] for p in progress} == set(mnist.FILES)
    assert data.note.startswith("official mnist files")
    assert _listing(tmp_path / "cache") == sorted(mnist.FILES)


def test_offline_message_names_files_mirrors_and_the_sample(tmp_path, monkeypatch):
    dead = _closed_port_url()
    monkeypatch.setitem(mnist.SOURCES, "mnist", mnist.IdxSource(
        "mnist", (dead,), mnist.MNIST.download_checksums, {}, 5000, mnist.MNIST.class_names))
    with pytest.raises(DataUnavailable) as e:
        mnist.read_data_sets(str(tmp_path / "cache"))
    text = str(e.value)
    for needle in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", dead, 'dataset="mnist_sample"'):
        assert needle in text
    assert "--" not in text and dead in e.value.reason and e.value.missing == mnist.FILES
    # On the command line the same error offers the flag instead.
    fv = flags.FlagValues()
    train.define_flags(fv)
    line = _cli.command_line_message(e.value, "train", fv)
    assert line.startswith(e.value.problem) and line.endswith("or train offline on the bundled MNIST sample with "
                                                              "--dataset=mnist_sample.")
    assert _listing(tmp_path / "cache") == []


def _tar_with(member_name, data=b"x", link=None):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(member_name)
        if link:
            info.type, info.linkname = tarfile.SYMTYPE, link
            tar.addfile(info)
        else:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("name, link", [("../escape.txt", None), ("evil", "/etc/passwd")])
def test_tar_extraction_refuses_escapes(tmp_path, name, link):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(_tar_with(name, link=link))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(DataError, match="a.tar.gz"):
        download.extract_tar(str(archive), str(dest))
    assert not (tmp_path / "escape.txt").exists()


def test_tar_extraction_of_a_normal_archive(tmp_path):
    archive = tmp_path / "ok.tar.gz"
    archive.write_bytes(_tar_with("dir/file.bin", b"content"))
    download.extract_tar(str(archive), str(tmp_path / "out"))
    assert (tmp_path / "out" / "dir" / "file.bin").read_bytes() == b"content"


def test_tar_absolute_member_stays_inside_dest(tmp_path):
    target = tmp_path / "abs_escape_dlfund.txt"
    archive = tmp_path / "abs.tar.gz"
    archive.write_bytes(_tar_with(str(target), b"data"))
    dest = tmp_path / "out"
    try:
        download.extract_tar(str(archive), str(dest))
    except DataError:
        pass  # refusing is as good as stripping the leading slash
    assert not target.exists()
