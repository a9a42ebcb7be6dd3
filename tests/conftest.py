"""Shared test helpers: tiny data sets written into a temp dir, the programs run in this process or, where a
process boundary is the point, in a subprocess."""

import atexit
import contextlib
import importlib
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import chapter5  # noqa: E402,F401  (imports TensorFlow quietly, as the programs do)
from chapter5 import _cli  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Ran(NamedTuple):
    """What a program run left: exit code and its output (like subprocess.CompletedProcess)."""
    returncode: int
    stdout: str
    stderr: str


def run_program(program: str, *args: str) -> Ran:
    """Runs ``python -m chapter5.<program> args`` in this process, on fresh flags, capturing its output."""
    module = importlib.import_module(f"chapter5.{program}")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = _cli.call(module.define_flags, module.main, [f"chapter5.{program}", *args])
    return Ran(code, out.getvalue(), err.getvalue())


def run_args(run_dir) -> list:
    """``--logdir`` and ``--run_name`` of a run directory (a Path), for evaluate, predict and export."""
    return [f"--logdir={run_dir.parent}", f"--run_name={run_dir.name}"]


# --- Processes of the suite ---------------------------------------------------------------------------------
# Every process a test starts goes through :data:`CHILDREN`: in a process group of its own (so that ending it ends
# what it started), with SIGINT's default handler whatever the shell did to pytest's (a shell script's ``&`` or
# ``nohup`` starts pytest with SIGINT ignored, and a child would inherit that), a background scenario's below the
# suite's priority, marked in its environment with the session's id (:data:`SUITE_ID`, inherited by its own children).
# A process started by a test ends with that test; one started by a background scenario or a module's fixture ends
# with the session, also when pytest stops early (-x, --maxfail, Ctrl-C, a failing fixture). Once the session ends,
# none is started.

#: The environment variable that marks the suite's processes; a session started by another (a test of the suite
#: itself) keeps its parent's id, so the parent can find what the nested one left.
SUITE_MARK = "DLFUND_TEST_SUITE"
SUITE_ID = os.environ.get(SUITE_MARK) or f"{os.getpid()}-{time.time_ns()}"

#: Started before the program itself (then replaced by it, ``exec``: the same process): SIGINT's default handler
#: (or ignored, to start a process as a shell script's ``&`` does) and its priority. A background scenario's
#: process is lowered (nice +10), so that the in-process tests (the suite's critical path) keep a core; one that a
#: test in the main thread waits for keeps the priority of the process that starts it. A process in a session of
#: its own is also a scheduling group of its own where Linux's autogroup is on
#: (``/proc/sys/kernel/sched_autogroup_enabled``), and groups share the CPU equally whatever their processes' nice
#: values: so the group is given the process's nice too. Done in the child's own Python rather than
#: ``preexec_fn``, which is unsafe beside the suite's threads.
_LAUNCH = ("import os, signal, sys\n"
           "signal.signal(signal.SIGINT, signal.{sigint})\n"
           "nice = os.nice({lower})\n"
           "try:\n"
           "    open('/proc/self/autogroup', 'w').write(str(nice))\n"
           "except OSError:\n"
           "    pass\n"
           "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")


class Children:
    """The processes the suite started, by owner: a test's node id, or ``"session"``."""

    def __init__(self) -> None:
        self._procs: list = []
        self._lock = threading.Lock()
        self.closed = False
        self.test: str | None = None  # the test running in the main thread

    def start(self, args: list, owner: str | None = None, sigint_ignored: bool = False, env: dict | None = None,
              **popen) -> subprocess.Popen:
        """Starts ``python args...`` (``args`` after the interpreter: ``["-m", module, ...]`` or a script).

        Args:
            args: the interpreter's arguments.
            owner: who ends it; by default the test running in the main thread, or the session for a thread.
            sigint_ignored: start it with SIGINT ignored, as ``&`` in a shell script does (default: Python's own
                handler).
            env: its environment (default :func:`program_env`).
            popen: more arguments of ``subprocess.Popen`` (cwd, stdout, ...).
        """
        in_main = threading.current_thread() is threading.main_thread()
        if owner is None:
            owner = self.test if in_main and self.test else "session"
        with self._lock:
            if self.closed:
                raise RuntimeError("the test session is ending: no new process is started")
            launch = _LAUNCH.format(sigint="SIG_IGN" if sigint_ignored else "SIG_DFL", lower=0 if in_main else 10)
            proc = subprocess.Popen([sys.executable, "-c", launch, *args], env=env or program_env(),
                                    start_new_session=True, **popen)
            self._procs.append((proc, owner))
        return proc

    def end(self, owner: str | None = None) -> list:
        """Ends (SIGKILL to its process group) every process of ``owner`` (None: all) still running; returns
        them."""
        with self._lock:
            chosen = [p for p, o in self._procs if owner is None or o == owner]
            self._procs = [(p, o) for p, o in self._procs if not (owner is None or o == owner)]
        ended = []
        for proc in chosen:
            if proc.poll() is None:
                ended.append(proc)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # its group: also what it started, even after it ended itself
            proc.wait()
        return ended

    def close(self) -> list:
        """No more processes; ends them all; returns those that were still running."""
        with self._lock:
            self.closed = True
        return self.end()


