"""The drawing page in a real browser: Debian's headless Chromium driven over WebDriver (selenium, Debian's
chromedriver: nothing is downloaded), against the page served from this process.

It draws strokes with pointer events and checks the page's answer is ``chapter5.predict``'s on the canvas's own
PNG; chooses ten MNIST test digits as files and checks the ten answers are predict's; moves the checkpoint
slider and checks the answer is that checkpoint's; lets a new checkpoint appear and checks the page reads the
drawing again with it; saves a screenshot. Skipped, with one line saying how to install them, where Chromium
or its driver is missing.
"""

import base64
import os
import shutil
import threading

import numpy as np
import pytest
from conftest import run_args, run_program, write_cifar
from test_draw import canvas_png, png

from dlfund import checkpoints

CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL = "apt-get install -y chromium chromium-driver && pip install selenium"

pytestmark = pytest.mark.skipif(not (os.path.exists(CHROMEDRIVER) and shutil.which("chromium")),
                                reason=f"the browser test needs Debian's chromium and chromium-driver: {INSTALL}")


@pytest.fixture(scope="module")
def served(sample_run, tmp_path_factory):
    """The page over a copy of the briefly trained run, served from a thread of this process."""
    from chapter5.draw.app import App
    from chapter5.draw.app import server as draw_server

    run_dir, _ = sample_run
    logdir = tmp_path_factory.mktemp("draw") / "logs"
    shutil.copytree(run_dir, logdir / "quickstart")
    evaluated = run_program("evaluate", *run_args(logdir / "quickstart"), "--projector_examples=0",
                            "--misclassified_images=0")  # the page's confusion matrix
    assert evaluated.returncode == 0, evaluated.stderr
    cifar_dir = tmp_path_factory.mktemp("cifar")
    write_cifar(str(cifar_dir), per_file=20, test=20)  # a CIFAR-10 run too: its class names on the page
    trained = run_program("train", "--model=cifar_conv", "--dataset=cifar10", f"--data_dir={cifar_dir}",
                          f"--logdir={logdir}", "--run_name=tiny_cifar", "--max_steps=2", "--batch_size=20",
                          "--validation_size=20", "--progress=off", "--summary_images=false", "--eval_examples=20")
    assert trained.returncode == 0, trained.stderr
    app = App(str(logdir))
    server = draw_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.socket.getsockname()[1]}/", logdir
    server.shutdown()
    app.models.close()


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason=f"the browser test needs selenium: {INSTALL}")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1400,1000", "--lang=en"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def wait(driver, condition, what: str, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d), message=what)


def answered(driver, after: int = 0) -> dict:
    """The page's answer once it has answered more than ``after`` times and sent nothing since."""
    def done(d):
        a = d.find_element("id", "answer")
        return a.get_attribute("data-busy") == "0" and int(a.get_attribute("data-count")) > after
    wait(driver, done, f"an answer after {after}")
    a = driver.find_element("id", "answer")
    return {k: a.get_attribute(f"data-{k}") for k in ("answer", "checkpoint", "count", "ms")}


def open_page(driver, url: str) -> None:
    driver.get(url)
    wait(driver, lambda d: d.find_element("id", "checkpoint-label").text.startswith("step"), "the run's checkpoints")


def predicted(proc, path) -> tuple:
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(f"{path}: predicted"))
    return line.split()[2], line


def draw(driver, strokes) -> None:
    """Real pointer strokes on the canvas: each a list of (x, y) offsets from its centre."""
    from selenium.webdriver.common.action_chains import ActionChains

    canvas = driver.find_element("id", "canvas")
    for stroke in strokes:
        actions = ActionChains(driver, duration=20)
        actions.move_to_element_with_offset(canvas, *stroke[0]).click_and_hold()
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
            actions.move_by_offset(x1 - x0, y1 - y0)
        actions.release().perform()


