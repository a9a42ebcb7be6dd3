"""``python -m chapter5.draw``: the WSGI app in this process (werkzeug's test client) for every endpoint and each
bad input, and the page itself in a real browser (headless Chromium over WebDriver) where it is installed."""

import io
import json
import os
import shutil

import numpy as np
import pytest
from conftest import run_args, run_program
from PIL import Image
from werkzeug.test import Client

from chapter5.draw import app as draw_app
from chapter5.notebooks.twins import HANGUL
from dlfund import analysis, checkpoints
from dlfund.data import mnist


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def canvas_png(digit: np.ndarray, side: int = 280) -> bytes:
    """An MNIST digit drawn large in white on the page's black canvas, as the canvas sends it."""
    big = Image.fromarray((digit.reshape(28, 28) * 255).round().astype(np.uint8)).resize((side, side), Image.BILINEAR)
    return png(np.repeat(np.asarray(big)[:, :, None], 3, axis=2))


@pytest.fixture(scope="module")
def test_digits():
    return mnist.read_data_sets("", dataset="mnist_sample", one_hot=False).test


def linked_copy(run_dir, destination):
    """A copy of a run directory whose files are hard links (no 76 MB copied): remove a file, or write it with
    :func:`replace_bytes`, never write into it, or the original changes too."""
    shutil.copytree(run_dir, destination, copy_function=os.link)
    return destination


def replace_bytes(path, data: bytes) -> None:
    """Writes ``path`` as a new file (so a hard-linked original is left as it was)."""
    path.unlink()
    path.write_bytes(data)


@pytest.fixture(scope="module")
def shared_logdir(sample_run, tmp_path_factory):
    """The briefly trained run (two checkpoints) under a --logdir of its own, and the same run outside it; for
    the tests that change no file."""
    root = tmp_path_factory.mktemp("draw")
    linked_copy(sample_run[0], root / "outside" / "quickstart")  # a real run, but not in --logdir
    return linked_copy(sample_run[0], root / "logs" / "quickstart").parent


@pytest.fixture(scope="module")
def shared_client(shared_logdir):
    app = draw_app.App(str(shared_logdir))
    yield Client(app)
    app.models.close()


@pytest.fixture
def logdir(sample_run, tmp_path):
    """A run directory of this test's own, to damage."""
    return linked_copy(sample_run[0], tmp_path / "logs" / "quickstart").parent


@pytest.fixture
def client(logdir):
    app = draw_app.App(str(logdir))
    yield Client(app)
    app.models.close()


def steps(logdir) -> list:
    return sorted(checkpoints.checkpoint_step(p) for p in checkpoints.candidates(str(logdir / "quickstart")))


def read(client, body: bytes, **query):
    query = "&".join(f"{k}={v}" for k, v in {"run": "quickstart", **query}.items())
    return client.post(f"/api/read?{query}", data=body)


# --- what it serves -------------------------------------------------------------------------------------------

def test_the_page_and_its_files_are_served_and_load_nothing_from_elsewhere(shared_client):
    page = shared_client.get("/")
    assert page.status_code == 200 and b'<canvas id="canvas"' in page.data
    for name in ("draw.js", "draw.css"):
        response = shared_client.get(f"/static/{name}")
        assert response.status_code == 200 and response.data
        assert b"http://" not in response.data and b"https://" not in response.data, name
    assert b"http" not in page.data.replace(b'name="viewport"', b"")  # no CDN, no web font
    assert shared_client.get("/static/../app.py").status_code == 404


def test_runs_lists_each_run_with_its_model_classes_and_checkpoints(shared_client, shared_logdir):
    runs = shared_client.get("/api/runs").get_json()["runs"]
    assert [r["name"] for r in runs] == ["quickstart"]
    assert runs[0]["model"] == "mnist_conv" and runs[0]["classes"] == [str(i) for i in range(10)]
    assert runs[0]["checkpoints"] == steps(shared_logdir) and len(steps(shared_logdir)) == 2 and runs[0]["drawing"]


