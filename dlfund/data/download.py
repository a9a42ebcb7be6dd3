"""Downloading data files safely: mirrors, checksums, no partial files, safe extraction.

A download goes to a hidden temporary file beside its destination, is hashed while
it streams, and is renamed into place only when the checksum matches. Anything
that goes wrong (network, checksum, Ctrl-C) removes the temporary file, so the
cache never holds a partial or unverified file.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

from dlfund.errors import DataError, DownloadError

#: progress(bytes_done, bytes_total_or_None) is called while a file streams in.
ProgressFn = Callable[[int, int | None], None]

_CHUNK = 1 << 16
# tarfile.FilterError exists only on Pythons with PEP 706.
_FILTER_ERRORS = (tarfile.FilterError,) if hasattr(tarfile, "FilterError") else ()


def file_digest(path: str, algorithm: str = "sha256") -> str:
    """Returns the hex digest of a file's bytes."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch_one(url: str, dest: str, algorithm: str, expected: str,
               progress: ProgressFn | None, timeout: float) -> None:
    """Streams ``url`` into ``dest`` through a temp file; raises on any failure."""
    directory = os.path.dirname(os.path.abspath(dest))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(dest) + ".", suffix=".part", dir=directory)
    try:
        h = hashlib.new(algorithm)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
            total = int(length) if length and length.isdigit() else None
            done = 0
            for block in iter(lambda: response.read(_CHUNK), b""):
                out.write(block)
                h.update(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
        got = h.hexdigest()
        if got != expected.lower():
            raise DownloadError(f"{url}: {algorithm} checksum mismatch (got {got}, expected {expected}); "
                                "the file was discarded")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def maybe_download(filename: str, work_dir: str, urls: Sequence[str], checksum: tuple[str, str],
                   progress: ProgressFn | None = None, timeout: float = 30.0,
                   verify_existing: bool = False) -> str:
    """Returns ``work_dir/filename``, downloading it from the first mirror that works.

    A file that is already present is returned as it is (the caller checks its
    format), unless ``verify_existing`` and its checksum does not match: then it
    is downloaded again (for a cache such as an archive, which an interrupted
    copy may have left incomplete). A new download is verified against
    ``checksum`` before it is kept.

    Args:
        filename: name of the file, appended to each URL in ``urls``.
        work_dir: cache directory, created if needed.
        urls: base URLs (mirrors) ending in ``/``, tried in order.
        checksum: ``(algorithm, hexdigest)`` published for the downloaded bytes,
            e.g. ``("sha256", "440f...")``.
        progress: optional callback, see :data:`ProgressFn`.
        timeout: socket timeout in seconds per mirror.
        verify_existing: check a file already present too, and replace it if wrong.

    Returns:
        The path of the verified local file.

    Raises:
        DownloadError: no mirror gave a file with the right checksum; the message
            lists every mirror and what went wrong with it.
    """
    path = os.path.join(work_dir, filename)
    if os.path.exists(path) and not (verify_existing and file_digest(path, checksum[0]) != checksum[1].lower()):
        return path
    try:
        os.makedirs(work_dir, exist_ok=True)
    except OSError as e:
        raise DataError(f"{work_dir}: cannot create the data directory ({e.strerror or e})") from None
    algorithm, expected = checksum
    failures = []
    for base in urls:
        url = base + filename
        try:
            _fetch_one(url, path, algorithm, expected, progress, timeout)
            return path
        except DownloadError as e:
            failures.append(str(e))
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or e
            failures.append(f"{url}: {reason}")
    raise DownloadError(f"could not download {filename} into {work_dir}: " + "; ".join(failures))


def _is_within(directory: str, target: str) -> bool:
    directory = os.path.realpath(directory)
    return os.path.commonpath([directory, os.path.realpath(target)]) == directory


def extract_tar(archive: str, dest: str) -> None:
    """Extracts a tar archive into ``dest``, refusing members that would escape it.

    Uses the standard library's ``filter="data"`` (PEP 706) where Python has it,
    which rejects absolute paths, ``..`` components, links pointing outside and
    device files (the book's plain ``extractall`` allowed all of these,
    CVE-2007-4559). On older Pythons an equivalent check runs first.

    Raises:
        DataError: the archive is unreadable or has a member escaping ``dest``.
    """
    try:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
                return
            for member in tar.getmembers():  # pragma: no cover - Pythons without PEP 706
                target = os.path.join(dest, member.name)
                link_ok = not (member.issym() or member.islnk()) or _is_within(
                    dest, os.path.join(os.path.dirname(target), member.linkname))
                if not _is_within(dest, target) or not link_ok or member.isdev():
                    raise DataError(f"{archive}: member {member.name!r} would be written outside {dest}")
            tar.extractall(dest)  # pragma: no cover
    except _FILTER_ERRORS as e:
        raise DataError(f"{archive}: refused to extract: {e}") from None
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"{archive}: cannot extract ({e}); delete it and download it again") from None