CHILDREN = Children()
atexit.register(CHILDREN.close)  # a last net: pytest's own end calls it first (pytest_sessionfinish)


def program_env() -> dict:
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the program quiets TensorFlow itself, as for a reader
    env[SUITE_MARK] = SUITE_ID
    return env


def finish(proc: subprocess.Popen, what: str, timeout: float = 1200) -> tuple:
    """(exit code, stdout, stderr) of ``proc`` once it ends; past ``timeout`` its group is killed and the test fails
    saying so (the limit is for a machine ten times slower than the developers'; nothing waits for it otherwise)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{what} did not end within {timeout:.0f} s and was killed; it printed: "
                             f"{(out or '')[-1000:]}{(err or '')[-1000:]}") from None
    return proc.returncode, out, err


def run_module(module: str, *args: str, cwd: str = REPO, timeout: float = 1200) -> Ran:
    """Runs ``python -m module args`` in a new process (only where the process boundary is what is tested)."""
    proc = CHILDREN.start(["-m", module, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Ran(*finish(proc, f"python -m {module}", timeout))


def start_module(module: str, *args: str, cwd: str = REPO, owner: str | None = None) -> subprocess.Popen:
    """Starts ``python -m module args`` in a new process, its output piped (see :class:`Children`)."""
    return CHILDREN.start(["-m", module, *args], owner=owner, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


@pytest.fixture(autouse=True)
def _processes_end_with_their_test(request):
    CHILDREN.test = request.node.nodeid
    yield
    CHILDREN.test = None
    CHILDREN.end(request.node.nodeid)


def pytest_sessionfinish(session, exitstatus):
    ended = CHILDREN.close()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if ended and reporter:  # what a stopped session's end ended (a test of the suite looks for this line)
        reporter.write_line(f"The session's end stopped {len(ended)} of its processes: "
                            + "; ".join(" ".join(proc.args[3:]) for proc in ended))


def wait_for(predicate: Callable[[], bool], proc: subprocess.Popen, what: str, timeout: float = 1200.0) -> None:
    """Waits until ``predicate()`` holds; fails if ``proc`` ends first or nothing happens within ``timeout``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the process ended (exit {proc.returncode}) before {what}: "
                                 f"{proc.stderr.read()[-2000:]}")
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {timeout} s")


# --- Tests that need processes of their own ---------------------------------------------------------------
# Starting a Python process that imports TensorFlow takes seconds. The scenarios below run each in a thread
# that drives its processes, all started when the session begins, so that they go on while the in-process
# tests run. A test marked ``@pytest.mark.background("name")`` asks for a scenario; ``background.result(name)``
# waits for it and returns what it returned (or raises what it raised). Only the scenarios of the tests
# selected are started, and those tests run after all the others.

SCENARIOS: dict = {}


def scenario(fn: Callable):
    """Registers ``fn(workdir)`` as a background scenario under its own name."""
    SCENARIOS[fn.__name__] = fn
    return fn


