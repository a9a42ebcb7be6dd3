"""Flagfiles as readers' editors save them: every ``--flagfile`` read here, in one place, before absl parses.

absl opens a flagfile in the locale's encoding and reads its nested flagfiles
the same way: a file saved as "UTF-8 with BOM" (Notepad's choice for years)
starts with an invisible character, and one saved as UTF-16 or by a Korean
Windows editor in CP949 ends in a ``UnicodeDecodeError``. So the programs do not
let absl open any: :func:`expand` replaces each ``--flagfile=PATH`` of a command
line with the flags in that file, at that position and recursively, the way
absl does (blank lines and lines starting with ``#`` or ``//`` skipped), and
absl parses the result. A file is read as UTF-8, with or without a BOM, or as
UTF-16 with a BOM; line ends may be CRLF. Anything else is one
:class:`FlagfileError` naming the file and what to do.
"""

from __future__ import annotations

import codecs
import os

from dlfund.errors import DlfundError

#: The flagfiles shipped in the package (``chapter5/flags/*.cfg``).
FLAGFILE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flags")

DIRECTIVES = ("--flagfile=", "-flagfile=")


class FlagfileError(DlfundError):
    """A flagfile that cannot be read, or is not text in UTF-8 or UTF-16."""


def locate(path: str) -> str:
    """``path`` (``~`` expanded), or the shipped flagfile of that name if ``path`` does not exist.

    So ``--flagfile=chapter5/flags/quickstart.cfg`` (or ``quickstart.cfg``) works from any directory and from
    an installed package.
    """
    path = os.path.expanduser(path)
    shipped = os.path.join(FLAGFILE_DIR, os.path.basename(path))
    if not os.path.exists(path) and path.endswith(".cfg") and os.path.exists(shipped):
        return shipped
    return path


def decode(data: bytes, path: str) -> str:
    """A flagfile's text: UTF-8 (a BOM, if any, dropped) or UTF-16 with a BOM.

    Raises:
        FlagfileError: neither, or binary; the message names ``path`` and says to save it as UTF-8.
    """
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if not utf16 and b"\x00" in data:  # no text file holds NUL bytes (UTF-16 without its BOM would)
        raise FlagfileError(f"{path}: not a flagfile (it holds binary data: a NUL byte at offset "
                            f"{data.index(0)})", "Give a text file of --name=value lines, saved as UTF-8", path)
    try:
        text = data.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as e:
        raise FlagfileError(f"{path}: not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start}: saved in "
                            "another encoding, such as CP949, EUC-KR or Latin-1?)",
                            "Save it as UTF-8 (in Notepad: Save As, Encoding UTF-8)", path) from None
    return text


def read(path: str) -> list:
    """The flag lines of one flagfile, stripped, blank lines and comments left out (nested ``--flagfile`` lines
    kept, for :func:`expand`).

    Raises:
        FlagfileError: the file cannot be read or is not text.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise FlagfileError(f"{path}: the flagfile cannot be read ({e.strerror or e})", path=path) from None
    lines = (line.strip() for line in decode(data, path).splitlines())
    return [line for line in lines if line and not line.startswith(("#", "//"))]


def expand(args: list, _reading: tuple = ()) -> list:
    """``args`` (a command line without the program name) with each ``--flagfile=PATH`` (or ``--flagfile PATH``)
    replaced by the flags in that file, nested flagfiles too; everything after ``--`` left as it is.

    Raises:
        FlagfileError: a flagfile cannot be read, is not text, or includes itself.
    """
    out, i = [], 0
    while i < len(args):
        arg, path = args[i], None
        if arg == "--":
            return out + list(args[i:])
        if arg.startswith(DIRECTIVES):
            path = arg.split("=", 1)[1]
        elif arg in ("--flagfile", "-flagfile") and i + 1 < len(args):
            path, i = args[i + 1], i + 1
        if path is None:
            out.append(arg)
        elif path:
            path = locate(path)
            if os.path.abspath(path) in _reading:
                raise FlagfileError(f"{path}: the flagfile includes itself (through {', '.join(_reading)})", path=path)
            out.extend(expand(read(path), (*_reading, os.path.abspath(path))))
        i += 1
    return out