def test_a_drawn_digit_is_answered_as_predict_answers_the_canvas_png(served, browser, tmp_path):
    url, logdir = served
    open_page(browser, url)
    draw(browser, [[(-50, -80), (-10, -95), (35, -80), (45, -45), (20, -5), (-20, 40), (-55, 85), (60, 85)]])
    page = answered(browser)
    data_url = browser.execute_script("return document.getElementById('canvas').toDataURL('image/png')")
    (tmp_path / "canvas.png").write_bytes(base64.b64decode(data_url.split(",", 1)[1]))
    proc = run_program("predict", *run_args(logdir / "quickstart"), str(tmp_path / "canvas.png"))
    assert proc.returncode == 0, proc.stderr
    assert predicted(proc, tmp_path / "canvas.png")[0] == page["answer"]
    assert int(page["checkpoint"]) == max(checkpoints.checkpoint_step(p)
                                          for p in checkpoints.candidates(str(logdir / "quickstart")))
    layers = browser.find_elements("css selector", "#layers .layer code")
    assert [e.text for e in layers] == ["conv_1", "conv_1/pool", "conv_2", "conv_2/pool", "fc", "output"]
    assert len(browser.find_elements("css selector", "#layers .layer:first-child canvas")) == 32
    browser.save_screenshot(str(tmp_path / "page.png"))
    assert (tmp_path / "page.png").stat().st_size > 10_000


def test_ten_test_digits_chosen_as_files_get_predicts_ten_answers(served, browser, tmp_path):
    from dlfund.data import mnist

    url, logdir = served
    open_page(browser, url)
    test = mnist.read_data_sets("", dataset="mnist_sample", one_hot=False).test
    paths = []
    for i in range(10):
        paths.append(tmp_path / f"digit_{i}.png")
        paths[-1].write_bytes(canvas_png(test.images[i * 7], side=28))  # MNIST's own 28x28 form
    proc = run_program("predict", *run_args(logdir / "quickstart"), *map(str, paths))
    assert proc.returncode == 0, proc.stderr
    count = 0
    for path in paths:
        browser.find_element("id", "file").send_keys(str(path))
        page = answered(browser, count)
        count = int(page["count"])
        assert page["answer"] == predicted(proc, path)[0], path.name


