"""Runnable programs of chapter 5: ``python -m chapter5.train --flagfile=chapter5/flags/quickstart.cfg``.

These modules own the command-line flags, signals and everything printed; the
graphs, data readers and the training loop come from the ``dlfund`` library.
The programs are ``train``, ``evaluate``, ``predict``, ``export``, ``compare``,
``benchmark``, ``draw`` (the drawing page, also a TensorBoard tab) and
``notebooks`` (executes the notebooks); each concern they share has one module:

* ``flag_defs``: every flag, defined once;
* ``from_flags``: what the flags build (library arguments, data, a session, a restored model);
* ``rundir``: the run directory (lock, ``flags.cfg``, ``run_info.txt``, ``results.json``, finding runs and checkpoints);
* ``_cli``: running a program (help, flagfiles, one line per error, flag advice for the library's errors);
* ``progress``: what is shown while a program works;
* ``interrupts``: Ctrl-C and SIGTERM, from a program's first line to its last.

Importing this package imports TensorFlow quietly first (:func:`quiet_tensorflow`),
so that the programs print the book's lines and not TensorFlow's start-up
noise, whatever the order of the imports in the program modules. (TensorBoard,
which loads the ``draw`` tab from ``chapter5.draw.plugin``, has imported
TensorFlow itself by then: its ``main_lib.global_init`` reads ``tf.__version__``.)

When a program starts (``python -m chapter5.<program>``), this package's first
statement holds SIGINT and SIGTERM back (blocks them): a Ctrl-C while TensorFlow
loads, the data is read or the graph is built waits, and the program takes it
at one point, ``chapter5.interrupts.take_pending``: one line and exit code 130
(143 for SIGTERM) if it came while starting, a clean stop if it comes later.
TensorFlow's import code, which can swallow a ``KeyboardInterrupt``, never
sees one.
"""

import signal
import sys

# ``python -m chapter5.<program>`` imports this package with argv[0] == "-m" (runpy sets the module's path
# only afterwards): only then, not when a test or a notebook imports it, are the signals held back.
if sys.argv[:1] == ["-m"]:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})

from dlfund.quiet import import_tensorflow  # noqa: E402  (after the signals are held)


def quiet_tensorflow(argv=None) -> None:
    """Imports TensorFlow with its start-up and deprecation messages hidden, unless ``--verbose`` is given."""
    argv = sys.argv if argv is None else argv
    import_tensorflow(verbose=any(a in ("--verbose", "--verbose=true", "--verbose=True", "--verbose=1") for a in argv))


quiet_tensorflow()