def test_a_drawing_is_read_as_chapter5_predict_reads_the_same_file(shared_client, shared_logdir, test_digits, tmp_path):
    files = []
    for i in range(5):
        files.append(tmp_path / f"drawn_{i}.png")
        files[-1].write_bytes(canvas_png(test_digits.images[i]))
    proc = run_program("predict", *run_args(shared_logdir / "quickstart"), f"--save_preprocessed={tmp_path / 'pre'}",
                       *map(str, files))
    assert proc.returncode == 0, proc.stderr
    for path in files:
        answer = read(shared_client, path.read_bytes()).get_json()
        line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(f"{path}: predicted"))
        assert line == f"{path}: predicted {answer['answer']} (probability {max(answer['probabilities']):.3f})"
        seen = np.asarray(Image.open(tmp_path / "pre" / f"{path.stem}_28x28.png"), np.float32) / 255
        sent = np.frombuffer(__import__("base64").b64decode(answer["input"]["data"]), np.uint8).reshape(28, 28)
        assert np.abs(sent / 255 - seen).max() <= 1 / 255 + 1e-6  # the same 28x28 input, as 8-bit pictures


def test_every_layer_is_named_by_the_books_scopes_in_order(shared_client, test_digits):
    answer = read(shared_client, canvas_png(test_digits.images[0])).get_json()
    assert [(layer["name"], layer["shape"]) for layer in answer["layers"]] == [
        ("conv_1", [28, 28, 32]), ("conv_1/pool", [14, 14, 32]), ("conv_2", [14, 14, 64]),
        ("conv_2/pool", [7, 7, 64]), ("fc", [1024]), ("output", [10])]
    assert len(answer["probabilities"]) == 10 and abs(sum(answer["probabilities"]) - 1) < 1e-4
    filters = shared_client.get("/api/weights?run=quickstart").get_json()
    assert filters["layer"] == "conv_1" and filters["filters"]["shape"] == [32, 5, 5, 1]


def test_each_checkpoint_gives_its_own_answer_and_none_means_the_newest(shared_client, shared_logdir, test_digits):
    from chapter5 import from_flags, rundir

    body = canvas_png(test_digits.images[3])
    fv = rundir.read_flags(str(shared_logdir / "quickstart" / "flags.cfg"))
    answers = {}
    for step in steps(shared_logdir):
        answers[step] = read(shared_client, body, checkpoint=step).get_json()
        assert answers[step]["checkpoint"] == step
        g, sess, _ = from_flags.build_and_restore(fv, str(shared_logdir / "quickstart" / f"model-checkpoint-{step}"))
        with sess:
            x = np.frombuffer(__import__("base64").b64decode(answers[step]["input"]["data"]), np.uint8)
            expected = sess.run(g.probabilities, {g.x: (x / 255.0)[None].astype(np.float32)})[0]
        np.testing.assert_allclose(answers[step]["probabilities"], expected, atol=2e-3)  # input sent as 8 bits
    first, last = steps(shared_logdir)
    assert answers[first]["probabilities"] != answers[last]["probabilities"]
    assert read(shared_client, body).get_json()["checkpoint"] == last


# --- bad input: each answered with one line, the server going on -------------------------------------------

def test_a_request_addressed_to_another_host_is_refused(shared_client, test_digits):
    response = shared_client.post("/api/read?run=quickstart", data=canvas_png(test_digits.images[0]),
                           headers={"Host": "attacker.example:6007"})
    assert response.status_code == 403 and "attacker.example" in response.get_json()["error"]
    assert shared_client.get("/api/runs", headers={"Host": "localhost:6007"}).status_code == 200
    assert shared_client.get("/api/runs", headers={"Host": "[::1]:6007"}).status_code == 200
    opened = Client(draw_app.App(shared_client.application.models.logdir, allowed_hosts=None))  # --host opened it
    assert opened.get("/api/runs", headers={"Host": "my-laptop.lan:6007"}).status_code == 200


def test_a_body_over_the_limit_is_refused_before_it_is_read(shared_logdir, test_digits):
    small = Client(draw_app.App(str(shared_logdir), max_body_bytes=1000))
    response = small.post("/api/read?run=quickstart", data=canvas_png(test_digits.images[0]))
    assert response.status_code == 413 and "larger than" in response.get_json()["error"]


