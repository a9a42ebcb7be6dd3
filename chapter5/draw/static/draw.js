// The drawing page: draws on a canvas, sends it (or a dropped picture file) to /api/read as the file's bytes,
// and shows what the server answers. The page never prepares a picture itself: the server reads it the way
// chapter5.predict reads a file. Plain script, no build step, nothing loaded from another host.
"use strict";

const TEXT = {
  en: {
    title: "Draw a digit and watch the network read it", run: "Run", checkpoint: "Checkpoint", draw: "Draw here",
    undo: "Undo", clear: "Clear", choose: "Choose a picture", drop: "…or drop a picture file anywhere on the page.",
    sees: "What the network sees", layers: "Every layer", enlarge: "(click a map to enlarge it)",
    filters: "The first layer's weights", footer: "The book's own network and your own checkpoints, served by",
    step: "step", latest: "newest", of: "of", maps: "maps", units: "units", logits: "logits",
    answered: (ms) => `answered in ${ms} ms (the round trip, as this browser measured it)`,
    newCheckpoint: (step) => `A new checkpoint arrived (step ${step}): the drawing was read again by it.`,
    kept: (step) => `The page keeps the network of step ${step}.`,
    noRuns: (logdir) => `No trained runs in ${logdir} yet. Train one, e.g. python -m chapter5.train ` +
      "--flagfile=chapter5/flags/quickstart.cfg, and it appears here by itself.",
    noCheckpoint: "This run has no checkpoint yet; one appears here when its first epoch ends.",
    noDrawing: "This network reads pictures of objects, not digits: choose or drop a picture file.",
    picture: (name) => `Picture: ${name}`, map: "map", unit: "units", weightsOf: (layer) => `of ${layer}`,
  },
  ko: {
    title: "숫자를 그리면 신경망이 읽는 모습을 봅니다", run: "실행(run)", checkpoint: "체크포인트", draw: "여기에 그리세요",
    undo: "되돌리기", clear: "지우기", choose: "사진 선택", drop: "…또는 사진 파일을 페이지에 끌어다 놓으세요.",
    sees: "신경망이 보는 입력", layers: "각 층의 활성화", enlarge: "(맵을 클릭하면 크게 보입니다)",
    filters: "첫 번째 층의 가중치", footer: "책의 신경망과 여러분의 체크포인트 · 제공:",
    step: "스텝", latest: "최신", of: "/", maps: "맵", units: "유닛", logits: "로짓",
    answered: (ms) => `${ms} ms 만에 답함 (이 브라우저가 잰 왕복 시간)`,
    newCheckpoint: (step) => `새 체크포인트가 도착했습니다 (스텝 ${step}). 그림을 새 신경망으로 다시 읽었습니다.`,
    kept: (step) => `스텝 ${step}의 신경망을 계속 사용합니다.`,
    noRuns: (logdir) => `${logdir}에 학습된 실행이 아직 없습니다. 예를 들어 python -m chapter5.train ` +
      "--flagfile=chapter5/flags/quickstart.cfg 로 학습하면 여기에 저절로 나타납니다.",
    noCheckpoint: "이 실행에는 아직 체크포인트가 없습니다. 첫 에포크가 끝나면 나타납니다.",
    noDrawing: "이 신경망은 숫자가 아니라 사물 사진을 읽습니다. 사진 파일을 선택하거나 끌어다 놓으세요.",
    picture: (name) => `사진: ${name}`, map: "맵", unit: "유닛", weightsOf: (layer) => `(${layer})`,
  },
};

const $ = (id) => document.getElementById(id);
const state = {
  lang: ["en", "ko"].includes(localStorage.getItem("dlfund-lang")) ? localStorage.getItem("dlfund-lang") :
    (navigator.language || "en").toLowerCase().startsWith("ko") ? "ko" : "en",
  runs: [], run: null, steps: [], shownStep: undefined, follow: true, goodStep: null,
  strokes: [], picture: null, busy: false, again: false, lastAnswer: null, weightsKey: "",
};
const t = (key, ...args) => { const v = TEXT[state.lang][key]; return typeof v === "function" ? v(...args) : v; };

// --- language --------------------------------------------------------------------------------------------------
function applyLanguage() {
  document.documentElement.lang = state.lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  $("lang").textContent = state.lang === "ko" ? "English" : "한국어";
  updateSliderLabel();
  if (state.lastAnswer) render(state.lastAnswer, null);
}
$("lang").addEventListener("click", () => {
  state.lang = state.lang === "ko" ? "en" : "ko";
  localStorage.setItem("dlfund-lang", state.lang);
  applyLanguage();
});

