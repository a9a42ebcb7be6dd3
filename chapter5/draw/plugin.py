"""The drawing page as TensorBoard's ``draw`` tab: the same WSGI routes and static files as ``python -m chapter5.draw``.

``pip install -e .`` registers :class:`DrawPlugin` under the ``tensorboard_plugins`` entry point (setup.py), so
``tensorboard --logdir logs`` shows a ``draw`` tab over the same runs and checkpoints, with the page's JSON API
under TensorBoard's plugin prefix: ``/data/plugin/draw/api/runs``, ``/data/plugin/draw/api/read?run=...``.

TensorBoard's frame imports ``static/index.js`` (:meth:`DrawPlugin.frontend_metadata`), which opens the page
(``index.html``) in the frame; every URL of the page is relative, so it finds its script, style and API under
the prefix. The page's application, and the graphs it builds, are made on the tab's first request, not when
TensorBoard starts; this module imports no TensorFlow of its own (TensorBoard's start-up has imported it already:
``main_lib.global_init`` reads ``tf.__version__``). The requests of TensorBoard's threads share one
:class:`chapter5.draw.app.App`: one graph and session per (run, checkpoint), never closed while a request holds
it.
"""

from __future__ import annotations

import glob
import os
import threading

from tensorboard.plugins import base_plugin

from chapter5.draw import LOCAL_HOSTS

PLUGIN_NAME = "draw"

#: Where TensorBoard serves a plugin's routes.
PREFIX = "/data/plugin/" + PLUGIN_NAME


def has_checkpoint(logdir: str) -> bool:
    """Whether a run under ``logdir`` (to two levels, as the page lists them) has a checkpoint, without TensorFlow."""
    base = glob.escape(logdir)
    return any(glob.glob(os.path.join(base, *depth, "model-checkpoint-*.index")) for depth in (("*",), ("*", "*")))


class DrawPlugin(base_plugin.TBPlugin):
    """TensorBoard's ``draw`` tab (``base_plugin.TBPlugin``).

    Args:
        context: TensorBoard's ``TBContext``: its ``logdir``, and its flags (``--host``, ``--bind_all``) decide
            whether requests to other host names are refused, as the page's own server does.
    """

    plugin_name = PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext) -> None:
        self._logdir = context.logdir or ""
        flags = context.flags
        host = getattr(flags, "host", None)
        opened = bool(getattr(flags, "bind_all", False)) or (host not in (None, "", *LOCAL_HOSTS))
        self._allowed_hosts = None if opened else LOCAL_HOSTS
        self._app = None
        self._app_lock = threading.Lock()

    def get_plugin_apps(self) -> dict:
        return {"/*": self._serve}

    def is_active(self) -> bool:
        return has_checkpoint(self._logdir)

    def frontend_metadata(self) -> base_plugin.FrontendMetadata:
        # The page asks for new checkpoints itself: TensorBoard's reload button has nothing to add.
        return base_plugin.FrontendMetadata(es_module_path="/static/index.js", tab_name=PLUGIN_NAME,
                                            disable_reload=True)

    def app(self):
        """The page's WSGI application, made on the first request."""
        with self._app_lock:
            if self._app is None:
                from chapter5.draw.app import App

                self._app = App(self._logdir, allowed_hosts=self._allowed_hosts)
            return self._app

    def _serve(self, environ: dict, start_response):
        """TensorBoard hands over the whole path: the page's routes see it without the plugin prefix."""
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX):
            environ = {**environ, "PATH_INFO": path[len(PREFIX):] or "/",
                       "SCRIPT_NAME": environ.get("SCRIPT_NAME", "") + PREFIX}
        return self.app()(environ, start_response)