@pytest.mark.parametrize("body, message", [
    (b"notes, not a picture", "the picture sent: not a PNG, JPEG, GIF, BMP, WebP, HEIC or AVIF image"),
    (png(np.zeros((40, 40, 3), np.uint8))[:60], "the picture sent: cannot decode the image"),
    (png(np.zeros((280, 280, 3), np.uint8)), "the picture sent: no digit found: the image is blank"),
    (b"", "the picture sent: empty file"),
], ids=["not_a_picture", "damaged", "blank", "empty"])
def test_a_bad_picture_gets_predicts_own_message(shared_client, body, message, tmp_path, shared_logdir):
    response = read(shared_client, body)
    assert response.status_code == 400 and response.get_json()["error"].startswith(message)
    (tmp_path / "picture.png").write_bytes(body)
    proc = run_program("predict", *run_args(shared_logdir / "quickstart"), str(tmp_path / "picture.png"))
    assert f"error: {tmp_path / 'picture.png'}{message[len('the picture sent'):]}" in proc.stderr


@pytest.mark.parametrize("request_args, status", [
    (("post", "/api/read?run=quickstart&checkpoint=latest"), 400),
    (("get", "/api/read?run=quickstart"), 405),
    (("get", "/api/nothing"), 404),
    (("post", "/api/read?run=nosuchrun"), 404),
    (("post", "/api/read?run=quickstart&checkpoint=999999"), 404),
    (("post", "/api/read?run=../outside/quickstart"), 404),
    (("post", "/api/read"), 404),
], ids=["checkpoint_not_a_number", "wrong_method", "unknown_address", "unknown_run", "unknown_checkpoint",
        "outside_logdir", "no_run"])
def test_malformed_and_unknown_requests_get_one_json_line(shared_client, test_digits, request_args, status):
    method, url = request_args
    response = getattr(shared_client, method)(url, data=canvas_png(test_digits.images[0]))
    assert response.status_code == status and len(response.get_json()["error"].splitlines()) == 1
    assert read(shared_client, canvas_png(test_digits.images[0])).status_code == 200  # and it goes on serving


def test_a_damaged_newest_checkpoint_is_named_and_the_older_one_still_serves(client, logdir, test_digits):
    first, last = steps(logdir)
    body = canvas_png(test_digits.images[0])
    assert read(client, body, checkpoint=first).status_code == 200
    data = next((logdir / "quickstart").glob(f"model-checkpoint-{last}.data-*"))
    replace_bytes(data, data.read_bytes()[:100])
    response = read(client, body, checkpoint=last)
    assert response.status_code == 409
    assert f"model-checkpoint-{last}" in response.get_json()["error"] and "keeps the network" in \
        response.get_json()["error"]
    assert read(client, body, checkpoint=first).get_json()["checkpoint"] == first
    assert read(client, body).get_json()["checkpoint"] == first  # the newest that reads back


def test_a_checkpoint_pruned_while_the_page_reads_it_goes_on_answering(client, logdir, test_digits):
    first, _ = steps(logdir)
    body = canvas_png(test_digits.images[0])
    before = read(client, body, checkpoint=first).get_json()
    for path in checkpoints.checkpoint_files(str(logdir / "quickstart" / f"model-checkpoint-{first}")):
        os.remove(path)  # as the Saver's max_to_keep removes old checkpoints
    again = read(client, body, checkpoint=first)
    assert again.status_code == 200 and again.get_json()["probabilities"] == before["probabilities"]
    assert first not in client.get("/api/runs").get_json()["runs"][0]["checkpoints"]


def test_an_unexpected_failure_is_one_line_and_the_server_goes_on(shared_client, test_digits, monkeypatch, capsys):
    body = canvas_png(test_digits.images[0])

    def broken(*args):
        raise RuntimeError("something inside broke\nsecond line")

    monkeypatch.setattr(analysis, "read_input", broken)
    response = read(shared_client, body)
    # The browser gets one generic line (the server may be open to the network); the terminal gets the detail.
    assert response.status_code == 500 and "something" not in response.get_json()["error"]
    assert response.get_json()["error"].startswith("internal error")
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and "RuntimeError: something inside broke" in err
    monkeypatch.undo()
    assert read(shared_client, body).status_code == 200