// --- messages ----------------------------------------------------------------------------------------------------
function show(id, text) { $(id).textContent = text || ""; $(id).hidden = !text; }

// --- the canvas ----------------------------------------------------------------------------------------------------
const canvas = $("canvas"), ctx = canvas.getContext("2d");
function paint() {
  ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#fff"; ctx.fillStyle = "#fff"; ctx.lineWidth = 18; ctx.lineCap = "round"; ctx.lineJoin = "round";
  for (const stroke of state.strokes) {
    ctx.beginPath(); ctx.moveTo(stroke[0][0], stroke[0][1]);
    for (const [x, y] of stroke.slice(1)) ctx.lineTo(x, y);
    if (stroke.length === 1) ctx.lineTo(stroke[0][0] + 0.1, stroke[0][1]);
    ctx.stroke();
  }
}
function point(e) {
  const r = canvas.getBoundingClientRect();
  return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
}
let drawing = false, lastSent = 0;
canvas.addEventListener("pointerdown", (e) => {
  e.preventDefault(); canvas.setPointerCapture(e.pointerId); drawing = true;
  if (state.picture) { state.picture = null; show("picture-name", ""); }
  state.strokes.push([point(e)]); paint();
});
canvas.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  state.strokes[state.strokes.length - 1].push(point(e)); paint();
  if (performance.now() - lastSent > 200) { lastSent = performance.now(); read(); }  // a few times a second
});
const endStroke = () => { if (drawing) { drawing = false; read(); } };
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);
$("undo").addEventListener("click", () => { state.strokes.pop(); paint(); state.strokes.length ? read() : clearAnswer(); });
$("clear").addEventListener("click", () => { state.strokes = []; state.picture = null; show("picture-name", ""); paint();
  clearAnswer(); });

// --- picture files ---------------------------------------------------------------------------------------------------
function usePicture(file) {
  if (!file) return;
  state.picture = file; show("picture-name", t("picture", file.name)); read();
}
$("file").addEventListener("change", (e) => { usePicture(e.target.files[0]); e.target.value = ""; });
document.addEventListener("dragover", (e) => e.preventDefault());
document.addEventListener("drop", (e) => { e.preventDefault(); usePicture(e.dataTransfer.files[0]); });

// --- runs and checkpoints -------------------------------------------------------------------------------------------
async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}
async function loadRuns() {
  let data;
  try { data = await getJSON("/api/runs"); } catch (e) { show("error", e.message); return; }
  $("logdir").textContent = "--logdir=" + data.logdir;
  state.runs = data.runs;
  const select = $("run"), names = data.runs.map((r) => r.name);
  if (names.join("\n") !== [...select.options].map((o) => o.value).join("\n")) {
    select.replaceChildren(...data.runs.map((r) => new Option(`${r.name} (${r.model}, ${r.dataset})`, r.name)));
  }
  if (!names.length) { show("notice", t("noRuns", data.logdir)); return; }
  if (!state.run || !names.includes(state.run)) { state.run = names[0]; state.follow = true; }
  select.value = state.run;
  const run = data.runs.find((r) => r.name === state.run), shown = state.shownStep;
  const first = !state.steps.length, newest = state.steps[state.steps.length - 1];
  state.steps = run.checkpoints;
  const slider = $("checkpoint");
  slider.max = Math.max(0, state.steps.length - 1);
  if (!state.steps.length) { show("notice", t("noCheckpoint")); updateSliderLabel(); return; }
  let index = state.steps.length - 1, again = false;
  if (!state.follow && shown !== undefined) {
    index = state.steps.indexOf(shown);
    if (index < 0) {  // the training run removed it (it keeps its newest few): the next one kept
      index = state.steps.findIndex((s) => s > shown); index = index < 0 ? state.steps.length - 1 : index;
      again = true;
    }
  }
  slider.value = index;
  updateSliderLabel();
  if (first) { show("notice", run.drawing ? "" : t("noDrawing")); loadWeights(); if (hasInput()) read(); return; }
  const arrived = state.follow && state.steps[state.steps.length - 1] !== newest;
  if (arrived) show("notice", t("newCheckpoint", state.steps[state.steps.length - 1]));
  if (arrived || again) { loadWeights(); if (hasInput()) read(); }
}
function selectedStep() { return state.steps[Number($("checkpoint").value)]; }
function updateSliderLabel() {
  const step = selectedStep();
  $("checkpoint-label").textContent = step === undefined ? "–" :
    `${t("step")} ${step.toLocaleString()}` + (Number($("checkpoint").value) === state.steps.length - 1 ?
      ` (${t("latest")})` : ` (${Number($("checkpoint").value) + 1} ${t("of")} ${state.steps.length})`);
  state.shownStep = step;
}
$("run").addEventListener("change", (e) => {
  state.run = e.target.value; state.steps = []; state.follow = true; state.goodStep = null; show("error", "");
  loadRuns();
});
$("checkpoint").addEventListener("input", () => {
  state.follow = Number($("checkpoint").value) === state.steps.length - 1;
  updateSliderLabel(); show("notice", ""); loadWeights();
  if (hasInput()) read();
});

