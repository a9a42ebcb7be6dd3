"""Where every number a notebook's text quotes comes from (issue 40's number check).

A number in a notebook's markdown is one of three things, and :func:`unbacked` says which numbers are none of them:

- **a setting**, in the prose or in a code span: a number the notebook's own code holds (``epochs = 6``, Adam's
  ``1e-3``, ``[5, 5, 1, 32]``). Results never count as settings, so a result may not be written in the prose.
- **a printed result**, quoted in a code span as the line that printed it: the span is the beginning of one line
  of the notebook's outputs (stripped), or that beginning, ``…`` and a later part of the same line
  (`` `Epoch: 0006 … Validation Error: 0.032000` ``). A line begins with what it measures (the epoch, the
  network), so a value quoted with the wrong epoch or network is not found. The prose of the same cell may
  name a quoted number again ("the 19 left").
- **a fact of the book, its data or a network's source**, cited for that notebook in :data:`FACTS`.

Numbers are read as values: 1,024 and 1024 alike, 1e-3 and 0.001 alike, percentages as such (``32%`` is never a
setting), negatives, both ends of a range (``0.994-1.000``, ``3 to 5``), and numbers spelled out in English
(``six epochs``) or Korean (``여섯 에포크``, a native numeral before a counter). Digits inside names (``fc_1``,
``LeNet-5``), section numbers (``§5.8``, ``5.10절``, ``4장``) and dimensions (``28x28``) are not numbers here.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from chapter5.notebooks import twins

#: Facts of the book, its data and the networks' sources each notebook may quote without computing them, with
#: where each comes from (the book's files: first_edition_archive/archive/ of
#: darksigma/Fundamentals-of-Deep-Learning-Book at 4cf31ac). A Korean twin cites its English notebook's.
FACTS = {
    "5.08_mnist_convnet": {
        60000: "MNIST's training file: 60,000 images (input_data.py reads them all)",
        55000: "the book's reader trains on 55,000 of them (input_data.py 164: VALIDATION_SIZE = 5000)",
        5000: "the book's validation set (input_data.py 164); also the bundled sample's size "
              "(dlfund/data/mnist_sample/README.md)",
        10000: "MNIST's test file: 10,000 images",
        1e-4: "convnet_mnist.py 12: learning_rate = 0.0001 (Adam)",
        3500: "the bundled sample's training digits (dlfund/data/mnist_sample/README.md)",
    },
    "5.09_preprocessing": {
        24: "cifar10_input.py line 31: IMAGE_SIZE = 24, the crops of the 32x32 images",
    },
    "5.10_batch_norm": {
        0.9: "convnet_cifar_bn.py 37, 59: ExponentialMovingAverage(decay=0.9)",
        500: "the bundled sample's validation digits (dlfund/data/mnist_sample/README.md)",
    },
    "5.11_cifar10": {
        170: "the archive at cifar10_input.py 38's DATA_URL is 170 MB (170,052,171 bytes; dlfund/data/cifar10.py)",
        64: "convnet_cifar.py 60, 64: conv_1 [5, 5, 3, 64], conv_2 [5, 5, 64, 64]",
        384: "convnet_cifar.py 74: fc_1 has 384 units",
        192: "convnet_cifar.py 81: fc_2 has 192 units",
        5000: "CIFAR-10's training records held out for validation here (errata E12)",
    },
    "5.12_visualizing": {},
    "classic_experiments": {
        784: "MNIST's 28x28 pixels as one row (input_data.py); multilayer_perceptron.py's n_input",
        256: "multilayer_perceptron.py: n_hidden_1 = n_hidden_2 = 256",
        10: "multilayer_perceptron.py: 10 outputs, one per digit",
        28: "the square root of 784",
        4: "the book's chapter 4 (the optimizers)",
        3: "the book's chapter 3 (multilayer_perceptron.py)",
        5000: "the bundled sample's size (dlfund/data/mnist_sample/README.md)",
        3500: "the bundled sample's training digits (dlfund/data/mnist_sample/README.md)",
    },
    "keras_twin": {
        3500: "the bundled sample's training digits (dlfund/data/mnist_sample/README.md)",
        0.9: "convnet_cifar_bn.py 37, 59: ExponentialMovingAverage(decay=0.9)",
        784: "convnet_mnist.py: x = tf.placeholder(\"float\", [None, 784])",
        32: "convnet_mnist.py: conv_1's weights [5, 5, 1, 32]",
        5: "convnet_mnist.py: 5x5 filters, conv_1's weights [5, 5, 1, 32]",
        6: "LeNet-5's first layer has 6 maps (LeCun et al. 1998; dlfund/models/lenet5.py)",
    },
}

_ENGLISH = {w: n for n, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve "
                                       "thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty".split())}
_ENGLISH.update({"thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "thousand": 1000, "twice": 2, "once": 1})
#: Korean native numerals, as they stand before a counter ("두 에포크", "여섯 개").
_KOREAN = {"한": 1, "두": 2, "세": 3, "네": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9, "열": 10,
           "스무": 20}
_COUNTERS = ("에포크|개|번|장|층|단계|가지|자리|칸|줄|쌍|모델|네트워크|신경망|값|점|행|그림|숫자|이미지|배치|필터|유닛|"
             "시드|파일|축")

# ASCII word characters only before and after: Korean particles follow numbers directly ("3,500개", "0.963이고").
_DIGITS = r"(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?(?:e-?\d+)?)"
NUMBER = re.compile(r"(?<![A-Za-z0-9_.§/])(?<![A-Za-z][-−–])([-−–]?)" + _DIGITS + r"(%?)(?![A-Za-z0-9_]|\.\d|절|장)")
SPELLED = re.compile(r"\b(" + "|".join(_ENGLISH) + r")\b", re.IGNORECASE)
KOREAN_SPELLED = re.compile(r"(?<![가-힣])(" + "|".join(_KOREAN) + r") (?:" + _COUNTERS + ")")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
ELISION = re.compile(r"\s*(?:…|\.\.\.)\s*")


class Quoted(NamedTuple):
    """A number found in text: its value, whether it is a percentage, and the text around it."""
    value: float
    percent: bool
    where: str


def numbers(text: str) -> list[Quoted]:
    """Every number in ``text`` (see the module's docstring for what counts)."""
    found = []
    for m in NUMBER.finditer(text):
        sign, digits, percent = m.groups()
        before = text[max(0, m.start() - 1):m.start()]
        value = float(digits.replace(",", ""))
        if sign and sign != "–" and not (before and before[-1].isdigit()):
            if before and before[-1].isalpha():
                continue  # a name: LeNet-5, fc-1
            if sign == "−" or sign == "-" and (not before or before in " (["):
                value = -value
        found.append(Quoted(value, bool(percent), text[max(0, m.start() - 30):m.end() + 10]))
    found += [Quoted(float(_ENGLISH[m.group(1).lower()]), False, text[max(0, m.start() - 30):m.end() + 10])
              for m in SPELLED.finditer(text)]
    found += [Quoted(float(_KOREAN[m.group(1)]), False, text[max(0, m.start() - 30):m.end() + 10])
              for m in KOREAN_SPELLED.finditer(text)]
    return found


def values(text: str) -> set[float]:
    """The numbers of ``text`` as a set of values (percentages as their number)."""
    return {q.value for q in numbers(text)}


def cell_values(nb: dict, cell_type: str) -> set[float]:
    """The numbers of all the notebook's cells of one type ("code": its settings; "markdown": what it quotes)."""
    return set().union(*(values("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == cell_type))


def printed_lines(nb: dict) -> list[str]:
    """Every line the notebook's code cells printed (streams and text results), stripped."""
    return [line.strip() for _, text in twins.text_outputs(nb) for line in text.splitlines() if line.strip()]


def quotes_a_printed_line(span: str, lines: list[str]) -> bool:
    """Whether ``span`` is the beginning of a printed line, or that beginning, ``…`` and a later part of it."""
    first, *rest = ELISION.split(span.strip())
    for line in lines:
        if not line.startswith(first):
            continue
        at = len(first)
        for part in rest:
            at = line.find(part, at)
            if at < 0:
                break
            at += len(part)
        else:
            return True
    return False


def unbacked(nb: dict, facts: dict) -> list[str]:
    """The numbers of the notebook's markdown that are neither a setting, a quoted printed line nor a cited fact.

    Args:
        nb: the notebook (nbformat 4 as JSON).
        facts: the book's facts this notebook cites, ``{value: where it comes from}``.

    Returns:
        One line per number found wanting, with the text around it.
    """
    settings = cell_values(nb, "code")
    lines = printed_lines(nb)
    wanting = []
    for index, cell in enumerate(nb["cells"], start=1):
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        quoted = set()  # numbers this cell quotes from printed lines: its prose may name them again
        for span in CODE_SPAN.findall(text):
            if not numbers(span):
                continue
            if quotes_a_printed_line(span, lines):
                quoted |= values(span)
                continue
            wanting += [f"cell {index}: {q.value:g}{'%' if q.percent else ''} in `{span}`"
                        for q in numbers(span) if q.percent or (q.value not in settings and q.value not in facts)]
        for q in numbers(CODE_SPAN.sub(" ", text)):
            if q.percent or not ({q.value} & (settings | quoted | set(facts))):
                wanting.append(f"cell {index}: {q.value:g}{'%' if q.percent else ''} in ...{q.where!r}...")
    return wanting


#: An f-string field with a number format (``{accuracy:.3f}``, ``{rate:g}``, ``{share:.0%}``): a computed value.
FORMATTED = re.compile(r"\{([^{}:!]+)(?:![rsa])?:[^{}]*[efg%]\}")
FIGURE_TEXT = re.compile(r"label=|title|\.text\(|annotate\(|legend\(")


def figure_values_unprinted(nb: dict) -> list[str]:
    """Values a figure's text shows (a legend, a title) that no printed line of this cell or an earlier one shows.

    A value is followed by its expression: a figure line formatting ``{test.accuracy:.3f}`` needs a
    ``print`` of ``test.accuracy`` in this code cell or an earlier one, and that cell must have printed.
    """
    printed, wanting = set(), []
    for index, cell in enumerate(nb["cells"], start=1):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        has_text = any(o.get("output_type") == "stream" and "".join(o.get("text", "")).strip()
                       for o in cell.get("outputs", []))
        if has_text:
            printed |= {expr.strip() for call in re.findall(r"print\((.*?)\)\s*$", source, re.M | re.S)
                        for expr in FORMATTED.findall(call)}
        for line in source.splitlines():
            if FIGURE_TEXT.search(line) and "print(" not in line:
                wanting += [f"cell {index}: {{{expr.strip()}}} in {line.strip()!r}"
                            for expr in FORMATTED.findall(line) if expr.strip() not in printed]
    return wanting
