"""The Korean notebooks, built from their executed English twins and the Korean text kept beside them.

``chapter5/notebooks/ko/NAME.ipynb`` is ``chapter5/notebooks/NAME.ipynb`` with
every markdown cell and every code comment in Korean, taken from
``chapter5/notebooks/ko/NAME.toml``; its code and its outputs (figures
included) are the English notebook's own, so they come from one run and the
two cannot disagree. The text file pairs each English text with its Korean::

    [[markdown]]
    en = '''## The data'''
    ko = '''## 데이터'''

    [[comment]]
    en = '''the bundled sample; "mnist" reads the full set'''
    ko = '''함께 들어 있는 표본; "mnist"는 전체를 읽는다'''

A comment is translated whole: a trailing comment, or a block of comment
lines at one indentation (``en`` joins its lines with newlines; ``ko`` may
have as many lines as it needs). Tool directives (``# noqa``, ``# type:``)
are left as they are. A docstring of a function or class is translated the
same way, as ``[[docstring]]`` (``en`` the string's value, ``ko`` the value
it gets in the twin); to the code's tokens a docstring is only a docstring,
so the twin's code is still the English code.

Building fails, naming the notebook, the cell and the English text, when any
English text has no Korean (new, or changed since it was translated: the
closest old entry is shown beside it) or an entry translates nothing any more,
so an English notebook cannot change and leave its Korean twin behind.

Every executed notebook records in its metadata the digest of its code,
comments aside (:func:`code_digest`), so a test can tell outputs that are
not those of the code beside them.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import io
import os
import re
import sys
import tokenize

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ko")
HANGUL = re.compile("[\uac00-\ud7a3]")
_DIRECTIVE = re.compile(r"#\s*(noqa|type:|fmt:|pragma)")
_SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}


class TranslationError(Exception):
    """A Korean twin cannot be built: English text without Korean, or Korean text without its English."""


def code_tokens(source: str) -> list:
    """The code of one cell as (token type, text) pairs, comments and blank lines aside.

    Two cells that differ only in their comments, their docstrings, in the
    lines those take, or in trailing spaces have the same tokens; any change to
    what Python runs changes them. A cell Python cannot tokenize (an IPython
    magic) is compared as its lines with ``#`` comments cut off.
    """
    try:
        docstrings = {(start, col) for start, col, _, _, _ in _docstrings(source)}
        return [(t.type, "<docstring>" if t.start in docstrings else t.string)
                for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in _SKIPPED]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        lines = (line.split("#", 1)[0].rstrip() for line in source.splitlines())
        return [(0, line) for line in lines if line]


def _docstrings(source: str) -> list:
    """(line, column, end line, end column, value) of each docstring of a function or class in ``source``."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                c = first.value
                found.append((c.lineno, c.col_offset, c.end_lineno, c.end_col_offset, c.value))
    return found


def code_digest(nb: dict) -> str:
    """SHA-256 of the notebook's code cells as :func:`code_tokens` sees them (hex)."""
    h = hashlib.sha256()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            h.update(repr(code_tokens(_text(cell["source"]))).encode())
            h.update(b"\0")
    return h.hexdigest()


def record_digest(nb: dict) -> None:
    """Stores :func:`code_digest` in ``nb.metadata.dlfund.code_sha256``: the code its outputs come from."""
    nb["metadata"].setdefault("dlfund", {})["code_sha256"] = code_digest(nb)


def recorded_digest(nb: dict) -> str | None:
    return nb.get("metadata", {}).get("dlfund", {}).get("code_sha256")


def _text(source) -> str:
    return source if isinstance(source, str) else "".join(source)


def text_outputs(nb: dict) -> list:
    """(cell number from 1, the cell's printed text and plain-text results) of each code cell of ``nb``."""
    out = []
    for number, cell in enumerate(nb["cells"], start=1):
        if cell["cell_type"] == "code":
            text = "".join(_text(o.get("text", "")) + _text(o.get("data", {}).get("text/plain", ""))
                           for o in cell.get("outputs", []))
            out.append((number, text))
    return out


