"""The drawing page's WSGI application: its routes, the models it has loaded, and its answers as JSON.

Routes (werkzeug's routing; every error is JSON ``{"error": "one line"}``):

* ``GET /``: the page (``static/index.html``); ``GET /static/<file>``: its script, style and icons;
* ``GET /api/runs``: the runs under ``--logdir`` with their model, data set, class names and the steps of the
  checkpoints they hold (the page polls it, so a run's new checkpoint appears by itself);
* ``POST /api/read?run=NAME&checkpoint=STEP``: the body is a picture file's bytes (the canvas sends a PNG);
  the answer, the ten probabilities, the network's input and every layer's activations. ``checkpoint`` left
  out means the run's newest intact one;
* ``GET /api/weights?run=NAME&checkpoint=STEP``: the first layer's filters.

A picture is read exactly as ``chapter5.predict`` reads a file (:func:`chapter5.predict.prepare_picture`).
One graph and session per (run, checkpoint) is kept (:class:`Models`), shared by all requests; TensorFlow
sessions can run from several threads at once. Requests whose ``Host`` header is not this machine's are
refused unless the server was opened to the network (DNS rebinding, as Jupyter does).
"""

from __future__ import annotations

import base64
import collections
import json
import os
import sys
import threading
import urllib.parse
from typing import NamedTuple

import numpy as np
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Request, Response

from chapter5 import from_flags, predict, rundir
from dlfund import analysis, checkpoints
from dlfund.errors import CheckpointError, DataError, RunDirError
from dlfund.models import get_model

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")

#: The largest picture a request may send (a phone photo is a few MB).
MAX_BODY_BYTES = 20 * 1024 * 1024

#: Host names that are this machine.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")

#: How many (run, checkpoint) networks stay loaded; the least recently used one is closed beyond that.
CACHE_SIZE = 8


class ApiError(HTTPException):
    """An error answered as JSON with its HTTP status and one line."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code

    def get_response(self, environ=None, scope=None) -> Response:
        return json_response({"error": self.description}, self.code)


def json_response(data: dict, status: int = 200) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status, mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


class Loaded(NamedTuple):
    """A run's network restored from one checkpoint."""
    run: str
    step: int
    checkpoint: str
    model: str
    dataset: str
    class_names: list
    whitened: bool  # a CIFAR run's --whiten
    graph: object  # dlfund.graph.ModelGraph
    session: object  # tf.compat.v1.Session
    lock: threading.Lock  # serializes reads of the weights (first_layer_weights); sess.run itself is thread-safe


class Run(NamedTuple):
    """A run directory under ``--logdir`` and its saved flags."""
    name: str
    directory: str
    flags: object  # absl FlagValues