// --- reading -------------------------------------------------------------------------------------------------------
const hasInput = () => state.picture !== null || state.strokes.length > 0;
const canvasPng = () => new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
async function read() {
  if (!state.run || !state.steps.length || !hasInput()) return;
  if (state.busy) { state.again = true; return; }  // one request at a time; the newest drawing goes next
  state.busy = true; $("answer").dataset.busy = "1";
  const step = selectedStep();
  try {
    const body = state.picture || await canvasPng();
    const started = performance.now();
    const response = await fetch(`/api/read?run=${encodeURIComponent(state.run)}&checkpoint=${step}`,
      { method: "POST", body, headers: { "Content-Type": "application/octet-stream" } });
    const data = await response.json();
    const ms = Math.round(performance.now() - started);
    if (!response.ok) throw Object.assign(new Error(data.error || response.statusText), { status: response.status });
    state.goodStep = data.checkpoint; show("error", "");
    const drawn = performance.now();
    render(data, ms);
    $("answer").dataset.renderMs = Math.round(performance.now() - drawn);  // what drawing the answer took
  } catch (e) {
    const keep = e.status === 409 && state.goodStep !== null && state.goodStep !== step;
    show("error", e.message + (keep ? " " + t("kept", state.goodStep) : ""));
    if (keep) { $("checkpoint").value = state.steps.indexOf(state.goodStep); state.follow = false; updateSliderLabel(); }
  } finally {
    state.busy = false;
    if (state.again) { state.again = false; read(); } else { $("answer").dataset.busy = "0"; }
  }
}
function clearAnswer() {
  state.lastAnswer = null; state.layersKey = ""; $("answer").textContent = "–"; $("bars").replaceChildren(); $("layers").replaceChildren();
  $("roundtrip").textContent = ""; const c = $("input28").getContext("2d"); c.clearRect(0, 0, 28, 28);
}

// --- drawing the answer ------------------------------------------------------------------------------------------
function bytes(encoded) { return Uint8Array.from(atob(encoded.data), (c) => c.charCodeAt(0)); }
function picture(values, h, w, channels, pick, scale, reuse) {  // one map (channel `pick`, or RGB) on a canvas
  const c = reuse || document.createElement("canvas");
  if (!reuse) {
    c.width = w; c.height = h; c.className = "pixels"; c.style.width = `${w * scale}px`; c.style.height = `${h * scale}px`;
  }
  const context = c.getContext("2d"), image = context.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    for (let k = 0; k < 3; k++) image.data[4 * i + k] = values[i * channels + (channels === 3 ? k : pick)];
    image.data[4 * i + 3] = 255;
  }
  context.putImageData(image, 0, 0);
  return c;
}
// [h, w, c] -> c maps; [n] -> one grid of n units; filters: [n, h, w, c]. Given the box it drew before (the same
// layer, the same shape), it paints its canvases again instead of making new ones: an answer comes a few times
// a second while a reader draws.
function mapsOf(name, encoded, onePicture, classes, old) {
  const values = bytes(encoded), shape = encoded.shape, box = old || document.createElement("div");
  const existing = old ? [...old.querySelectorAll("canvas")] : null;
  let next = 0;
  const reuse = () => (existing ? existing[next++] : undefined);
  box.className = "maps";
  const add = (c, caption) => {
    if (existing) return;
    c.title = caption; c.addEventListener("click", () => zoom(c, caption)); box.append(c);
  };
  if (name === "output" && classes) {  // one cell per class, its name under it
    add(picture(values, 1, shape[0], 1, 0, 30, reuse()), `${name}: ${t("logits")}`);
    if (!existing) {
      const labels = document.createElement("div"); labels.className = "labels";
      labels.replaceChildren(...classes.map((c) => Object.assign(document.createElement("span"), { textContent: c })));
      box.append(labels);
    }
    box.classList.add("strip");
  } else if (shape.length === 1) {
    const side = Math.ceil(Math.sqrt(shape[0])), grid = new Uint8Array(side * side);
    grid.set(values);
    add(picture(grid, Math.ceil(shape[0] / side), side, 1, 0, Math.max(3, Math.floor(160 / side)), reuse()),
      `${name}: ${shape[0]} ${t("units")}`);
  } else if (onePicture) {
    const [n, h, w, c] = shape, size = h * w * c, scale = Math.max(2, Math.floor(36 / h));
    for (let i = 0; i < n; i++) {
      add(picture(values.subarray(i * size, (i + 1) * size), h, w, c, 0, scale, reuse()), `${name} ${i + 1}`);
    }
  } else {
    const [h, w, c] = shape, scale = Math.max(1, Math.round(44 / h)), one = new Uint8Array(h * w);
    for (let k = 0; k < c; k++) {
      for (let i = 0; i < h * w; i++) one[i] = values[i * c + k];
      add(picture(one, h, w, 1, 0, scale, reuse()), `${name} · ${t("map")} ${k + 1}`);
    }
  }
  return box;
}
function zoom(source, caption) {
  const c = $("zoom-canvas"); c.width = source.width; c.height = source.height;
  c.getContext("2d").drawImage(source, 0, 0); $("zoom-caption").textContent = caption; $("zoom").hidden = false;
}
$("zoom").addEventListener("click", () => { $("zoom").hidden = true; });
document.addEventListener("keydown", (e) => { if (e.key === "Escape") $("zoom").hidden = true; });