class Translation:
    """The Korean text of one notebook: ``{English: Korean}`` for markdown cells and for comments.

    Attributes:
        path: the ``.toml`` file it was read from.
        markdown: English markdown cell source -> Korean.
        comments: English comment text (without ``#``, lines joined by newlines) -> Korean.
        docstrings: English docstring value -> Korean.
    """

    KINDS = ("markdown", "comment", "docstring")

    def __init__(self, path: str, markdown: dict, comments: dict, docstrings: dict | None = None) -> None:
        self.path, self.markdown, self.comments = path, markdown, comments
        self.docstrings = docstrings or {}
        self.used: set = set()

    def table(self, kind: str) -> dict:
        return {"markdown": self.markdown, "comment": self.comments, "docstring": self.docstrings}[kind]

    @classmethod
    def read(cls, path: str) -> Translation:
        """Reads ``path``.

        Raises:
            TranslationError: the file is missing or not the format above.
        """
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            raise TranslationError(f"{path}: no Korean text for this notebook (see chapter5/notebooks/twins.py)"
                                   ) from None
        except tomllib.TOMLDecodeError as e:
            raise TranslationError(f"{path}: not valid TOML ({e})") from None
        tables = {}
        for kind in cls.KINDS:
            pairs = {}
            for i, entry in enumerate(data.get(kind, []), start=1):
                if set(entry) != {"en", "ko"} or not all(isinstance(v, str) for v in entry.values()):
                    raise TranslationError(f"{path}: [[{kind}]] number {i} needs exactly en and ko, as strings")
                if entry["en"] in pairs:
                    raise TranslationError(f"{path}: [[{kind}]] number {i} repeats an earlier entry's en")
                if not HANGUL.search(entry["ko"]):
                    raise TranslationError(f"{path}: [[{kind}]] number {i}: its ko has no Korean")
                pairs[entry["en"]] = entry["ko"]
            tables[kind] = pairs
        unknown = set(data) - set(cls.KINDS)
        if unknown:
            raise TranslationError(f"{path}: unknown table {sorted(unknown)[0]!r} (only [[markdown]], [[comment]], "
                                   "[[docstring]])")
        return cls(path, tables["markdown"], tables["comment"], tables["docstring"])

    def korean(self, kind: str, english: str, where: str) -> str:
        """The Korean for ``english`` (``kind`` "markdown", "comment" or "docstring"); ``where`` names it in the error.

        Raises:
            TranslationError: there is none; the message shows the closest old English text, if any.
        """
        table = self.table(kind)
        if english in table:
            self.used.add((kind, english))
            return table[english]
        message = f"{where}: this English {kind} has no Korean text in {self.path}:\n" + _indent(english)
        unused = [en for en in table if (kind, en) not in self.used]
        close = difflib.get_close_matches(english, unused, n=1, cutoff=0.5)
        if close:
            diff = difflib.unified_diff(close[0].splitlines(), english.splitlines(), "translated", "now", lineterm="")
            message += "\nIt may be this entry's en, changed since it was translated:\n" + _indent("\n".join(diff))
        raise TranslationError(message)

    def unused(self) -> list:
        """English texts of the file that no cell asked for."""
        return [(kind, en) for kind in self.KINDS for en in self.table(kind) if (kind, en) not in self.used]


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def translate_comments(source: str, translation: Translation, where: str) -> str:
    """``source`` with each comment (a trailing one, or a block of comment lines) in Korean."""
    lines = source.split("\n")
    try:
        comments = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return source
    # Group comment-only lines at one column that follow each other into blocks.
    groups: list = []
    for token in comments:
        row, col = token.start
        whole_line = not lines[row - 1][:col].strip()
        last = groups[-1] if groups else None
        if (whole_line and last and last["whole"] and last["col"] == col and last["rows"][-1] == row - 1):
            last["rows"].append(row)
            last["texts"].append(token.string)
        else:
            groups.append({"whole": whole_line, "col": col, "rows": [row], "texts": [token.string]})
    for group in reversed(groups):  # from the end, so that row numbers stay right
        if _DIRECTIVE.match(group["texts"][0]):
            continue
        english = "\n".join(re.sub(r"^#\s?", "", t) for t in group["texts"])
        korean = translation.korean("comment", english, where).split("\n")
        first, last, col = group["rows"][0], group["rows"][-1], group["col"]
        if group["whole"]:
            lines[first - 1:last] = [" " * col + "# " + k for k in korean]
        else:
            if len(korean) != 1:
                raise TranslationError(f"{where}: the Korean of the trailing comment {english!r} in "
                                       f"{translation.path} must be one line")
            lines[first - 1] = lines[first - 1][:col] + "# " + korean[0]
    return "\n".join(lines)


