"""TensorBoard's ``draw`` tab (chapter5.draw.plugin): its routes in this process through werkzeug's test client, as
TensorBoard's own plugin tests do, with the page's bad-input cases; then a real ``tensorboard`` with the installed
entry point, its plugin listing, and the tab in headless Chromium answering a drawn digit as chapter5.predict does."""

import argparse
import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import CHILDREN, run_args, run_program
from test_draw import canvas_png, linked_copy, png
from test_draw_browser import CHROMEDRIVER, answered, draw, predicted, wait
from werkzeug.test import Client

from chapter5.draw import app as draw_app
from chapter5.draw import plugin
from dlfund.data import mnist


def tab(logdir, **flags) -> plugin.DrawPlugin:
    from tensorboard.plugins import base_plugin

    context = base_plugin.TBContext(logdir=str(logdir), flags=argparse.Namespace(**{"host": None, "bind_all": False,
                                                                                     **flags}))
    return plugin.DrawPlugin(context)


@pytest.fixture(scope="module")
def logdir(sample_run, tmp_path_factory):
    return linked_copy(sample_run[0], tmp_path_factory.mktemp("tab") / "logs" / "quickstart").parent


@pytest.fixture(scope="module")
def tab_client(logdir):
    draw_tab = tab(logdir)
    yield Client(draw_tab.get_plugin_apps()["/*"])  # TensorBoard hands the whole path to a "/*" route
    draw_tab.app().models.close()


@pytest.fixture(scope="module")
def digits():
    return mnist.read_data_sets("", dataset="mnist_sample", one_hot=False).test


def test_the_tab_answers_under_tensorboards_prefix_as_the_page_does(tab_client, logdir, digits):
    page = Client(draw_app.App(str(logdir)))
    assert tab_client.get(f"{plugin.PREFIX}/api/runs").get_json() == page.get("/api/runs").get_json()
    body = canvas_png(digits.images[3])
    for route in ("read", "explain", "attribution"):
        query = {"read": "", "explain": "&layer=conv_2&unit=3,4,5", "attribution": "&method=saliency"}[route]
        on_tab = tab_client.post(f"{plugin.PREFIX}/api/{route}?run=quickstart{query}", data=body)
        on_page = page.post(f"/api/{route}?run=quickstart{query}", data=body)
        assert on_tab.status_code == on_page.status_code == 200
        assert on_tab.get_json() == on_page.get_json(), route
    index = tab_client.get(f"{plugin.PREFIX}/index.html")
    assert index.status_code == 200 and b'src="static/draw.js"' in index.data  # relative: found under the prefix
    module = tab_client.get(f"{plugin.PREFIX}/static/index.js")
    assert module.status_code == 200 and module.mimetype == "text/javascript"
    assert b"export function render" in module.data
    page.application.models.close()


@pytest.mark.parametrize("method, url, body, status", [
    ("post", "/api/read?run=quickstart", b"notes, not a picture", 400),
    ("post", "/api/read?run=quickstart", png(__import__("numpy").zeros((280, 280, 3), "uint8")), 400),
    ("post", "/api/read?run=quickstart&checkpoint=latest", None, 400),
    ("get", "/api/read?run=quickstart", None, 405),
    ("post", "/api/read?run=../outside", None, 404),
    ("post", "/api/explain?run=quickstart&layer=conv_9&unit=0,0,0", None, 400),
    ("post", "/api/explain?run=quickstart&layer=fc&unit=2000", None, 400),
    ("post", "/api/attribution?run=quickstart&method=lime", None, 400),
    ("post", "/api/attribution?run=quickstart&method=saliency&target=12", None, 400),
    ("get", "/api/nothing", None, 404),
], ids=["not_a_picture", "blank", "checkpoint_not_a_number", "wrong_method", "outside", "bad_layer", "bad_unit",
        "bad_method", "bad_class", "unknown"])