class Models:
    """The runs under a log directory and the networks loaded from their checkpoints, shared by all requests.

    Args:
        logdir: the parent of the run directories (as for ``chapter5.train``).
        capacity: how many (run, checkpoint) networks stay loaded.
    """

    def __init__(self, logdir: str, capacity: int = CACHE_SIZE) -> None:
        self.logdir, self.capacity = logdir, capacity
        self._loaded: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()  # the cache
        self._loading = threading.Lock()  # one network built at a time: no request builds one twice
        self._flags: dict = {}  # run directory -> (flags.cfg's mtime, flags)

    def run(self, name: str) -> Run:
        """The run called ``name`` (a run directory under ``logdir``, as :func:`chapter5.rundir.list_runs` names
        it); a name that is not one (or leads outside ``logdir``) is a 404."""
        if not name or name not in rundir.list_runs(self.logdir):
            raise ApiError(404, f"no run {name!r} in {self.logdir}")
        return self._listed_run(name)

    def _listed_run(self, name: str) -> Run:
        """:meth:`run` for a name that :func:`chapter5.rundir.list_runs` gave (its flags read again only when
        ``flags.cfg`` changed)."""
        directory = os.path.join(self.logdir, name)
        path = rundir.flagfile(directory)
        mtime = os.stat(path).st_mtime_ns
        cached = self._flags.get(directory)
        if cached is None or cached[0] != mtime:
            try:
                cached = (mtime, rundir.read_flags(path))
            except RunDirError as e:
                raise ApiError(409, str(e)) from None
            self._flags[directory] = cached
        return Run(name, directory, cached[1])

    def runs(self) -> list:
        """Every run with its model, data set, class names and checkpoint steps (oldest first)."""
        listed = []
        for name in rundir.list_runs(self.logdir):
            try:
                run = self._listed_run(name)
            except ApiError:
                continue  # a damaged flags.cfg: not a run the page can show
            fv = run.flags
            listed.append({"name": name, "model": fv.model, "dataset": fv.dataset,
                           "classes": predict.class_names(fv.dataset),
                           "drawing": predict.reads_digits(get_model(fv.model)),
                           "checkpoints": [checkpoints.checkpoint_step(p) for p in self.checkpoints(run)][::-1]})
        return listed

    @staticmethod
    def checkpoints(run: Run) -> list:
        """Paths of the run's complete checkpoints (their index written), newest first, not read."""
        return [p for p in checkpoints.candidates(run.directory) if checkpoints.checkpoint_exists(p)]

    def get(self, run_name: str, step: int | None) -> Loaded:
        """The run's network restored from the checkpoint at ``step`` (None: the newest that reads back).

        Raises:
            ApiError: 404 for a run or checkpoint that is not there, 409 for one that cannot be read.
        """
        if step is not None:  # a network already loaded answers without a look at the files (it may be pruned)
            loaded = self._cached((run_name, step))
            if loaded is not None:
                return loaded
        run = self.run(run_name)
        found = self.checkpoints(run)
        if step is None:  # the newest one loaded already, or else the newest that reads back in full
            newest = found[0] if found else None
            path = newest if newest and (run.name, checkpoints.checkpoint_step(newest)) in self._loaded else \
                checkpoints.find_checkpoints(run.directory, newest_only=True).latest
            if path is None:
                raise ApiError(404, f"run {run.name!r} has no checkpoint that reads back yet")
        else:
            paths = [p for p in found if checkpoints.checkpoint_step(p) == step]
            if not paths:
                raise ApiError(404, f"run {run.name!r} has no checkpoint at step {step} (it has "
                                    f"{', '.join(str(checkpoints.checkpoint_step(p)) for p in found) or 'none'})")
            path = paths[0]
        key = (run.name, checkpoints.checkpoint_step(path))
        loaded = self._cached(key)
        if loaded is not None:
            return loaded
        with self._loading:
            loaded = self._cached(key)  # another request may have loaded it meanwhile
            if loaded is not None:
                return loaded
            loaded = self._load(run, path)
            with self._lock:
                self._loaded[key] = loaded
                while len(self._loaded) > self.capacity:
                    _, old = self._loaded.popitem(last=False)
                    old.session.close()
        return loaded

    def _cached(self, key: tuple) -> Loaded | None:
        """The network loaded for (run, step), made the most recently used; None if it is not loaded."""
        with self._lock:
            if key not in self._loaded:
                return None
            self._loaded.move_to_end(key)
            return self._loaded[key]

    def _load(self, run: Run, path: str) -> Loaded:
        fv = run.flags
        try:
            g, sess, _ = from_flags.build_and_restore(fv, path)
        except CheckpointError as e:
            raise ApiError(409, f"{e}; the page keeps the network it had") from None
        return Loaded(run.name, checkpoints.checkpoint_step(path), path, fv.model, fv.dataset,
                      predict.class_names(fv.dataset), fv.whiten, g, sess, threading.Lock())

    def close(self) -> None:
        with self._lock:
            for loaded in self._loaded.values():
                loaded.session.close()
            self._loaded.clear()


def encoded(values: np.ndarray, signed: bool) -> dict:
    """A layer's activations for one picture as bytes for the page: uint8, 0 = the layer's lowest value.

    ReLU layers are scaled from 0 to the layer's largest value (so a map that
    is dark is dark compared with its neighbours); tanh layers and filters
    (``signed``) from -m to m with 0 in the middle grey.
    """
    values = np.asarray(values, np.float32)
    if signed:
        top = max(float(np.abs(values).max()), 1e-6)
        low, high = -top, top
    else:
        low, high = min(float(values.min()), 0.0), max(float(values.max()), 1e-6)
    scaled = np.round((values - low) / (high - low) * 255).astype(np.uint8)
    return {"shape": list(values.shape), "min": low, "max": high,
            "data": base64.b64encode(scaled.tobytes()).decode("ascii")}


