"""The suite itself: it passes when pytest starts with SIGINT ignored (a shell script's ``&``, ``nohup``), and a
session stopped midway leaves no process of its own running. Each case runs a small pytest session of the project's
own tests that start children, in a process of its own, its processes marked by their environment."""

import pathlib
import re
import signal
import subprocess
import time

import pytest
from conftest import CHILDREN, REPO, SUITE_ID, SUITE_MARK, finish, program_env, scenario


def marked(mark: str) -> list:
    """Pids of the processes whose environment carries ``SUITE_MARK=mark``."""
    found, needle = [], f"{SUITE_MARK}={mark}".encode() + b"\0"
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ and state != "Z":
            found.append(int(entry.name))
    return found


def command(pid: int) -> str:
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def nested_session(workdir, name: str, tests: list, sigint_ignored: bool) -> tuple[subprocess.Popen, str]:
    """``python -m pytest TESTS`` in a process of its own, its processes marked with an id of their own."""
    mark = f"{SUITE_ID}-{name}"
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**program_env(), SUITE_MARK: mark}
    proc = CHILDREN.start(["-m", "pytest", "-p", "no:cacheprovider", f"--basetemp={workdir / 'tmp'}", *tests],
                          sigint_ignored=sigint_ignored, env=env, cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    return proc, mark


@scenario
def nested_sessions(workdir):
    # 1. SIGINT ignored in pytest's process: the tests that send SIGINT to a child, and the one that checks this
    #    process's handlers, pass.
    proc, mark = nested_session(workdir / "ignored", "ignored", [
        "tests/test_reliability.py::test_ctrl_c_while_tensorflow_loads_ends_with_one_line_and_exit_130",
        "tests/test_reliability.py::test_signals_during_training_stop_it_and_after_it_interrupt_at_once"],
        sigint_ignored=True)
    ignored = finish(proc, "the nested session with SIGINT ignored")
    left_after_pass = marked(mark)
    # 2. Stopped by Ctrl-C (SIGINT to pytest) while a background scenario's first program runs (seen as it
    #    starts; it imports TensorFlow and trains for seconds more): the session's end stops it, and the scenario's
    #    thread starts no next program. A module's fixture process (TensorBoard, which would serve forever) is
    #    ended the same way, by :data:`conftest.CHILDREN`, and by its fixture before that.
    training = stop_when(workdir, "training", "chapter5.train", "tests/test_programs.py::test_train_command")
    return ignored, left_after_pass, training


def stop_when(workdir, name: str, running: str, test: str) -> tuple:
    """Runs ``test`` in a nested session, sends it SIGINT once one of its processes' command line has ``running``;
    returns the commands running then, the session's (exit code, output, -), and those still running 3 s after it
    ended."""
    proc, mark = nested_session(workdir / name, name, [test], sigint_ignored=False)
    end = time.monotonic() + 1200
    while time.monotonic() < end and proc.poll() is None and not any(
            running in command(p) for p in marked(mark) if p != proc.pid):
        time.sleep(0.2)
    seen = [command(p) for p in marked(mark) if p != proc.pid]
    proc.send_signal(signal.SIGINT)
    stopped = finish(proc, f"the nested session {name} after Ctrl-C")
    end = time.monotonic() + 3
    while marked(mark) and time.monotonic() < end:
        time.sleep(0.1)
    return seen, stopped, [command(p) for p in marked(mark)]


@pytest.mark.background("nested_sessions")
def test_the_suite_passes_with_sigint_ignored_and_a_stopped_session_leaves_nothing_running(background):
    ignored, left_after_pass, (running, stopped, left) = background.result("nested_sessions")
    code, out, _ = ignored
    assert code == 0 and "2 passed" in out, out[-3000:]
    assert left_after_pass == []
    assert any("chapter5.train" in c for c in running), running
    code, out, _ = stopped
    assert code == 2 and "KeyboardInterrupt" in out, out[-3000:]  # pytest's exit code for an interrupted session
    assert left == [], f"left running after Ctrl-C: {left}"
    # The training program, still loading TensorFlow, was ended by the session's end (without it, the program would
    # go on until it next wrote to its closed pipe).
    assert re.search(r"^The session's end stopped 1 of its processes: -m chapter5\.train ", out, re.M), out[-3000:]


def test_a_process_a_test_starts_ends_with_the_test(request):
    proc = CHILDREN.start(["-c", "import time; time.sleep(600)"])
    assert proc.poll() is None
    CHILDREN.end(request.node.nodeid)  # what the suite does when a test ends, however it ended
    assert proc.poll() == -signal.SIGKILL and proc.pid not in marked(SUITE_ID)


def test_a_child_gets_pythons_sigint_handler_and_a_process_group_of_its_own_even_when_pytest_ignores_sigint():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = CHILDREN.start(["-c", "import os, signal; print(signal.getsignal(signal.SIGINT) is "
                                     "signal.default_int_handler, os.getpgrp() == os.getpid())"],
                              stdout=subprocess.PIPE, text=True)
        code, out, _ = finish(proc, "a child printing its handler", timeout=300)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert code == 0 and out.split() == ["True", "True"]
