"""Runnable programs of chapter 5: ``python -m chapter5.train --flagfile=chapter5/flags/quickstart.cfg``.

These modules own the command-line flags, the sessions and everything printed;
the graphs and data readers they use come from the ``dlfund`` library.
"""