def test_bad_requests_to_the_tab_get_the_pages_one_line(tab_client, digits, method, url, body, status):
    body = canvas_png(digits.images[0]) if body is None else body
    response = getattr(tab_client, method)(plugin.PREFIX + url, data=body)
    assert response.status_code == status and len(response.get_json()["error"].splitlines()) == 1
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_tab_refuses_other_host_names_unless_tensorboard_was_opened_to_the_network(logdir):
    closed = Client(tab(logdir).get_plugin_apps()["/*"])
    assert closed.get(f"{plugin.PREFIX}/api/runs", headers={"Host": "evil.example:6006"}).status_code == 403
    assert closed.get(f"{plugin.PREFIX}/api/runs", headers={"Host": "localhost:6006"}).status_code == 200
    opened = Client(tab(logdir, bind_all=True).get_plugin_apps()["/*"])
    assert opened.get(f"{plugin.PREFIX}/api/runs", headers={"Host": "my-laptop.lan:6006"}).status_code == 200


def test_the_tab_is_active_once_a_run_has_a_checkpoint(tmp_path, logdir):
    assert tab(logdir).is_active()
    assert not tab(tmp_path).is_active()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "flags.cfg").write_text("--model=mnist_conv\n")
    assert not tab(tmp_path).is_active()
    (tmp_path / "run" / "model-checkpoint-5.index").write_bytes(b"")
    assert tab(tmp_path).is_active()
    metadata = tab(logdir).frontend_metadata()
    assert metadata.es_module_path == "/static/index.js" and metadata.tab_name == "draw"


# --- a real TensorBoard -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tensorboard(logdir):
    """``tensorboard --logdir=... --port=0`` with the installed entry point, in a process group of its own that ends
    with the module (also when the suite stops early)."""
    command = [os.path.join(os.path.dirname(sys.executable), "tensorboard"), f"--logdir={logdir}", "--port=0"]
    proc = CHILDREN.start(command, owner="session", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port, end, seen = None, time.monotonic() + 300, []
        while port is None and time.monotonic() < end:  # (a slow machine: TensorFlow's import alone takes 10 s)
            line = proc.stdout.readline()
            seen.append(line)
            found = re.search(r"TensorBoard \S+ at http://[^:]+:(\d+)/", line)
            port = int(found.group(1)) if found else None
            if not line and proc.poll() is not None:
                raise AssertionError(f"tensorboard ended (exit {proc.returncode}): {''.join(seen)[-2000:]}")
        assert port, f"tensorboard did not start in 300 s: {''.join(seen)[-2000:]}"
        yield f"http://127.0.0.1:{port}/"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # its process group (conftest.Children)
        proc.wait()


def test_tensorboard_lists_the_tab_and_serves_its_api(tensorboard):
    import json
    import urllib.request

    with urllib.request.urlopen(tensorboard + "data/plugins_listing") as response:
        listing = json.load(response)
    assert listing["draw"]["enabled"] and listing["draw"]["tab_name"] == "draw"
    assert listing["draw"]["loading_mechanism"]["module_path"] == "/data/plugin/draw/static/index.js"
    with urllib.request.urlopen(tensorboard + "data/plugin/draw/api/runs") as response:
        assert [r["name"] for r in json.load(response)["runs"]] == ["quickstart"]


@pytest.mark.skipif(not (os.path.exists(CHROMEDRIVER) and shutil.which("chromium")),
                    reason="the browser test needs Debian's chromium and chromium-driver")
def test_a_digit_drawn_in_tensorboards_tab_is_answered_as_predict_answers_it(tensorboard, logdir, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1400,1000", "--lang=en"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(tensorboard + "#draw")
        wait(driver, lambda d: d.find_elements("css selector", "iframe"), "the tab's frame", timeout=120)
        driver.switch_to.frame(driver.find_elements("css selector", "iframe")[0])
        wait(driver, lambda d: d.find_elements("id", "checkpoint-label")
             and d.find_element("id", "checkpoint-label").text.startswith("step"), "the page in the frame", 120)
        assert driver.execute_script("return location.pathname") == "/data/plugin/draw/index.html"
        draw(driver, [[(-50, -80), (-10, -95), (35, -80), (45, -45), (20, -5), (-20, 40), (-55, 85), (60, 85)]])
        page = answered(driver)
        data_url = driver.execute_script("return document.getElementById('canvas').toDataURL('image/png')")
        (tmp_path / "canvas.png").write_bytes(base64.b64decode(data_url.split(",", 1)[1]))
    finally:
        driver.quit()
    proc = run_program("predict", *run_args(logdir / "quickstart"), str(tmp_path / "canvas.png"))
    assert proc.returncode == 0, proc.stderr
    assert predicted(proc, tmp_path / "canvas.png")[0] == page["answer"]