function render(data, ms) {
  state.lastAnswer = data;
  const answer = $("answer");
  answer.textContent = data.answer_name; answer.classList.toggle("long", data.answer_name.length > 2);
  answer.dataset.answer = data.answer; answer.dataset.checkpoint = data.checkpoint;
  if (ms !== null) { answer.dataset.count = Number(answer.dataset.count) + 1; answer.dataset.ms = ms;
    $("roundtrip").textContent = t("answered", ms); }
  const rows = [];
  data.probabilities.forEach((p, i) => {
    const best = i === data.answer ? " best" : "";
    const name = Object.assign(document.createElement("span"), { className: "name" + best, textContent: data.classes[i] });
    const track = Object.assign(document.createElement("span"), { className: "track" + best });
    track.append(Object.assign(document.createElement("span"), { className: "bar" }));
    track.firstChild.style.width = `${(100 * p).toFixed(1)}%`;
    const value = Object.assign(document.createElement("span"), { className: "value" + best,
      textContent: `${(100 * p).toFixed(1)}%` });
    rows.push(name, track, value);
  });
  $("bars").replaceChildren(...rows);
  const input = data.input, shown = $("input28"), values = bytes(input);
  const [h, w] = input.shape, c = input.shape[2] || 1;
  shown.width = w; shown.height = h;
  shown.getContext("2d").drawImage(picture(values, h, w, c, 0, 1), 0, 0);
  const key = data.layers.map((layer) => `${layer.name}[${layer.shape}]`).join(" ") + ` ${state.lang}`;
  if (key === state.layersKey) {  // the same layers as the answer shown: repaint them
    const boxes = $("layers").querySelectorAll(".maps");
    data.layers.forEach((layer, i) => mapsOf(layer.name, layer, false, data.classes, boxes[i]));
    return;
  }
  state.layersKey = key;
  $("layers").replaceChildren(...data.layers.map((layer) => {
    const section = document.createElement("div"); section.className = "layer";
    const kind = layer.name === "output" ? t("logits") : layer.shape.length === 3 ? `${layer.shape[2]} ${t("maps")}` :
      `${layer.shape[0]} ${t("units")}`;
    section.innerHTML = `<h3><code></code> <span></span></h3>`;
    section.querySelector("code").textContent = layer.name;
    section.querySelector("span").textContent = `[${layer.shape.join(" × ")}] · ${kind}`;
    section.append(mapsOf(layer.name, layer, false, data.classes));
    return section;
  }));
}
async function loadWeights() {
  const step = selectedStep(), key = `${state.run}@${step}`;
  if (!state.run || step === undefined || key === state.weightsKey) return;
  state.weightsKey = key;
  try {
    const data = await getJSON(`/api/weights?run=${encodeURIComponent(state.run)}&checkpoint=${step}`);
    const title = document.createElement("h3");
    title.innerHTML = "<code></code> <span></span>";
    title.querySelector("code").textContent = data.layer;
    title.querySelector("span").textContent = `[${data.filters.shape.join(" × ")}]`;
    const section = document.createElement("div"); section.className = "layer";
    section.append(title, mapsOf(data.layer, data.filters, true));
    $("filters").replaceChildren(section);
  } catch (e) { state.weightsKey = ""; $("filters").replaceChildren(); }
}

// --- start ---------------------------------------------------------------------------------------------------------
paint();
applyLanguage();
loadRuns();
setInterval(loadRuns, 2000);  // a training run's new checkpoints appear by themselves