class Background:
    def __init__(self, names, workdir) -> None:
        self.results, self.threads, self.workdir = {}, {}, workdir
        for name in names:
            if name in SCENARIOS:
                self.start(name, SCENARIOS[name])

    def start(self, name: str, fn: Callable) -> None:
        """Starts ``fn(workdir)`` now (a fixture does this for a scenario that needs its work first)."""
        directory = self.workdir / name
        directory.mkdir()
        self.threads[name] = threading.Thread(target=self._run, args=(name, fn, directory), daemon=True, name=name)
        self.threads[name].start()

    def _run(self, name, fn, directory) -> None:
        try:
            self.results[name] = (True, fn(directory))
        except BaseException as e:  # handed to the test that asks for it
            self.results[name] = (False, e)

    def result(self, name: str, timeout: float = 2400):
        if name not in self.threads:
            raise AssertionError(f"background scenario {name} was never started")
        self.threads[name].join(timeout)
        if name not in self.results:
            raise AssertionError(f"background scenario {name} did not finish in {timeout} s")
        ok, value = self.results[name]
        if not ok:
            raise value
        return value


def pytest_configure(config):
    config.addinivalue_line("markers", "background(name): the test uses the background scenario `name`")
    config.addinivalue_line("markers", "early: the test runs first (its fixture starts a background scenario)")


def pytest_collection_modifyitems(session, config, items):
    # The tests that wait for a background scenario run last, so the in-process tests run meanwhile; a test whose
    # fixture starts a scenario runs first, so the scenario runs meanwhile too.
    items.sort(key=lambda item: 0 if item.get_closest_marker("early") else
               2 if item.get_closest_marker("background") else 1)


@pytest.fixture(scope="session", autouse=True)
def background(request, tmp_path_factory):
    # session.items: the tests selected to run (after -k, -m and deselection).
    names = sorted({m.args[0] for item in request.session.items for m in item.iter_markers("background")})
    yield Background(names, tmp_path_factory.mktemp("background"))


def digit_images(labels: np.ndarray, seed: int = 0, size: int = 28) -> np.ndarray:
    """uint8 images [n, size, size] in which the class is learnable: a bright bar at a class-dependent row."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    images = rng.integers(0, 40, size=(n, size, size)).astype(np.uint8)
    for i, label in enumerate(labels):
        row = 2 + int(label) * (size - 4) // 10
        images[i, row:row + 2, 4:size - 4] = 250
    return images


def write_mnist_format(directory: str, n_train: int = 300, n_test: int = 100, seed: int = 0,
                       compress: bool = True) -> str:
    """Writes the four IDX files of a tiny learnable data set; returns the directory."""
    from dlfund.data import idx, mnist
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    train_labels = rng.integers(0, 10, n_train).astype(np.uint8)
    test_labels = rng.integers(0, 10, n_test).astype(np.uint8)
    names = {k: (k if compress else k[:-3]) for k in mnist.FILES}
    idx.write_idx_images(os.path.join(directory, names[mnist.TRAIN_IMAGES]), digit_images(train_labels, seed))
    idx.write_idx_labels(os.path.join(directory, names[mnist.TRAIN_LABELS]), train_labels)
    idx.write_idx_images(os.path.join(directory, names[mnist.TEST_IMAGES]), digit_images(test_labels, seed + 1))
    idx.write_idx_labels(os.path.join(directory, names[mnist.TEST_LABELS]), test_labels)
    return directory


def write_cifar(directory, per_file=20, test=40, seed=0):
    """Writes data_batch_1..5.bin and test_batch.bin; returns {name: (images HWC, labels)}."""
    from dlfund.data import cifar10
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    written = {}
    for name, n in [(f, per_file) for f in cifar10.TRAIN_FILES] + [("test_batch.bin", test)]:
        labels = rng.integers(0, 10, n).astype(np.uint8)
        planes = rng.integers(0, 256, (n, 3, 32, 32)).astype(np.uint8)
        for i, label in enumerate(labels):  # learnable: class sets the red plane's brightness
            planes[i, 0] = 25 * label
        records = np.concatenate([labels[:, None], planes.reshape(n, -1)], axis=1)
        records.astype(np.uint8).tofile(os.path.join(directory, name))
        written[name] = (planes.transpose(0, 2, 3, 1), labels)
    return written


# Session-scoped (test_use_model.py, test_draw.py): the reload test runs last (it waits for a background process).
@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """The §5.8 convnet trained briefly on the bundled sample."""
    logs = tmp_path_factory.mktemp("logs")
    proc = run_program("train", "--flagfile=chapter5/flags/quickstart.cfg", f"--logdir={logs}",
                       "--training_epochs=2", "--progress=off", "--summary_images=false")
    assert proc.returncode == 0, proc.stderr
    accuracy = float(re.search(r"Test Accuracy: (\S+)", proc.stdout).group(1))
    return logs / "quickstart", accuracy
