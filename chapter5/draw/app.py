"""The drawing page's WSGI application: its routes, the models it has loaded, and its answers as JSON.

Routes (werkzeug's routing; every error is JSON ``{"error": "one line"}``):

* ``GET /``: the page (``static/index.html``); ``GET /static/<file>``: its script, style and icons;
* ``GET /api/runs``: the runs under ``--logdir`` with their model, data set, class names and the steps of the
  checkpoints they hold (the page polls it, so a run's new checkpoint appears by itself);
* ``POST /api/read?run=NAME&checkpoint=STEP``: the body is a picture file's bytes (the canvas sends a PNG);
  the answer, the ten probabilities, the network's input and every layer's activations. ``checkpoint`` left
  out means the run's newest intact one;
* ``GET /api/weights?run=NAME&checkpoint=STEP``: the first layer's filters;
* ``POST /api/explain?run=NAME&checkpoint=STEP&layer=LAYER&unit=I,J,K``: how one unit's value was computed for
  the picture in the body (:func:`dlfund.explain.unit_parts`);
* ``POST /api/attribution?run=NAME&checkpoint=STEP&method=METHOD&target=CLASS&contrast=CLASS``: which pixels
  made the answer (:func:`dlfund.explain.attributions`; ``target`` left out: the network's answer);
* ``GET /api/evaluation?run=NAME[&true=I&predicted=J]``: the test confusion matrix ``chapter5.evaluate`` saved,
  or the test pictures of one cell; ``GET /api/test_picture?run=NAME&index=N``: one of them as a PNG file.

A picture is read exactly as ``chapter5.predict`` reads a file (:func:`dlfund.pictures.prepare_picture`).
One graph and session per (run, checkpoint) is kept (:class:`Models`), shared by all requests; TensorFlow
sessions can run from several threads at once. Requests whose ``Host`` header is not this machine's are
refused unless the server was opened to the network (DNS rebinding, as Jupyter does).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Request, Response

from chapter5 import from_flags, rundir
from chapter5.draw import LOCAL_HOSTS, messages
from dlfund import analysis, checkpoints, digits, explain, pictures
from dlfund import data as datasets
from dlfund.errors import CheckpointError, DataError, DlfundError, NoReadableCheckpoint, RunDirError
from dlfund.models import get_model

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")

#: The largest picture a request may send: the one limit of every picture read (:mod:`dlfund.pictures`).
MAX_BODY_BYTES = pictures.MAX_PICTURE_BYTES


#: Sent with every response, as TensorBoard's server does: no type guessing, and nothing loaded from elsewhere
#: (the page's script, style and pictures come from this server; drawings and maps are data: or blob: URLs).
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff",
                    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:"}

#: Seconds between two scans of the run directories for new runs and checkpoints.
RUNS_REFRESH = 2.0

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


@dataclasses.dataclass(eq=False)
class Loaded:
    """A run's network restored from one checkpoint, and who is using it.

    ``holders`` counts the requests computing with it (:meth:`Models.use`); a
    network pushed out of the cache is closed when the last of them lets go.
    """
    run: str
    step: int
    checkpoint: str
    model: str
    dataset: str
    class_names: list
    whitened: bool  # the input is whitened per image (dlfund.pictures.is_whitened)
    graph: object  # dlfund.graph.ModelGraph
    session: object  # tf.compat.v1.Session
    lock: threading.Lock  # serializes reads of the weights (first_layer_weights); sess.run itself is thread-safe
    explainer: object = None  # dlfund.explain.Explainer: its ops are added while no request holds the graph
    tensors: dict = dataclasses.field(default_factory=dict)  # dlfund.analysis.layer_tensors, found once
    nonnegative: dict = dataclasses.field(default_factory=dict)  # layer -> shaded from 0 (ReLU) or around 0
    holders: int = 0
    retired: bool = False  # out of the cache: closed once no request holds it
    closed: bool = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.session.close()


class Run(NamedTuple):
    """A run directory under ``--logdir`` and its saved flags."""
    name: str
    directory: str
    flags: object  # absl FlagValues


class Models:
    """The runs under a log directory and the networks loaded from their checkpoints, shared by all requests.

    A request takes a network with :meth:`use`; the least recently used
    networks beyond ``capacity`` leave the cache, and each is closed only once
    no request holds it.

    Args:
        logdir: the parent of the run directories (as for ``chapter5.train``).
        capacity: how many (run, checkpoint) networks stay loaded.
        refresh: seconds between two scans of the run directories (:meth:`runs`).
    """

    def __init__(self, logdir: str, capacity: int = CACHE_SIZE, refresh: float = RUNS_REFRESH) -> None:
        self.logdir, self.capacity, self.refresh = logdir, capacity, refresh
        self._runs: tuple | None = None  # (when, listing, tag)
        self._runs_lock = threading.Lock()
        self._loaded: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()  # the cache and every network's holders
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

    def runs(self) -> tuple[list, str]:
        """Every run with its model, data set, class names and checkpoint steps (oldest first), and a tag that
        changes when the listing does.

        The run directories are scanned at most once every ``refresh`` seconds, however many pages ask (as
        TensorBoard reloads its runs on an interval); a page that sends the tag back gets 304 until it changes.
        """
        with self._runs_lock:
            now = time.monotonic()
            if self._runs is None or now - self._runs[0] >= self.refresh:
                listed = self._scan_runs()
                tag = '"' + hashlib.sha1(json.dumps(listed, sort_keys=True).encode()).hexdigest()[:16] + '"'
                self._runs = (now, listed, tag)
            return self._runs[1], self._runs[2]

    def _scan_runs(self) -> list:
        listed = []
        for name in rundir.list_runs(self.logdir):
            try:
                run = self._listed_run(name)
            except ApiError:
                continue  # a damaged flags.cfg: not a run the page can show
            fv = run.flags
            listed.append({"name": name, "model": fv.model, "dataset": fv.dataset,
                           "classes": datasets.class_names(fv.dataset),
                           "classes_ko": datasets.class_names(fv.dataset, "ko"),
                           "drawing": pictures.reads_digits(get_model(fv.model)),
                           "checkpoints": [checkpoints.checkpoint_step(p)
                                           for p in checkpoints.complete(run.directory)][::-1]})
        return listed

    @contextlib.contextmanager
    def use(self, run_name: str, step: int | None) -> Iterator[Loaded]:
        """The run's network restored from the checkpoint at ``step`` (None: the newest that reads back), held
        for the duration: it is not closed while the block runs, even if the cache lets it go.

        Raises:
            ApiError: 404 for a run or checkpoint that is not there, 409 for one that cannot be read.
        """
        loaded = self._get(run_name, step)
        try:
            yield loaded
        finally:
            with self._lock:
                loaded.holders -= 1
                if loaded.retired and loaded.holders == 0:
                    loaded.close()

    def _get(self, run_name: str, step: int | None) -> Loaded:
        """:meth:`use` without the release: the network with one more holder."""
        if step is not None:  # a network already loaded answers without a look at the files (it may be pruned)
            loaded = self._hold((run_name, step))
            if loaded is not None:
                return loaded
        run = self.run(run_name)
        if step is None:  # the newest one loaded already, or else the newest that reads back in full
            found = checkpoints.complete(run.directory)
            if found:
                loaded = self._hold((run.name, checkpoints.checkpoint_step(found[0])))
                if loaded is not None:
                    return loaded
        try:
            path, _ = checkpoints.checkpoint_to_use(run.directory, step)
        except CheckpointError as e:  # 409: files that are there but do not read back
            there = isinstance(e, NoReadableCheckpoint) or e.path != run.directory
            raise ApiError(409 if there else 404, f"{e.problem}; the page keeps the network it had" if there
                           else e.problem) from None
        key = (run.name, checkpoints.checkpoint_step(path))
        with self._loading:
            loaded = self._hold(key)  # another request may have loaded it meanwhile
            if loaded is not None:
                return loaded
            loaded = self._load(run, path)
            with self._lock:
                loaded.holders += 1
                self._loaded[key] = loaded
                while len(self._loaded) > self.capacity:
                    _, old = self._loaded.popitem(last=False)
                    old.retired = True
                    if old.holders == 0:
                        old.close()
        return loaded

    def _hold(self, key: tuple) -> Loaded | None:
        """The network loaded for (run, step) with one more holder, made the most recently used; None if it is
        not loaded."""
        with self._lock:
            if key not in self._loaded:
                return None
            self._loaded.move_to_end(key)
            loaded = self._loaded[key]
            loaded.holders += 1
            return loaded

    def _load(self, run: Run, path: str) -> Loaded:
        fv = run.flags
        try:
            g, sess, _ = from_flags.build_and_restore(fv, path)
        except CheckpointError as e:
            raise ApiError(409, f"{e}; the page keeps the network it had") from None
        tensors = analysis.layer_tensors(g)
        return Loaded(run.name, checkpoints.checkpoint_step(path), path, fv.model, fv.dataset,
                      datasets.class_names(fv.dataset), pictures.is_whitened(g.spec, fv.whiten), g, sess,
                      threading.Lock(), explain.Explainer(g), tensors, analysis.nonnegative(tensors))

    def close(self) -> None:
        with self._lock:
            for loaded in self._loaded.values():
                loaded.retired = True
                if loaded.holders == 0:
                    loaded.close()
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
            Rule("/index.html", endpoint="index", methods=["GET"]),
            Rule("/static/<path:name>", endpoint="static", methods=["GET"]),
            Rule("/api/runs", endpoint="runs", methods=["GET"]),
            Rule("/api/read", endpoint="read", methods=["POST"]),
            Rule("/api/weights", endpoint="weights", methods=["GET"]),
            Rule("/api/explain", endpoint="explain", methods=["POST"]),
            Rule("/api/attribution", endpoint="attribution", methods=["POST"]),
            Rule("/api/evaluation", endpoint="evaluation", methods=["GET"]),
            Rule("/api/test_picture", endpoint="test_picture", methods=["GET"]),
        ])
        self._test_sets: collections.OrderedDict = collections.OrderedDict()  # (dataset, data_dir) -> pictures
        self._test_lock = threading.Lock()

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
            if getattr(e, "valid_methods", None):
                response.headers["Allow"] = ", ".join(e.valid_methods)
        except Exception as e:  # nothing reaches the reader as a traceback; the detail goes to the terminal only
            line = (str(e).splitlines() or [type(e).__name__])[0][:200]
            print(f"error: {request.method} {request.path}: {type(e).__name__}: {line}", file=sys.stderr, flush=True)
            response = json_response({"error": "internal error: the server's terminal says more"}, 500)
        if response.status_code >= 400 and request.accept_languages.best_match(["en", "ko"]) == "ko":
            response = self.in_korean(response)
        response.headers.update(SECURITY_HEADERS)
        return response(environ, start_response)

    @staticmethod
    def in_korean(response: Response) -> Response:
        """An error answer with its line in Korean (:func:`chapter5.draw.messages.korean`), for a Korean page."""
        try:
            line = json.loads(response.get_data())["error"]
        except (ValueError, KeyError, TypeError):
            return response
        korean = json_response({"error": messages.korean(line)}, response.status_code)
        for name in ("Allow", "ETag"):
            if name in response.headers:
                korean.headers[name] = response.headers[name]
        return korean

    def check_host(self, request: Request) -> None:
        """Refuses a request addressed to another host name (a page elsewhere rebinding its DNS to us)."""
        if self.allowed_hosts is None:
            return
        host = urllib.parse.urlsplit("//" + request.host).hostname or ""
        if host not in self.allowed_hosts:
            raise ApiError(403, f"refused: this server answers requests to {', '.join(self.allowed_hosts)}, "
                                f"not to {host!r} (start it with --host, or TensorBoard with --bind_all, to open it "
                                "to the network)")

    # --- routes -------------------------------------------------------------------------------------------

    def on_index(self, request: Request) -> Response:
        return self.on_static(request, "index.html")

    def on_static(self, request: Request, name: str) -> Response:
        response = send_from_directory(STATIC_DIR, name, request.environ)
        response.headers["Cache-Control"] = "no-cache"
        return response

    def on_runs(self, request: Request) -> Response:
        runs, tag = self.models.runs()
        if tag in request.if_none_match:
            return Response(status=304, headers={"ETag": tag, "Cache-Control": "no-cache"})
        response = json_response({"logdir": self.models.logdir, "runs": runs})
        response.headers["ETag"] = tag
        return response

    def on_read(self, request: Request) -> Response:
        with self.models.use(request.args.get("run", ""), _step(request)) as loaded:
            trace: dict = {}
            image = self.picture(request, loaded, trace)
            return json_response({**answer(loaded, image), "preparation": preparation(trace)})

    def on_weights(self, request: Request) -> Response:
        with self.models.use(request.args.get("run", ""), _step(request)) as loaded, loaded.lock:
            layer, filters = analysis.first_layer_weights(loaded.session, loaded.graph)
            return json_response({"run": loaded.run, "checkpoint": loaded.step, "layer": layer,
                                  "filters": encoded(filters, signed=True)})

    def on_explain(self, request: Request) -> Response:
        unit = request.args.get("unit", "")
        try:
            indices = [int(u) for u in unit.split(",")]
        except ValueError:
            raise ApiError(400, f"unit={unit!r}: give a map's row,column,channel or one index for fc and "
                                "output, whole numbers") from None
        with self.models.use(request.args.get("run", ""), _step(request)) as loaded:
            image = self.picture(request, loaded)
            try:
                parts = explain.unit_parts(loaded.session, loaded.graph, loaded.explainer.layers,
                                           request.args.get("layer", ""), indices, image)
            except explain.ExplainError as e:
                raise ApiError(400, str(e)) from None
            return json_response({"run": loaded.run, "checkpoint": loaded.step, **parts})

    def on_attribution(self, request: Request) -> Response:
        with self.models.use(request.args.get("run", ""), _step(request)) as loaded:
            target, contrast = _class(request, "target", loaded), _class(request, "contrast", loaded)
            image = self.picture(request, loaded)
            if target is None:  # the answer
                target = int(loaded.session.run(loaded.graph.output, {loaded.graph.x: pictures.feed(
                    image, loaded.graph.spec)})[0].argmax())
            try:
                result = explain.attributions(loaded.session, loaded.explainer, image,
                                              request.args.get("method", ""), target, contrast)
            except explain.ExplainError as e:
                raise ApiError(400, str(e)) from None
            return json_response({"run": loaded.run, "checkpoint": loaded.step, **result})

    def on_evaluation(self, request: Request) -> Response:
        """The run's test confusion matrix as ``chapter5.evaluate`` left it; with ``true`` and ``predicted``, the
        test pictures of that cell (at most ``limit``, default 60)."""
        run, evaluation = self.evaluation(request.args.get("run", ""))
        answer = {"run": run.name, "checkpoint": evaluation["checkpoint"], "dataset": evaluation["dataset"],
                  "classes": datasets.class_names(evaluation["dataset"]), "matrix": evaluation["matrix"].tolist()}
        if "true" not in request.args and "predicted" not in request.args:
            return json_response(answer)
        n = len(answer["classes"])
        cell = [_index(request, name, n) for name in ("true", "predicted")]
        limit = _index(request, "limit", 1001, default=60)
        truth, predicted = np.asarray(evaluation["truth"]), np.asarray(evaluation["predicted"])
        found = np.flatnonzero((truth == cell[0]) & (predicted == cell[1]))
        images, _ = self.test_set(evaluation)
        answer.update(true=cell[0], predicted=cell[1], count=int(len(found)),
                      examples=[{"index": int(i), "image": encoded(images[i] / 255.0, signed=False)}
                                for i in found[:limit]])
        return json_response(answer)

    def on_test_picture(self, request: Request) -> Response:
        """One test picture of an evaluated run as a PNG file (the page reads it as if it were drawn)."""
        _, evaluation = self.evaluation(request.args.get("run", ""))
        images, _ = self.test_set(evaluation)
        index = _index(request, "index", len(images))
        return Response(png(images[index]), mimetype="image/png", headers={"Cache-Control": "no-store"})

    def evaluation(self, name: str) -> tuple[Run, dict]:
        """The run and what ``chapter5.evaluate`` saved of it; 404 with the command that makes it."""
        run = self.models.run(name)
        evaluation = analysis.load_evaluation(run.directory)
        if evaluation is None:
            raise ApiError(404, f"run {name!r} has not been evaluated yet: python -m chapter5.evaluate "
                                f"--logdir={self.models.logdir} --run_name={name}")
        return run, evaluation

    def test_set(self, evaluation: dict) -> tuple[np.ndarray, np.ndarray]:
        """The evaluated test set's pictures, read once per data set (the two most recent are kept)."""
        key = (evaluation["dataset"], evaluation["data_dir"])
        with self._test_lock:
            if key not in self._test_sets:
                try:
                    self._test_sets[key] = datasets.test_pictures(*key)
                except DlfundError as e:
                    raise ApiError(409, f"the test set of this evaluation cannot be read: {e.problem}") from None
                while len(self._test_sets) > 2:
                    self._test_sets.popitem(last=False)
            images, labels = self._test_sets[key]
        if len(images) != len(evaluation["truth"]):
            raise ApiError(409, f"the evaluation has {len(evaluation['truth'])} test pictures, {key[1]} now holds "
                                f"{len(images)}: evaluate the run again")
        return images, labels

    @staticmethod
    def picture(request: Request, loaded: Loaded, trace: dict | None = None) -> np.ndarray:
        """The request's body, a picture file's bytes, as the network's input (400 if it is not one)."""
        try:
            return pictures.prepare_picture(request.get_data(cache=False), "the picture sent", loaded.graph.spec,
                                            loaded.whitened, trace)
        except DataError as e:
            raise ApiError(400, str(e)) from None


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


