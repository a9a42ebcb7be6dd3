"""Korean readers get the same project: README.ko.md is README.md section for section, with the same numbers,
flags, commands and links; every Korean text (README.ko.md, the notebooks' ko/*.toml, the drawing page) uses the
terms of docs/glossary.ko.md and none of the forms it marks as not used."""

import json
import pathlib
import re
import subprocess

import pytest
from conftest import REPO

from chapter5.notebooks.twins import HANGUL

ROOT = pathlib.Path(REPO)


def sections(text: str) -> list:
    """(heading level, body) of each part of a markdown file: the lines before the first heading, then each
    heading's."""
    parts, level, body = [], 1, []
    in_code = False
    for line in text.splitlines():
        in_code ^= line.startswith("```")
        heading = re.match(r"^(#{2,3}) ", line) if not in_code else None
        if heading:
            parts.append((level, "\n".join(body)))
            level, body = len(heading.group(1)), [line]
        else:
            body.append(line)
    parts.append((level, "\n".join(body)))
    return parts


def facts(body: str) -> dict:
    """What a section says that a translation must keep: its numbers, flags, commands and links.

    Commands are the lines of its code blocks without their comments. Each README links the other, README.ko.md
    the Korean notebook twins and the Korean screenshots (``*_ko.png``): each counts as its English twin."""
    code = "\n".join(re.findall(r"^```\n(.*?)^```", body, re.S | re.M))
    commands = {re.sub(r"\s+#.*$", "", line).strip() for line in code.splitlines()} - {""}
    links = {re.sub(r"_ko\.png$", ".png", target.replace("chapter5/notebooks/ko/", "chapter5/notebooks/"))
             .replace("README.ko.md", "README.md") for target in re.findall(r"\]\(([^)\s]+)\)", body)}
    return {"numbers": set(re.findall(r"\d+(?:[.,]\d+)*", body)), "flags": set(re.findall(r"--[a-z][a-z_]*", body)),
            "commands": commands, "links": links}


def drift(english: str, korean: str) -> list:
    """Where the two READMEs differ: headings that do not pair up, and each fact one section has and the other
    lacks."""
    en, ko = sections(english), sections(korean)
    problems = []
    if [level for level, _ in en] != [level for level, _ in ko]:
        problems.append(f"headings: README.md has {[b.splitlines()[0] for _, b in en[1:]]}, README.ko.md "
                        f"{[b.splitlines()[0] for _, b in ko[1:]]}")
        return problems
    for (_, en_body), (_, ko_body) in zip(en, ko, strict=True):
        a, b = facts(en_body), facts(ko_body)
        title = en_body.splitlines()[0] if en_body else "(top)"
        for kind in a:
            if a[kind] - b[kind]:
                problems.append(f"{title}: README.ko.md lacks {kind} {sorted(a[kind] - b[kind])}")
            if b[kind] - a[kind]:
                problems.append(f"{title}: README.md lacks {kind} {sorted(b[kind] - a[kind])}")
    return problems


def test_the_korean_readme_is_the_english_one_section_for_section():
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    korean = (ROOT / "README.ko.md").read_text(encoding="utf-8")
    assert drift(english, korean) == []


def test_the_drift_check_finds_a_missing_section_number_or_flag():
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    korean = (ROOT / "README.ko.md").read_text(encoding="utf-8")
    assert any("headings" in p for p in drift(english, korean.replace("### 데이터\n", "데이터\n")))
    assert any("lacks numbers ['0.920']" in p for p in drift(english, korean.replace("0.920", "0.92")))
    assert any("lacks flags ['--weight_init']" in p for p in drift(english, korean.replace("--weight_init", "")))
    assert any("lacks commands" in p for p in drift(english.replace("python -m pytest", "pytest"), korean))
    # The Korean README as it stood before this check: half of README.md.
    old = subprocess.run(["git", "show", "636ac24:README.ko.md"], cwd=REPO, capture_output=True, text=True)
    if old.returncode == 0:
        assert drift(english, old.stdout)


# --- terms ------------------------------------------------------------------------------------------------------

def glossary() -> list:
    """(English, Korean used, [forms not used]) of each row of docs/glossary.ko.md."""
    rows = []
    for line in (ROOT / "docs" / "glossary.ko.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("| ") else []
        if len(cells) >= 3 and cells[0] not in ("English", "---") and not set(cells[0]) <= set("- "):
            avoided = [f.strip().strip("`") for f in cells[2].split(",") if f.strip() and f.strip() != "—"]
            rows.append((cells[0], cells[1], avoided))
    return rows


def korean_texts() -> dict:
    """Every Korean text a reader sees, by where it is."""
    texts = {"README.ko.md": (ROOT / "README.ko.md").read_text(encoding="utf-8")}
    for path in sorted((ROOT / "chapter5" / "notebooks" / "ko").glob("*.toml")):
        import tomllib

        data = tomllib.loads(path.read_text(encoding="utf-8"))
        texts[str(path.relative_to(ROOT))] = "\n".join(entry["ko"] for kind in data.values() for entry in kind)
    texts["chapter5/notebooks/ko/README.md"] = (ROOT / "chapter5" / "notebooks" / "ko" / "README.md").read_text(
        encoding="utf-8")
    script = (ROOT / "chapter5" / "draw" / "static" / "draw.js").read_text(encoding="utf-8")
    texts["draw.js (ko)"] = script[script.index("  ko: {"):script.index("\n};")]
    texts["dlfund/data (ko class names)"] = json.dumps(__import__("dlfund.data", fromlist=["x"]).KOREAN_CLASS_NAMES,
                                                       ensure_ascii=False)
    return texts


def test_the_glossary_has_one_korean_term_for_each_english_one():
    rows = glossary()
    assert len(rows) >= 20
    english = [e.lower() for e, _, _ in rows]
    assert len(english) == len(set(english))
    assert all(HANGUL.search(k) for _, k, _ in rows)
    for _, used, avoided in rows:
        assert used not in avoided


@pytest.mark.parametrize("where", sorted(korean_texts()))
def test_no_korean_text_uses_a_form_the_glossary_marks_as_not_used(where):
    text = re.sub(r"\s+", " ", korean_texts()[where])  # a form broken across two lines is still that form
    found = [(english, form) for english, _, avoided in glossary() for form in avoided if form in text]
    assert found == []
