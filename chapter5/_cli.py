"""Running a chapter 5 program: the command line (its flagfiles read by ``chapter5.flagfiles``), its help, and
one line per error.

Every program has ``define_flags(fv)`` and ``main(argv, fv)``; :func:`run` wires them to absl,
:func:`call` runs the same program in this process on fresh flags (``chapter5.compare``, the tests).
Either way :func:`guarded` turns a :class:`dlfund.errors.DlfundError` into one line and exit code 1,
with the library's advice given as this program's flags (:func:`command_line_message`).
"""

from __future__ import annotations

import logging
import os
import sys
import textwrap
import warnings
from collections.abc import Callable

import tensorflow as tf
from absl import app, flags
from absl import logging as absl_logging

from chapter5 import flagfiles, interrupts, rundir
from dlfund import checkpoints, errors
from dlfund.errors import DlfundError

EXIT_ERROR = 1  # (an interrupt: 128 + the signal, as shells report it)


DefineFlags = Callable[[flags.FlagValues], None]
Main = Callable[[list, flags.FlagValues], int]


class UsageError(DlfundError):
    """The command line asks for something that cannot be done (a flag value that does not fit the data)."""


def no_arguments(argv: list) -> None:
    """Raises :class:`UsageError` if anything but flags was given (``argv[0]`` is the program)."""
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments {argv[1:]}; flags look like --name=value (see --helpshort)")


def command_line_message(e: DlfundError, program: str, fv: flags.FlagValues) -> str:
    """The one line a reader sees for ``e``: its problem, and its advice in terms of ``program``'s flags.

    The library advises in Python terms (``ModelOptions(book_output_relu=True)``); here the same
    advice is made again as flags (``--book_output_relu``) from the data the error carries.
    """
    advice = _flag_advice(e, program, fv)
    if advice is None:
        return str(e)
    return f"{e.problem}. {advice}" if advice else e.problem


def _flag_advice(e: DlfundError, program: str, fv: flags.FlagValues) -> str | None:
    """The advice for ``e`` in flags ("" for none), or None for an error whose own message says it all."""
    if isinstance(e, errors.DataUnavailable):
        return f"{e.remedy}, or train offline on the bundled MNIST sample with --dataset=mnist_sample."
    if isinstance(e, errors.CheckpointMismatch) and e.output_batch_norm_only:
        return ("These are the output layer's batch norm of the book's listing (errata E1): pass "
                "--book_output_relu to build the network as printed.")
    if isinstance(e, errors.CheckpointMismatch):
        return "Check --model (and --hidden_units) against the run that wrote it."
    if isinstance(e, errors.ForeignCheckpoint):
        return f"Start a new run from it with --init_checkpoint={e.checkpoint}"
    if isinstance(e, errors.NoReadableCheckpoint):
        if program != "train":
            return ""
        new_name = os.path.relpath(e.run_dir, fv.logdir) + "_new"
        return "To start the run over in a new run directory: " + rundir.command(
            "train", f"--flagfile={rundir.flagfile(e.run_dir)}", f"--run_name={new_name}")
    if isinstance(e, errors.TrainingDiverged) and "learning_rate" in fv:
        last_good = checkpoints.latest_intact(rundir.run_dir(fv)) or "none was saved yet"
        kept = f"the last good checkpoint is kept: {last_good}"
        if e.variables and fv.optimizer == "adam" and fv.epsilon == 0:
            # Adam divides by sqrt(v) + epsilon: 0/0 where a weight's gradient has always been 0.
            return (f"Training diverged: Adam with --epsilon=0 divides 0 by 0 for a weight whose gradient has "
                    f"always been 0 (a pixel blank in every image, a unit that never fired): use a positive "
                    f"--epsilon; {kept}")
        return f"Training diverged: try a lower --learning_rate (now {fv.learning_rate:g}); {kept}"
    return None


def program_name(main: Main) -> str:
    """``train`` for ``chapter5.train.main`` (also run as ``__main__``), ``notebooks`` for its ``__main__``."""
    spec = getattr(sys.modules.get(main.__module__), "__spec__", None)
    name = spec.name if spec is not None else main.__module__
    return name.removesuffix(".__main__").rsplit(".", 1)[-1]