def _index(request: Request, name: str, size: int, default: int | None = None) -> int:
    """The whole number given as ``name``, from 0 to ``size`` - 1 (400 otherwise)."""
    value = request.args.get(name, "")
    if not value and default is not None:
        return default
    if not value.isdigit() or int(value) >= size:
        raise ApiError(400, f"{name}={value!r}: give a whole number from 0 to {size - 1}")
    return int(value)


def png(image: np.ndarray) -> bytes:
    """A uint8 picture [h, w] or [h, w, 3] as a PNG file's bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


#: Longest side of the pictures of the preparation strip (:func:`preparation`).
STRIP_SIDE = 64


def preparation(trace: dict) -> dict | None:
    """What :func:`dlfund.digits.mnist_like` did with the picture, for the page's strip: the ink map with the ink's
    box, the crop, the strokes at MNIST's width, the fit into 20x20; and where the 28x28 input lies in the picture
    (``frame``: origin row and column, picture pixels per input pixel down and across). None for a CIFAR
    network's input, or a picture that was MNIST's input as it stood (nothing was done)."""
    if "fitted" not in trace:
        return None
    steps = []
    for name in ("ink", "crop", "strokes", "fitted"):
        x = np.asarray(trace[name], np.float32)
        scale = min(1.0, STRIP_SIDE / max(x.shape))
        small = digits.area_resize(x, max(1, round(x.shape[0] * scale)), max(1, round(x.shape[1] * scale)))
        step = {"name": name, **encoded(np.clip(small, 0.0, 1.0), signed=False)}
        if name == "ink":
            step["box"] = [round(v * scale, 2) for v in trace["box"]]
        steps.append(step)
    return {"steps": steps, "frame": [float(v) for v in trace["frame"]]}


def _class(request: Request, name: str, loaded: Loaded) -> int | None:
    """The class given as ``name`` (a number, or one of the run's class names), or None if left out."""
    value = request.args.get(name, "")
    if not value:
        return None
    names = [str(c) for c in loaded.class_names]
    if value in names:
        return names.index(value)
    if value.isdigit() and int(value) < len(names):
        return int(value)
    raise ApiError(400, f"{name}={value!r} is not a class of {loaded.run}: give 0 to {len(names) - 1} or a name "
                        f"({', '.join(names)})")


def answer(loaded: Loaded, image: np.ndarray) -> dict:
    """The network's reading of one prepared input: answer, the graph's own probabilities, input, every layer."""
    g = loaded.graph
    layers, probabilities = analysis.read_input(loaded.session, g, pictures.feed(image, g.spec), loaded.tensors)
    probabilities = probabilities[0]
    best = int(probabilities.argmax())
    nonnegative = loaded.nonnegative
    return {"run": loaded.run, "checkpoint": loaded.step, "model": loaded.model, "dataset": loaded.dataset,
            "answer": best, "answer_name": str(loaded.class_names[best]),
            "probabilities": [round(float(p), 6) for p in probabilities], "classes": loaded.class_names,
            "input": encoded(image, signed=False),
            "layers": [{"name": name, **encoded(values[0], signed=not nonnegative[name])}
                       for name, values in layers.items()]}