def test_the_slider_gives_each_checkpoints_answer_and_a_new_checkpoint_is_read_by_itself(served, browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    url, logdir = served
    run_dir = logdir / "quickstart"
    open_page(browser, url)
    (tmp_path / "digit.png").write_bytes(canvas_png(_seven()))
    browser.find_element("id", "file").send_keys(str(tmp_path / "digit.png"))
    page = answered(browser)
    steps = sorted(checkpoints.checkpoint_step(p) for p in checkpoints.candidates(str(run_dir)))
    for key, step in ((Keys.HOME, steps[0]), (Keys.END, steps[-1])):
        browser.find_element("id", "checkpoint").send_keys(key)
        page = answered(browser, int(page["count"]))
        assert int(page["checkpoint"]) == step
        proc = run_program("predict", *run_args(run_dir), f"--checkpoint={run_dir / f'model-checkpoint-{step}'}",
                           str(tmp_path / "digit.png"))
        assert page["answer"] == predicted(proc, tmp_path / "digit.png")[0]
    # Training writes a new checkpoint: the page, at the newest, reads the picture again with it by itself.
    newest = run_dir / f"model-checkpoint-{steps[-1]}"
    for path in checkpoints.checkpoint_files(str(newest)):
        shutil.copy(path, path.replace(f"-{steps[-1]}.", f"-{steps[-1] + 1000}."))
    page = answered(browser, int(page["count"]))
    assert int(page["checkpoint"]) == steps[-1] + 1000
    assert "A new checkpoint arrived" in browser.find_element("id", "notice").text


def test_the_page_speaks_korean_when_asked(served, browser):
    url, _ = served
    open_page(browser, url)
    browser.find_element("id", "lang").click()
    assert browser.find_element("css selector", "h1").text == "숫자를 그리면 신경망이 읽는 모습을 봅니다"
    browser.find_element("id", "lang").click()
    assert browser.find_element("css selector", "h1").text.startswith("Draw a digit")


def canvas_bytes(driver) -> bytes:
    data_url = driver.execute_script("return document.getElementById('canvas').toDataURL('image/png')")
    return base64.b64decode(data_url.split(",", 1)[1])


def graph_values(logdir, picture: bytes) -> dict:
    """Every layer's values for a picture, computed in this process from the run's newest checkpoint."""
    from chapter5 import from_flags, rundir
    from dlfund import analysis, pictures

    run_dir = str(logdir / "quickstart")
    fv = rundir.read_flags(rundir.flagfile(run_dir))
    g, sess, _ = from_flags.build_and_restore(fv, rundir.checkpoint_to_use(run_dir, ""))
    with sess:
        image = pictures.prepare_picture(picture, "canvas", g.spec, False)
        return analysis.activations(sess, g, pictures.feed(image, g.spec))


def test_a_clicked_unit_shows_parts_that_add_up_to_its_activation_and_an_overlay_is_drawn(served, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import Select

    url, logdir = served
    open_page(browser, url)
    draw(browser, [[(-50, -80), (-10, -95), (35, -80), (45, -45), (20, -5), (-20, 40), (-55, 85), (60, 85)]])
    answered(browser)
    values = graph_values(logdir, canvas_bytes(browser))
    # The 6th map of conv_2 (14x14, shown 3 pixels a unit), clicked at the unit in row 7, column 5.
    map_canvas = browser.find_elements("css selector", '#layers .layer[data-layer="conv_2"] canvas')[5]
    size = map_canvas.size
    ActionChains(browser).move_to_element_with_offset(
        map_canvas, (5.5 / 14 - 0.5) * size["width"], (7.5 / 14 - 0.5) * size["height"]).click().perform()
    wait(browser, lambda d: d.find_element("id", "inspector").get_attribute("data-unit") == "7,5,5", "the inspector")
    result = browser.find_element("css selector", "#inspector .result")
    shown_total, shown_value = float(result.get_attribute("data-total")), float(result.get_attribute("data-value"))
    assert shown_value == pytest.approx(float(values["conv_2"][0, 7, 5, 5]), rel=1e-5, abs=1e-6)
    assert shown_total == pytest.approx(shown_value, rel=1e-4, abs=1e-5)
    assert len(browser.find_elements("css selector", "#inspector .channel")) == 4  # the top 4 of 32 channels
    # The receptive field is outlined on the input the network saw.
    assert browser.execute_script(_PAINTED, "input-overlay") > 0
    # An overlay: integrated gradients, drawn on the input and on the drawing.
    Select(browser.find_element("id", "method")).select_by_value("integrated_gradients")
    wait(browser, lambda d: d.find_element("id", "why").get_attribute("data-method") == "integrated_gradients"
         and d.find_element("id", "why").get_attribute("data-busy") == "0", "the overlay")
    assert browser.execute_script(_PAINTED, "canvas-overlay") > 100
    assert "blank input" in browser.find_element("id", "why-note").text


#: How many pixels of a canvas are not transparent.
_PAINTED = """const c = document.getElementById(arguments[0]);
const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n;"""


def test_a_confusion_cell_shows_its_test_digits_and_one_is_read_as_predict_reads_it(served, browser, tmp_path):
    import urllib.request

    url, logdir = served
    open_page(browser, url)
    wait(browser, lambda d: d.find_elements("css selector", "#confusion button"), "the confusion matrix")
    cells = [b for b in browser.find_elements("css selector", "#confusion button") if b.is_enabled()]
    off_diagonal = [b for b in cells if len(set(b.get_attribute("data-cell").split(","))) == 2]
    (off_diagonal or cells)[0].click()
    wait(browser, lambda d: d.find_elements("css selector", "#examples button.example"), "the cell's digits")
    example = browser.find_elements("css selector", "#examples button.example")[0]
    index = example.get_attribute("data-index")
    example.click()
    page = answered(browser)
    with urllib.request.urlopen(f"{url}api/test_picture?run=quickstart&index={index}") as response:
        (tmp_path / "test.png").write_bytes(response.read())
    proc = run_program("predict", *run_args(logdir / "quickstart"), str(tmp_path / "test.png"))
    assert proc.returncode == 0, proc.stderr
    assert predicted(proc, tmp_path / "test.png")[0] == page["answer"]


def _seven() -> np.ndarray:
    """A 7 in MNIST's form: float [28, 28]."""
    x = np.zeros((28, 28), np.float32)
    x[6:9, 7:21] = 1.0
    for r in range(9, 23):
        c = 19 - (r - 9) // 2
        x[r, c - 1:c + 2] = 1.0
    return x


def test_the_page_works_from_the_keyboard(served, browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    url, logdir = served
    open_page(browser, url)
    (tmp_path / "digit.png").write_bytes(canvas_png(_seven()))
    body = browser.find_element("css selector", "body")
    body.click()
    for _ in range(12):  # Tab until "Choose a picture" has the focus
        if browser.switch_to.active_element.get_attribute("id") == "file":
            break
        browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "file"
    browser.switch_to.active_element.send_keys(str(tmp_path / "digit.png"))  # what choosing a file does
    page = answered(browser)
    assert browser.find_element("id", "answer").get_attribute("aria-live") == "polite"
    proc = run_program("predict", *run_args(logdir / "quickstart"), str(tmp_path / "digit.png"))
    assert page["answer"] == predicted(proc, tmp_path / "digit.png")[0]
    first_map = browser.find_element("css selector", '#layers .layer[data-layer="conv_1"] canvas')
    assert first_map.get_attribute("tabindex") == "0"
    first_map.send_keys(Keys.ENTER)  # a focused map enlarges with Enter
    assert browser.find_element("id", "zoom").is_displayed()
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    assert not browser.find_element("id", "zoom").is_displayed()


def test_the_korean_page_has_korean_titles_labels_errors_and_class_names(served, browser, tmp_path):
    from selenium.webdriver.support.ui import Select

    from dlfund.data import KOREAN_CLASS_NAMES

    url, _ = served
    browser.get(url)
    browser.execute_script("localStorage.setItem('dlfund-lang', 'ko')")
    try:
        browser.refresh()
        wait(browser, lambda d: d.find_element("id", "checkpoint-label").text.startswith("스텝"), "the Korean page")
        assert browser.title == "dlfund · 숫자 그리기"
        assert browser.find_element("id", "canvas").get_attribute("aria-label").startswith("그리기 캔버스")
        assert browser.find_element("css selector", "h1").text == "숫자를 그리면 신경망이 읽는 모습을 봅니다"
        # An error line from the server, in Korean: a blank picture.
        (tmp_path / "blank.png").write_bytes(canvas_png(np.zeros(784, np.float32)))
        browser.find_element("id", "file").send_keys(str(tmp_path / "blank.png"))
        wait(browser, lambda d: d.find_element("id", "error").text, "the error line")
        assert browser.find_element("id", "error").text.startswith("보낸 그림: 숫자를 찾지 못했습니다")
        # The CIFAR-10 run: its classes in Korean in the class picker and in the answer.
        Select(browser.find_element("id", "run")).select_by_value("tiny_cifar")
        wait(browser, lambda d: "사물 사진" in d.find_element("id", "notice").text, "the CIFAR run")
        options = [o.text for o in Select(browser.find_element("id", "target")).options]
        assert options == ["신경망의 답", *KOREAN_CLASS_NAMES["cifar10"]]
        photo = np.zeros((40, 40, 3), np.uint8)
        photo[:, :, 0] = 200
        (tmp_path / "red.png").write_bytes(png(photo))
        browser.find_element("id", "file").send_keys(str(tmp_path / "red.png"))
        wait(browser, lambda d: d.find_element("id", "answer").text in KOREAN_CLASS_NAMES["cifar10"], "a Korean answer")
        bars = [e.text for e in browser.find_elements("css selector", "#bars .name")]
        assert bars == list(KOREAN_CLASS_NAMES["cifar10"])
    finally:
        browser.execute_script("localStorage.setItem('dlfund-lang', 'en')")