def translate_docstrings(source: str, translation: Translation, where: str) -> str:
    """``source`` with each docstring of a function or class in Korean (its quotes kept)."""
    lines = source.split("\n")
    for start, col, end, end_col, value in sorted(_docstrings(source), reverse=True):
        opening = lines[start - 1][col:col + 3]
        quote = opening if opening in ('"""', "'''") else opening[0]
        korean = translation.korean("docstring", value, where)
        replaced = lines[start - 1][:col] + quote + korean + quote + lines[end - 1][end_col:]
        lines[start - 1:end] = replaced.split("\n")
    return "\n".join(lines)


def korean_twin(english: dict, translation: Translation, name: str) -> dict:
    """The Korean notebook of the executed English notebook ``english`` (nbformat 4 as a dict).

    Its code cells keep the English cells' outputs, execution counts and
    metadata; markdown and comments come from ``translation``.

    Raises:
        TranslationError: an English text has no Korean, or an entry of the file is used by no cell.
    """
    nb = copy.deepcopy(english)
    for index, cell in enumerate(nb["cells"], start=1):
        where = f"{name}, cell {index}"
        if cell["cell_type"] == "markdown":
            cell["source"] = translation.korean("markdown", _text(cell["source"]), where)
        elif cell["cell_type"] == "code":
            cell["source"] = translate_docstrings(translate_comments(_text(cell["source"]), translation, where),
                                                  translation, where)
    left = translation.unused()
    if left:
        kind, en = left[0]
        entries = "1 entry translates" if len(left) == 1 else f"{len(left)} entries translate"
        raise TranslationError(f"{translation.path}: {entries} nothing in {name} any more; the first, a {kind}:\n"
                               + _indent(en))
    nb["metadata"].setdefault("dlfund", {})["translated_from"] = f"../{name}"
    return nb


def _read_pair(english_path: str, text_dir: str) -> tuple:
    import nbformat

    name = os.path.basename(english_path)
    english = nbformat.read(english_path, as_version=4)
    return name, english, Translation.read(os.path.join(text_dir, name.removesuffix(".ipynb") + ".toml"))


def check(english_path: str, text_dir: str = KO_DIR) -> None:
    """Builds the Korean twin of ``english_path`` in memory only: raises TranslationError as :func:`build`."""
    korean_twin(*_read_pair(english_path, text_dir)[1:], os.path.basename(english_path))


def build(english_path: str, output_dir: str = KO_DIR, text_dir: str = KO_DIR) -> str:
    """Writes the Korean twin of the notebook at ``english_path`` into ``output_dir``; returns its path.

    Raises:
        TranslationError: as :func:`korean_twin`.
    """
    import nbformat

    name, english, translation = _read_pair(english_path, text_dir)
    nb = nbformat.from_dict(korean_twin(english, translation, name))
    os.makedirs(output_dir, exist_ok=True)
    output = os.path.join(output_dir, name)
    nbformat.write(nb, output)
    return output
