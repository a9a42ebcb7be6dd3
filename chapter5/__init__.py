"""Runnable programs of chapter 5: ``python -m chapter5.train --flagfile=chapter5/flags/quickstart.cfg``.

These modules own the command-line flags, signals and everything printed; the
graphs, data readers and the training loop come from the ``dlfund`` library.
The programs are ``train``, ``evaluate``, ``predict``, ``export``, ``compare``
and ``benchmark``; each concern they share has one module:

* ``flag_defs``: every flag, defined once;
* ``from_flags``: what the flags build (library arguments, data, a session, a restored model);
* ``rundir``: the run directory (lock, ``flags.cfg``, ``run_info.txt``, ``results.json``, finding runs and checkpoints);
* ``_cli``: running a program (help, flagfiles, one line per error, flag advice for the library's errors);
* ``progress``: what is shown while a program works;
* ``interrupts``: Ctrl-C and SIGTERM during training.

Importing this package imports TensorFlow quietly first (:func:`quiet_tensorflow`),
so that the programs print the book's lines and not TensorFlow's start-up
noise, whatever the order of the imports in the program modules; a Ctrl-C
during that start-up ends the program with one line and exit code 130.
"""

import os
import sys

from dlfund.quiet import import_tensorflow


def _interrupted_while_starting(kind, value, traceback) -> None:
    """Ctrl-C before a program's own handling is in place (while TensorFlow loads): one line, exit 130."""
    if issubclass(kind, KeyboardInterrupt):
        print("\nInterrupted while starting; nothing was being saved at that moment.", file=sys.stderr, flush=True)
        os._exit(130)  # nothing to clean up yet; 130 is how shells report SIGINT
    sys.__excepthook__(kind, value, traceback)


# ``python -m chapter5.<program>`` imports this package with argv[0] == "-m" (runpy sets the module's path
# only afterwards): only then, not when a test or a notebook imports it, is a Ctrl-C during start-up quiet.
if sys.argv[:1] == ["-m"]:
    sys.excepthook = _interrupted_while_starting


def quiet_tensorflow(argv=None) -> None:
    """Imports TensorFlow with its start-up and deprecation messages hidden, unless ``--verbose`` is given."""
    argv = sys.argv if argv is None else argv
    import_tensorflow(verbose=any(a in ("--verbose", "--verbose=true", "--verbose=True", "--verbose=1") for a in argv))


quiet_tensorflow()