def guarded(main: Main, argv: list, fv: flags.FlagValues, take_signals: bool = True) -> int:
    """Runs ``main(argv, fv)``, turning :class:`DlfundError` into one line and exit code 1, an interrupt into
    one line and 130 (:mod:`chapter5.interrupts`; ``take_signals``: act on a signal held back while starting
    first, which ``train`` does itself when training starts)."""
    if fv.verbose:
        tf.get_logger().setLevel(logging.INFO)
        warnings.resetwarnings()
    else:
        # Parts of TensorFlow (SavedModel export, for one) log through absl directly.
        absl_logging.set_verbosity(absl_logging.WARNING)
    try:
        interrupts.take_pending() if take_signals else interrupts.raise_if_pending()
        return main(argv, fv)
    except DlfundError as e:
        if fv.debug:
            raise
        print(f"error: {command_line_message(e, program_name(main), fv)}", file=sys.stderr, flush=True)
        return EXIT_ERROR
    except BrokenPipeError:
        # Output cut short (piped into head): stop quietly; point stdout at /dev/null so
        # the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except KeyboardInterrupt as e:
        if fv.debug:
            raise
        print("\n" + getattr(e, "line", interrupts.INTERRUPTED), file=sys.stderr)
        return 128 + getattr(e, "signum", 2)  # 130 for SIGINT, as shells report it


HELP_ARGS = ("--help", "--helpshort", "-h", "-?")


def short_help(program: str, doc: str, define_flags: DefineFlags, width: int = 100) -> str:
    """The program's description and every flag it defines, with its choices and default.

    absl's ``--helpshort`` lists only flags defined in the main module, and these
    programs define theirs in shared functions (``chapter5.flag_defs``), so it would
    list none; this one lists them all, wrapped between words, never inside a value.
    """
    fv = flags.FlagValues()
    define_flags(fv)
    lines = [(doc or "").strip(), "", f"Flags of python -m {program} (all of them: --helpfull adds absl's own):"]
    for name in sorted(fv):
        flag = fv[name]
        if name != flag.name:  # a short name
            continue
        text = flag.help.strip()
        if isinstance(flag.parser, flags.EnumParser):
            text = text.split(">: ", 1)[-1]  # absl's "<a|b|c>: " prefix, given below as words
            text += " One of: " + ", ".join(v or "''" for v in flag.parser.enum_values) + "."
        default = flag.default
        shown = (",".join(default) if isinstance(default, list) else
                 str(default).lower() if isinstance(default, bool) else "''" if default in ("", []) else default)
        if "Default:" not in text:  # a trained run's flags say their default themselves
            text += f" (default: {shown})"
        lines.append(f"  --{'[no]' if flag.boolean else ''}{name}")
        lines.append(textwrap.fill(text, width, initial_indent="      ", subsequent_indent="      ",
                                   break_long_words=False, break_on_hyphens=False))
    return "\n".join(lines) + "\n"


def run(define_flags: DefineFlags, main: Main, take_signals: bool = True) -> None:
    """The command line: ``absl.app.run`` on the global ``FLAGS`` (exits the process); ``--helpshort``
    (``--help``, ``-h``) prints :func:`short_help`. ``take_signals`` as for :func:`guarded`."""
    if any(a in HELP_ARGS for a in sys.argv[1:]):
        doc = sys.modules[main.__module__].__doc__
        sys.stdout.write(short_help("chapter5." + program_name(main), doc, define_flags))
        sys.exit(0)
    define_flags(flags.FLAGS)
    try:
        sys.argv = [sys.argv[0], *flagfiles.expand(sys.argv[1:])]  # absl opens no flagfile itself
    except flagfiles.FlagfileError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        sys.exit(EXIT_ERROR)
    app.run(lambda argv: guarded(main, argv, flags.FLAGS, take_signals))


def call(define_flags: DefineFlags, main: Main, argv: list) -> int:
    """Runs a program in this process on fresh flags, as :func:`run` would; returns its exit code.

    Args:
        define_flags: the program's flag definitions.
        main: its ``main(argv, fv)``.
        argv: the command line, program name first.
    """
    fv = flags.FlagValues()
    define_flags(fv)
    try:
        rest = fv([argv[0], *flagfiles.expand(argv[1:])])
    except flagfiles.FlagfileError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return EXIT_ERROR
    except flags.Error as e:
        # absl.app.run's words for the same failure.
        print(f"FATAL Flags parsing error: {e}\nPass --helpshort or --helpfull to see help on flags.",
              file=sys.stderr)
        return EXIT_ERROR
    return guarded(main, rest, fv)