def test_a_run_with_a_damaged_flags_file_is_left_out_and_named_when_asked_for(client, logdir, test_digits):
    linked_copy(logdir / "quickstart", logdir / "broken")
    replace_bytes(logdir / "broken" / "flags.cfg", b"--model=mnist_conv\n\xff\xfe\n")
    assert [r["name"] for r in client.get("/api/runs").get_json()["runs"]] == ["quickstart"]
    response = read(client, canvas_png(test_digits.images[0]), run="broken")
    assert response.status_code == 409 and "flags.cfg" in response.get_json()["error"]


def test_the_port_in_use_is_one_line_naming_port(shared_logdir):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_program("draw.__main__", f"--logdir={shared_logdir}", f"--port={port}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: --port={port} on 127.0.0.1 is in use (another program, or chapter5.draw already "
        "running): choose another --port"]


def test_the_server_holds_one_network_per_checkpoint_and_closes_the_oldest(shared_logdir, test_digits):
    models = draw_app.Models(str(shared_logdir), capacity=1)
    first, last = steps(shared_logdir)
    with models.use("quickstart", first) as a, models.use("quickstart", first) as again:
        assert again is a  # loaded once, shared
    with models.use("quickstart", last):
        pass
    assert a.session._closed and list(models._loaded) == [("quickstart", last)]
    models.close()


def test_a_network_in_use_is_not_closed_when_another_pushes_it_out_of_the_cache(shared_logdir, test_digits):
    models = draw_app.Models(str(shared_logdir), capacity=1)
    first, last = steps(shared_logdir)
    image = test_digits.images[:1]
    with models.use("quickstart", first) as held:
        before = held.session.run(held.graph.output, {held.graph.x: image})
        with models.use("quickstart", last) as other:  # a second request loads another network meanwhile
            assert other is not held and list(models._loaded) == [("quickstart", last)]
        # The first request still computes with its network, and gets the same numbers.
        assert np.array_equal(held.session.run(held.graph.output, {held.graph.x: image}), before)
        assert not held.session._closed
    assert held.session._closed  # closed once nobody holds it
    models.close()
    assert other.session._closed


def test_json_answers_are_plain_json(shared_client, test_digits):
    response = read(shared_client, canvas_png(test_digits.images[0]))
    assert response.mimetype == "application/json" and json.loads(response.data)["answer_name"] in "0123456789"


@pytest.mark.parametrize("method, url", [
    ("get", "/"), ("get", "/static/draw.js"), ("get", "/api/runs"), ("post", "/api/read?run=quickstart"),
    ("get", "/api/weights?run=quickstart"), ("post", "/api/explain?run=quickstart&layer=fc&unit=3"),
    ("post", "/api/attribution?run=quickstart&method=saliency"), ("get", "/api/evaluation?run=quickstart"),
    ("get", "/api/nothing"), ("get", "/api/read?run=quickstart"), ("post", "/api/read?run=nosuchrun"),
], ids=lambda v: v if v in ("get", "post") else v.split("?")[0])
def test_every_response_carries_nosniff_and_the_content_security_policy(shared_client, test_digits, method, url):
    response = getattr(shared_client, method)(url, data=canvas_png(test_digits.images[0]))
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'self'; img-src 'self' data: blob:"
    if response.status_code == 405:
        assert response.headers["Allow"] == "POST"