class App:
    """The page and its JSON API over the runs in ``logdir`` (a WSGI application).

    Args:
        logdir: the parent of the run directories.
        allowed_hosts: host names a request may address; None allows any (the server was opened to the
            network on purpose).
        max_body_bytes: the largest picture a request may send.
    """

    def __init__(self, logdir: str, allowed_hosts: tuple | None = LOCAL_HOSTS,
                 max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.models = Models(logdir)
        self.allowed_hosts, self.max_body_bytes = allowed_hosts, max_body_bytes
        self.urls = Map([
            Rule("/", endpoint="index", methods=["GET"]),
            Rule("/static/<path:name>", endpoint="static", methods=["GET"]),
            Rule("/api/runs", endpoint="runs", methods=["GET"]),
            Rule("/api/read", endpoint="read", methods=["POST"]),
            Rule("/api/weights", endpoint="weights", methods=["GET"]),
        ])

    def __call__(self, environ, start_response):
        request = Request(environ)
        request.max_content_length = self.max_body_bytes
        try:
            self.check_host(request)
            endpoint, args = self.urls.bind_to_environ(environ).match()
            response = getattr(self, "on_" + endpoint)(request, **args)
        except ApiError as e:
            response = e.get_response()
        except RequestEntityTooLarge:
            response = json_response({"error": f"the picture is larger than {self.max_body_bytes // 2**20} MB"},
                                     413)
        except HTTPException as e:  # werkzeug's own: 404 for an unknown address, 405 for a wrong method
            response = json_response({"error": f"{e.name}: {request.method} {request.path}"}, e.code)
        except Exception as e:  # nothing reaches the reader as a traceback; the server goes on
            line = (str(e).splitlines() or [type(e).__name__])[0][:200]
            print(f"error: {request.method} {request.path}: {type(e).__name__}: {line}", file=sys.stderr, flush=True)
            response = json_response({"error": f"internal error: {line}"}, 500)
        return response(environ, start_response)

    def check_host(self, request: Request) -> None:
        """Refuses a request addressed to another host name (a page elsewhere rebinding its DNS to us)."""
        if self.allowed_hosts is None:
            return
        host = urllib.parse.urlsplit("//" + request.host).hostname or ""
        if host not in self.allowed_hosts:
            raise ApiError(403, f"refused: this server answers requests to {', '.join(self.allowed_hosts)}, "
                                f"not to {host!r} (start it with --host to open it to the network)")

    # --- routes -------------------------------------------------------------------------------------------

    def on_index(self, request: Request) -> Response:
        return self.on_static(request, "index.html")

    def on_static(self, request: Request, name: str) -> Response:
        response = send_from_directory(STATIC_DIR, name, request.environ)
        response.headers["Cache-Control"] = "no-cache"
        return response

    def on_runs(self, request: Request) -> Response:
        return json_response({"logdir": self.models.logdir, "runs": self.models.runs()})

    def on_read(self, request: Request) -> Response:
        loaded = self.models.get(request.args.get("run", ""), _step(request))
        data = request.get_data(cache=False)
        try:
            image = predict.prepare_picture(data, "the picture sent", loaded.graph.spec, loaded.whitened)
        except DataError as e:
            raise ApiError(400, str(e)) from None
        return json_response(answer(loaded, image))

    def on_weights(self, request: Request) -> Response:
        loaded = self.models.get(request.args.get("run", ""), _step(request))
        with loaded.lock:
            layer, pictures = analysis.first_layer_weights(loaded.session, loaded.graph)
        return json_response({"run": loaded.run, "checkpoint": loaded.step, "layer": layer,
                              "filters": encoded(pictures, signed=True)})


def server(app: App, host: str, port: int, fd: int | None = None) -> BaseWSGIServer:
    """werkzeug's threaded server (a thread per request) for ``app`` on ``host:port`` (or the socket ``fd``)."""
    return make_server(host, port, app, threaded=True, fd=fd)


def _step(request: Request) -> int | None:
    value = request.args.get("checkpoint", "")
    if not value:
        return None
    if not value.isdigit():
        raise ApiError(400, f"checkpoint={value!r}: give a checkpoint's global step, a whole number")
    return int(value)


def answer(loaded: Loaded, image: np.ndarray) -> dict:
    """The network's reading of one prepared input: answer, probabilities, input, every layer."""
    layers = analysis.activations(loaded.session, loaded.graph, image[None].reshape(1, -1)
                                  if len(loaded.graph.spec.input_shape) == 1 else image[None])
    output = layers["output"][0]
    probabilities = np.exp(output - output.max())
    probabilities /= probabilities.sum()
    best = int(probabilities.argmax())
    signed = loaded.graph.spec.name.startswith("lenet5")  # tanh
    return {"run": loaded.run, "checkpoint": loaded.step, "model": loaded.model, "dataset": loaded.dataset,
            "answer": best, "answer_name": str(loaded.class_names[best]),
            "probabilities": [round(float(p), 6) for p in probabilities], "classes": loaded.class_names,
            "input": encoded(image, signed=False),
            "layers": [{"name": name, **encoded(values[0], signed=signed or name == "output")}
                       for name, values in layers.items()]}