def test_the_explainers_answer_through_the_api(shared_client, test_digits):
    body = canvas_png(test_digits.images[4])
    read_answer = read(shared_client, body).get_json()
    unit = shared_client.post("/api/explain?run=quickstart&layer=conv_2&unit=6,7,12", data=body).get_json()
    assert unit["layer"] == "conv_2" and unit["unit"] == [6, 7, 12] and unit["kind"] == "conv"
    assert [p["step"] for p in unit["parts"]] == ["channels", "bias", "activation"]
    assert unit["parts"][-1]["value"] == pytest.approx(unit["value"], rel=1e-4, abs=1e-5)
    layer = next(x for x in read_answer["layers"] if x["name"] == "conv_2")  # the map the page shows, as bytes
    shown = np.frombuffer(__import__("base64").b64decode(layer["data"]), np.uint8).reshape(layer["shape"])[6, 7, 12]
    assert abs(layer["min"] + shown / 255 * (layer["max"] - layer["min"]) - unit["value"]) <= \
        (layer["max"] - layer["min"]) / 255
    ig = shared_client.post("/api/attribution?run=quickstart&method=integrated_gradients&target=4&contrast=9",
                            data=body).get_json()
    assert (ig["target"], ig["contrast"]) == (4, 9) and np.shape(ig["map"]) == (28, 28)
    rise = (ig["logits"][4] - ig["logits"][9]) - (ig["baseline_logits"][4] - ig["baseline_logits"][9])
    assert np.sum(ig["map"]) == pytest.approx(rise, rel=0.02)
    answered = shared_client.post("/api/attribution?run=quickstart&method=grad_cam", data=body).get_json()
    assert answered["target"] == read_answer["answer"] and np.shape(answered["layer_map"]) == (14, 14)
    by_name = shared_client.post("/api/attribution?run=quickstart&method=saliency&target=7", data=body).get_json()
    assert by_name["target"] == 7


def test_a_run_not_yet_evaluated_names_the_command_and_an_evaluated_one_shows_its_cells(client, logdir, test_digits):
    shutil.rmtree(logdir / "quickstart" / "eval", ignore_errors=True)
    missing = client.get("/api/evaluation?run=quickstart")
    assert missing.status_code == 404 and "python -m chapter5.evaluate" in missing.get_json()["error"]
    predicted = test_digits.label_ids.copy()
    predicted[:3] = (predicted[:3] + 1) % 10  # three mistakes
    analysis.save_evaluation(str(logdir / "quickstart" / "eval"), 70, "mnist_sample", "", test_digits.label_ids,
                             predicted)
    matrix = client.get("/api/evaluation?run=quickstart").get_json()
    assert np.trace(matrix["matrix"]) == len(predicted) - 3 and matrix["checkpoint"] == 70
    truth = int(test_digits.label_ids[0])
    cell = client.get(f"/api/evaluation?run=quickstart&true={truth}&predicted={(truth + 1) % 10}").get_json()
    assert 0 in [e["index"] for e in cell["examples"]] and cell["count"] >= 1
    picture = client.get("/api/test_picture?run=quickstart&index=0")
    assert picture.mimetype == "image/png"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(picture.data))),
                          (test_digits.images[0].reshape(28, 28) * 255).round().astype(np.uint8))
    assert client.get("/api/test_picture?run=quickstart&index=1000").status_code == 400
    assert client.get("/api/evaluation?run=quickstart&true=10&predicted=0").status_code == 400


def test_a_korean_page_gets_its_error_lines_in_korean(shared_client, test_digits):
    blank = png(np.zeros((280, 280, 3), np.uint8))
    english = read(shared_client, blank).get_json()["error"]
    korean = shared_client.post("/api/read?run=quickstart", data=blank, headers={"Accept-Language": "ko"})
    assert english == "the picture sent: no digit found: the image is blank"
    assert korean.status_code == 400
    assert korean.get_json()["error"] == "보낸 그림: 숫자를 찾지 못했습니다. 빈 그림입니다"
    for url in ("/api/read?run=nosuchrun", "/api/explain?run=quickstart&layer=conv_9&unit=0,0,0",
                "/api/attribution?run=quickstart&method=lime", "/api/read?run=quickstart&checkpoint=999999"):
        line = shared_client.post(url, data=canvas_png(test_digits.images[0]),
                                  headers={"Accept-Language": "ko"}).get_json()["error"]
        assert HANGUL.search(line), (url, line)
    wrong = shared_client.get("/api/read?run=quickstart", headers={"Accept-Language": "ko"})
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
    assert "허용되지 않는" in wrong.get_json()["error"]
