// The drawing page: draws on a canvas, sends it (or a dropped picture file) to /api/read as the file's bytes,
// and shows what the server answers. The page never prepares a picture itself: the server reads it the way
// chapter5.predict reads a file. Plain script, no build step, nothing loaded from another host.
"use strict";

const TEXT = {
  en: {
    title: "Draw a digit and watch the network read it", run: "Run", checkpoint: "Checkpoint", draw: "Draw here",
    undo: "Undo", clear: "Clear", choose: "Choose a picture", drop: "…or drop a picture file anywhere on the page.",
    sees: "What the network sees", layers: "Every layer",
    filters: "The first layer's weights", footer: "The book's own network and your own checkpoints, served by",
    step: "step", latest: "newest", of: "of", maps: "maps", units: "units", logits: "logits",
    answered: (ms) => `answered in ${ms} ms (the round trip, as this browser measured it)`,
    newCheckpoint: (step) => `A new checkpoint arrived (step ${step}): the drawing was read again by it.`,
    kept: (step) => `The page keeps the network of step ${step}.`,
    noRuns: (logdir) => `No trained runs in ${logdir} yet. Train one, e.g. python -m chapter5.train ` +
      "--flagfile=chapter5/flags/quickstart.cfg, and it appears here by itself.",
    noCheckpoint: "This run has no checkpoint yet; one appears here when its first epoch ends.",
    noDrawing: "This network reads pictures of objects, not digits: choose or drop a picture file.",
    picture: (name) => `Picture: ${name}`, map: "map",
    canvasLabel: "drawing canvas: draw a digit with the mouse, a pen or a finger",
    enlarge: "(click a unit to see how it was computed; Enter or a double click enlarges a map)",
    why: "Why this answer?", method: "Overlay", target: "class", contrast: "and not", answerClass: "the answer",
    none: "none", noContrast: "—",
    methods: { none: "none", saliency: "gradient (saliency)", gradient_x_input: "gradient × input",
      integrated_gradients: "integrated gradients", smoothgrad: "SmoothGrad", grad_cam: "Grad-CAM",
      occlusion: "occlusion" },
    methodNotes: {
      saliency: "How much the score would change per unit change of each pixel (its size, either way).",
      gradient_x_input: "Gradient times the pixel: red pixels raised the score, blue ones lowered it.",
      integrated_gradients: "Gradients along the way from a blank input to this one, times the pixel: " +
        "the map adds up to how far the score rose from the blank input.",
      smoothgrad: "The gradient averaged over 32 noisy copies of the input: less speckled than the plain gradient.",
      grad_cam: (layer) => `Where ${layer}'s maps, weighted by how much the score needs each, are active.`,
      occlusion: "How much the answer's probability drops when a 4×4 square there is covered (blue: it rises).",
    },
    score: (target, contrast) => contrast === null ? `Explained: the logit of ${target}` :
      `Explained: the logit of ${target} minus that of ${contrast} (why ${target} and not ${contrast})`,
    preparation: "From the picture to the input",
    steps: { ink: "the ink, its box outlined", crop: "cropped to the box", strokes: "strokes at MNIST's width",
      fitted: "fitted into 20×20", input: "centred by its centre of mass in 28×28" },
    unitTitle: (layer, unit, value) => `${layer}, unit (${unit.join(", ")}) = ${value}`,
    field: (r) => `Receptive field: rows ${r[0]}–${r[2]}, columns ${r[1]}–${r[3]} of the input (outlined).`,
    channel: (c, s) => `input channel ${c}: Σ = ${s}`, patch: "input patch", kernel: "kernel", products: "products",
    restChannels: (n, s) => `+ the other ${n} input channels: Σ = ${s}`,
    restInputs: (n, s) => `+ the other ${n} inputs: Σ = ${s}`,
    sum: (v) => `sum = ${v}`, bias: (b, v) => `+ b (${b}) = ${v}`,
    norm: (p) => `batch norm with the moving averages: (z − ${p.mean}) / √(${p.variance} + ${p.epsilon}) × ` +
      `${p.gamma} + ${p.beta} = ${p.value}`,
    activation: (f, v) => `${f} → ${v}`,
    pool: (f, v) => f === "max" ? `max pool: the largest of the window wins → ${v}` :
      `average pool: the mean of the window → ${v}`,
    poolOf: (source) => `the window of ${source} (the winner outlined)`,
    inputsHead: ["input", "x", "w", "w·x"],
    graphValue: (v, total) => `The graph computed ${v}; the parts above add up to ${total}.`,
    close: "close",
    mistakes: "Where it goes wrong: the test set",
    confusionNote: (step, n) => `Evaluated at step ${step}: ${n} test pictures. Rows: true class; columns: the ` +
      "network's answer. Click a cell to see its pictures, and a picture to read it as if it were drawn.",
    cellOf: (t, p, n) => `${n} pictures of ${t} read as ${p}` + (n > 60 ? " (the first 60)" : ""),
    trueClass: "true", predictedClass: "answer",
  },
  ko: {
    title: "숫자를 그리면 신경망이 읽는 모습을 봅니다", run: "실행(run)", checkpoint: "체크포인트", draw: "여기에 그리세요",
    undo: "되돌리기", clear: "지우기", choose: "사진 선택", drop: "…또는 사진 파일을 페이지에 끌어다 놓으세요.",
    sees: "신경망이 보는 입력", layers: "각 층의 활성화",
    filters: "첫 층의 가중치", footer: "책의 신경망과 여러분의 체크포인트 · 제공:",
    step: "스텝", latest: "최신", of: "/", maps: "맵", units: "유닛", logits: "로짓",
    answered: (ms) => `${ms} ms 만에 답함 (이 브라우저가 잰 왕복 시간)`,
    newCheckpoint: (step) => `새 체크포인트가 도착했습니다 (스텝 ${step}). 그림을 새 신경망으로 다시 읽었습니다.`,
    kept: (step) => `스텝 ${step}의 신경망을 계속 사용합니다.`,
    noRuns: (logdir) => `${logdir}에 학습된 실행이 아직 없습니다. 예를 들어 python -m chapter5.train ` +
      "--flagfile=chapter5/flags/quickstart.cfg 로 학습하면 여기에 저절로 나타납니다.",
    noCheckpoint: "이 실행에는 아직 체크포인트가 없습니다. 첫 에포크가 끝나면 나타납니다.",
    noDrawing: "이 신경망은 숫자가 아니라 사물 사진을 읽습니다. 사진 파일을 선택하거나 끌어다 놓으세요.",
    picture: (name) => `사진: ${name}`, map: "맵",
    canvasLabel: "그리기 캔버스: 마우스, 펜, 손가락으로 숫자를 그리세요",
    enlarge: "(유닛을 클릭하면 그 값이 어떻게 계산됐는지 보입니다. Enter나 더블클릭으로 맵을 크게 봅니다)",
    why: "왜 이렇게 답했을까?", method: "겹쳐 보기", target: "클래스", contrast: "대비 클래스", answerClass: "신경망의 답",
    none: "없음", noContrast: "—",
    methods: { none: "없음", saliency: "그래디언트 (돌출 맵)", gradient_x_input: "그래디언트 × 입력",
      integrated_gradients: "적분 그래디언트", smoothgrad: "SmoothGrad", grad_cam: "Grad-CAM", occlusion: "가리기" },
    methodNotes: {
      saliency: "각 픽셀이 조금 바뀔 때 점수가 얼마나 바뀌는지(방향과 상관없는 크기)를 보여 줍니다.",
      gradient_x_input: "그래디언트에 픽셀 값을 곱한 값입니다. 빨간 픽셀은 점수를 올렸고 파란 픽셀은 내렸습니다.",
      integrated_gradients: "빈 입력에서 이 입력까지 가는 길의 그래디언트에 픽셀 값을 곱한 값입니다. " +
        "맵을 모두 더하면 빈 입력보다 점수가 오른 만큼이 됩니다.",
      smoothgrad: "잡음을 섞은 입력 32개에서 구한 그래디언트의 평균입니다. 그냥 그래디언트보다 덜 얼룩덜룩합니다.",
      grad_cam: (layer) => `${layer}의 맵에 점수가 각 맵을 필요로 하는 정도를 가중치로 곱해, 활성화된 곳을 보여 줍니다.`,
      occlusion: "그 자리를 4×4 정사각형으로 가렸을 때 답의 확률이 얼마나 떨어지는지입니다(파란색은 오름).",
    },
    score: (target, contrast) => contrast === null ? `설명 대상: ${target}의 로짓` :
      `설명 대상: ${target}의 로짓에서 ${contrast}의 로짓을 뺀 값 (왜 ${contrast}가 아니라 ${target}인가)`,
    preparation: "사진에서 입력까지",
    steps: { ink: "잉크 (상자 표시)", crop: "상자로 자른 모습", strokes: "MNIST 굵기로 맞춘 획", fitted: "20×20에 맞춤",
      input: "무게 중심을 28×28의 가운데로" },
    unitTitle: (layer, unit, value) => `${layer}, 유닛 (${unit.join(", ")}) = ${value}`,
    field: (r) => `수용 영역: 입력의 ${r[0]}–${r[2]}행, ${r[1]}–${r[3]}열 (테두리로 표시).`,
    channel: (c, s) => `입력 채널 ${c}: Σ = ${s}`, patch: "입력 조각", kernel: "커널", products: "곱",
    restChannels: (n, s) => `+ 나머지 입력 채널 ${n}개: Σ = ${s}`,
    restInputs: (n, s) => `+ 나머지 입력 ${n}개: Σ = ${s}`,
    sum: (v) => `합 = ${v}`, bias: (b, v) => `+ b (${b}) = ${v}`,
    norm: (p) => `이동 평균으로 배치 정규화: (z − ${p.mean}) / √(${p.variance} + ${p.epsilon}) × ` +
      `${p.gamma} + ${p.beta} = ${p.value}`,
    activation: (f, v) => `${f} → ${v}`,
    pool: (f, v) => f === "max" ? `최대 풀링: 창에서 가장 큰 값이 이깁니다 → ${v}` : `평균 풀링: 창의 평균 → ${v}`,
    poolOf: (source) => `${source}의 창 (이긴 값 표시)`,
    inputsHead: ["입력", "x", "w", "w·x"],
    graphValue: (v, total) => `그래프가 계산한 값은 ${v}, 위의 부분을 더한 값은 ${total}입니다.`,
    close: "닫기",
    mistakes: "어디서 틀리는가: 테스트 세트",
    confusionNote: (step, n) => `스텝 ${step}에서 평가한 테스트 사진 ${n.toLocaleString()}개. 행은 정답 클래스, ` +
      "열은 신경망의 답입니다. 칸을 클릭하면 그 사진들이, 사진을 클릭하면 그린 것처럼 읽은 결과가 보입니다.",
    cellOf: (t, p, n) => `${t}을(를) ${p}(으)로 읽은 사진 ${n}개` + (n > 60 ? " (처음 60개)" : ""),
    trueClass: "정답", predictedClass: "답",
  },
};

const $ = (id) => document.getElementById(id);
const state = {
  lang: ["en", "ko"].includes(localStorage.getItem("dlfund-lang")) ? localStorage.getItem("dlfund-lang") :
    (navigator.language || "en").toLowerCase().startsWith("ko") ? "ko" : "en",
  runs: [], run: null, steps: [], shownStep: undefined, follow: true, goodStep: null, runsTag: "",
  strokes: [], picture: null, busy: false, again: false, lastAnswer: null, lastBody: null, weightsKey: "",
  layersKey: "", inspect: null, inspected: null, heat: null, why: { busy: false, again: false },
  evaluationKey: "", cell: null,
};
const t = (key, ...args) => { const v = TEXT[state.lang][key]; return typeof v === "function" ? v(...args) : v; };
const fmt = (v) => (v === null || v === undefined ? "·" : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ?
  Number(v).toExponential(2) : Number(v).toFixed(Math.abs(v) >= 100 ? 1 : 3));
const el = (tag, props = {}, ...children) => { const e = Object.assign(document.createElement(tag), props);
  e.append(...children); return e; };

// --- language --------------------------------------------------------------------------------------------------
function applyLanguage() {
  document.documentElement.lang = state.lang;
  document.title = state.lang === "ko" ? "dlfund · 숫자 그리기" : "dlfund · draw a digit";
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  $("lang").textContent = state.lang === "ko" ? "English" : "한국어";
  updateSliderLabel();
  fillWhyControls();
  if (state.lastAnswer) { state.layersKey = ""; render(state.lastAnswer, null); }
  if (state.inspected) renderInspector(state.inspected);
  state.evaluationKey = ""; loadEvaluation();
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
// Every URL is relative: the same page is served by python -m chapter5.draw and as TensorBoard's "draw" tab.
// The server answers errors in the page's language (Accept-Language), whatever the browser's own is.
const langHeaders = () => ({ "Accept-Language": state.lang });
async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store", headers: langHeaders() });
  const data = await response.json();
  if (!response.ok) throw Object.assign(new Error(data.error || response.statusText), { status: response.status });
  return data;
}
async function loadRuns() {
  let data;
  try {  // the server answers 304 while nothing changed: the listing is only sent again when it did
    const response = await fetch("api/runs", { cache: "no-store", headers: state.runsTag ?
      { "If-None-Match": state.runsTag, ...langHeaders() } : langHeaders() });
    if (response.status === 304) return;
    data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    state.runsTag = response.headers.get("ETag") || "";
  } catch (e) { show("error", e.message); return; }
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
  if (first) {
    show("notice", run.drawing ? "" : t("noDrawing")); fillWhyControls(); loadWeights(); loadEvaluation();
    if (hasInput()) read();
    return;
  }
  const arrived = state.follow && state.steps[state.steps.length - 1] !== newest;
  if (arrived) show("notice", t("newCheckpoint", state.steps[state.steps.length - 1]));
  if (arrived || again) { loadWeights(); if (hasInput()) read(); }
  if (arrived) loadEvaluation();
}
function selectedStep() { return state.steps[Number($("checkpoint").value)]; }
const currentRun = () => state.runs.find((r) => r.name === state.run);
function updateSliderLabel() {
  const step = selectedStep();
  $("checkpoint-label").textContent = step === undefined ? "–" :
    `${t("step")} ${step.toLocaleString()}` + (Number($("checkpoint").value) === state.steps.length - 1 ?
      ` (${t("latest")})` : ` (${Number($("checkpoint").value) + 1} ${t("of")} ${state.steps.length})`);
  state.shownStep = step;
}
$("run").addEventListener("change", (e) => {
  state.run = e.target.value; state.steps = []; state.follow = true; state.goodStep = null; state.runsTag = "";
  state.inspect = null; state.evaluationKey = ""; show("error", ""); closeInspector(); loadRuns();
});
$("checkpoint").addEventListener("input", () => {
  state.follow = Number($("checkpoint").value) === state.steps.length - 1;
  updateSliderLabel(); show("notice", ""); loadWeights();
  if (hasInput()) read();
});

// --- reading -------------------------------------------------------------------------------------------------------
const hasInput = () => state.picture !== null || state.strokes.length > 0;
const canvasPng = () => new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
const query = (extra) => `run=${encodeURIComponent(state.run)}&checkpoint=${state.lastAnswer ?
  state.lastAnswer.checkpoint : selectedStep()}` + (extra ? "&" + extra : "");
async function post(url, body) {
  const response = await fetch(url, { method: "POST", body, headers: { "Content-Type": "application/octet-stream",
    ...langHeaders() } });
  const data = await response.json();
  if (!response.ok) throw Object.assign(new Error(data.error || response.statusText), { status: response.status });
  return data;
}
async function read() {
  if (!state.run || !state.steps.length || !hasInput()) return;
  if (state.busy) { state.again = true; return; }  // one request at a time; the newest drawing goes next
  state.busy = true; $("answer").dataset.busy = "1";
  const step = selectedStep();
  try {
    const body = state.picture || await canvasPng();
    const started = performance.now();
    const data = await post(`api/read?run=${encodeURIComponent(state.run)}&checkpoint=${step}`, body);
    const ms = Math.round(performance.now() - started);
    state.goodStep = data.checkpoint; state.lastBody = body; show("error", "");
    const drawn = performance.now();
    render(data, ms);
    $("answer").dataset.renderMs = Math.round(performance.now() - drawn);  // what drawing the answer took
    if (state.inspect) inspect(state.inspect.layer, state.inspect.unit);  // the same unit, for the new picture
    explainWhy();
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
  state.lastAnswer = null; state.layersKey = ""; state.lastBody = null; state.heat = null;
  $("answer").textContent = "–"; $("bars").replaceChildren(); $("layers").replaceChildren();
  $("roundtrip").textContent = ""; const c = $("input28").getContext("2d"); c.clearRect(0, 0, 28, 28);
  $("preparation").hidden = true; closeInspector();
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
// a second while a reader draws. A click on a layer's map inspects the unit under it.
function mapsOf(name, encoded, onePicture, classes, old) {
  const values = bytes(encoded), shape = encoded.shape, box = old || document.createElement("div");
  const existing = old ? [...old.querySelectorAll("canvas")] : null;
  let next = 0;
  const reuse = () => (existing ? existing[next++] : undefined);
  box.className = "maps";
  const add = (c, caption, unit) => {
    if (existing) return;
    c.title = caption; c.tabIndex = 0; c.setAttribute("role", "button"); c.setAttribute("aria-label", caption);
    c.addEventListener("dblclick", () => zoom(c, caption, unit));
    c.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); zoom(c, caption, unit); } });
    if (unit) c.addEventListener("click", (e) => { const u = unit(c, e); if (u) inspect(name, u); });
    else c.addEventListener("click", () => zoom(c, caption, null));
    box.append(c);
  };
  const cell = (c, e) => {  // the pixel of canvas c under a pointer event
    const r = c.getBoundingClientRect();
    return [Math.min(c.height - 1, Math.max(0, Math.floor((e.clientY - r.top) * c.height / r.height))),
      Math.min(c.width - 1, Math.max(0, Math.floor((e.clientX - r.left) * c.width / r.width)))];
  };
  if (onePicture) {
    const [n, h, w, c] = shape, size = h * w * c, scale = Math.max(2, Math.floor(36 / h));
    for (let i = 0; i < n; i++) {
      add(picture(values.subarray(i * size, (i + 1) * size), h, w, c, 0, scale, reuse()), `${name} ${i + 1}`, null);
    }
  } else if (name === "output" && classes) {  // one cell per class, its name under it
    add(picture(values, 1, shape[0], 1, 0, 30, reuse()), `${name}: ${t("logits")}`, (c, e) => [cell(c, e)[1]]);
    if (!existing) {
      box.append(el("div", { className: "labels" }, ...classes.map((c) => el("span", { textContent: c }))));
    }
    box.classList.add("strip");
  } else if (shape.length === 1) {
    const side = Math.ceil(Math.sqrt(shape[0])), grid = new Uint8Array(side * side);
    grid.set(values);
    add(picture(grid, Math.ceil(shape[0] / side), side, 1, 0, Math.max(3, Math.floor(160 / side)), reuse()),
      `${name}: ${shape[0].toLocaleString()} ${t("units")}`, (c, e) => {
        const [row, col] = cell(c, e), i = row * side + col; return i < shape[0] ? [i] : null; });
  } else {
    const [h, w, c] = shape, scale = Math.max(1, Math.round(44 / h)), one = new Uint8Array(h * w);
    for (let k = 0; k < c; k++) {
      for (let i = 0; i < h * w; i++) one[i] = values[i * c + k];
      add(picture(one, h, w, 1, 0, scale, reuse()), `${name} · ${t("map")} ${k + 1}`, (cv, e) => [...cell(cv, e), k]);
    }
  }
  return box;
}
let zoomed = null;  // what the enlarged map is of: [source canvas, unit finder]
function zoom(source, caption, unit) {
  const c = $("zoom-canvas"); c.width = source.width; c.height = source.height;
  c.getContext("2d").drawImage(source, 0, 0); $("zoom-caption").textContent = caption; $("zoom").hidden = false;
  zoomed = [source, unit];
}
$("zoom").addEventListener("click", (e) => {
  $("zoom").hidden = true;
  if (e.target === $("zoom-canvas") && zoomed && zoomed[1]) {  // a click on the enlarged map inspects that unit
    const c = $("zoom-canvas"), r = c.getBoundingClientRect(), source = zoomed[0], sr = source.getBoundingClientRect();
    const fake = { clientX: sr.left + (e.clientX - r.left) * sr.width / r.width,
      clientY: sr.top + (e.clientY - r.top) * sr.height / r.height };
    const u = zoomed[1](source, fake);
    const name = source.closest(".layer") && source.closest(".layer").dataset.layer;
    if (u && name) inspect(name, u);
  }
});
document.addEventListener("keydown", (e) => { if (e.key === "Escape") { $("zoom").hidden = true; closeInspector(); } });

// The class names in the page's language: a Korean page names Fashion-MNIST's and CIFAR-10's classes in Korean.
function classNames(english) {
  const run = currentRun();
  return state.lang === "ko" && run && run.classes_ko ? run.classes_ko : english;
}
function render(data, ms) {
  state.lastAnswer = data;
  const answer = $("answer"), names = classNames(data.classes), answerName = names[data.answer];
  answer.textContent = answerName; answer.classList.toggle("long", answerName.length > 2);
  answer.dataset.answer = data.answer; answer.dataset.checkpoint = data.checkpoint;
  if (ms !== null) { answer.dataset.count = Number(answer.dataset.count) + 1; answer.dataset.ms = ms;
    $("roundtrip").textContent = t("answered", ms); }
  const rows = [];
  data.probabilities.forEach((p, i) => {
    const best = i === data.answer ? " best" : "";
    const track = el("span", { className: "track" + best }, el("span", { className: "bar" }));
    track.firstChild.style.width = `${(100 * p).toFixed(1)}%`;
    rows.push(el("span", { className: "name" + best, textContent: names[i] }), track,
      el("span", { className: "value" + best, textContent: `${(100 * p).toFixed(1)}%` }));
  });
  $("bars").replaceChildren(...rows);
  const input = data.input, shown = $("input28"), values = bytes(input);
  const [h, w] = input.shape, c = input.shape[2] || 1;
  shown.width = w; shown.height = h;
  shown.getContext("2d").drawImage(picture(values, h, w, c, 0, 1), 0, 0);
  renderPreparation(data);
  drawOverlays();
  const key = data.layers.map((layer) => `${layer.name}[${layer.shape}]`).join(" ") + ` ${state.lang}`;
  if (key === state.layersKey) {  // the same layers as the answer shown: repaint them
    const boxes = $("layers").querySelectorAll(".maps");
    data.layers.forEach((layer, i) => mapsOf(layer.name, layer, false, names, boxes[i]));
    return;
  }
  state.layersKey = key;
  $("layers").replaceChildren(...data.layers.map((layer) => {
    const kind = layer.name === "output" ? t("logits") : layer.shape.length === 3 ? `${layer.shape[2]} ${t("maps")}` :
      `${layer.shape[0].toLocaleString()} ${t("units")}`;
    const section = el("div", { className: "layer" },
      el("h3", {}, el("code", { textContent: layer.name }), " ",
        el("span", { textContent: `[${layer.shape.join(" × ")}] · ${kind}` })));
    section.dataset.layer = layer.name;
    section.append(mapsOf(layer.name, layer, false, names));
    return section;
  }));
}
function renderPreparation(data) {
  const prep = data.preparation;
  state.frame = prep ? prep.frame : null;
  $("preparation").hidden = !prep;
  if (!prep) return;
  const figures = prep.steps.map((step) => {
    const [h, w] = step.shape, scale = Math.max(1, Math.floor(64 / Math.max(h, w)));
    const c = picture(bytes(step), h, w, 1, 0, scale);
    const figure = el("figure", {}, c, el("figcaption", { textContent: t("steps")[step.name] }));
    if (step.box) {  // the ink's box, drawn over the ink map
      const box = el("div", { className: "box" });
      Object.assign(box.style, { top: `${step.box[0] * scale}px`, left: `${step.box[1] * scale}px`,
        height: `${(step.box[2] - step.box[0]) * scale}px`, width: `${(step.box[3] - step.box[1]) * scale}px` });
      figure.prepend(el("div", { className: "boxed" }, c, box));
    }
    return figure;
  });
  const [h, w] = data.input.shape;
  figures.push(el("figure", {}, picture(bytes(data.input), h, w, 1, 0, 2),
    el("figcaption", { textContent: t("steps").input })));
  $("steps").replaceChildren(...figures);
}
async function loadWeights() {
  const step = selectedStep(), key = `${state.run}@${step}`;
  if (!state.run || step === undefined || key === state.weightsKey) return;
  state.weightsKey = key;
  try {
    const data = await getJSON(`api/weights?run=${encodeURIComponent(state.run)}&checkpoint=${step}`);
    const section = el("div", { className: "layer" }, el("h3", {}, el("code", { textContent: data.layer }), " ",
      el("span", { textContent: `[${data.filters.shape.join(" × ")}]` })), mapsOf(data.layer, data.filters, true));
    $("filters").replaceChildren(section);
  } catch (e) { state.weightsKey = ""; $("filters").replaceChildren(); }
}

// --- overlays: the receptive field of the unit inspected, and the attribution map -----------------------------------
function drawOverlays() {
  for (const id of ["input-overlay", "canvas-overlay"]) {
    const c = $(id); c.getContext("2d").clearRect(0, 0, c.width, c.height);
  }
  if (!state.lastAnswer) return;
  const [h, w] = state.lastAnswer.input.shape, input = $("input-overlay"), ic = input.getContext("2d");
  const sy = input.height / h, sx = input.width / w;
  // The drawing canvas: only when the picture is the drawing, mapped through where the input lies in it.
  const frame = state.picture ? null : state.frame, dc = $("canvas-overlay").getContext("2d");
  const toDrawing = (r, c) => [frame[1] + c * frame[3], frame[0] + r * frame[2]];  // [x, y]
  if (state.heat) {
    const map = state.heat.map, signed = ["gradient_x_input", "integrated_gradients", "occlusion"]
      .includes(state.heat.method);
    let top = 1e-12;
    for (const row of map) for (const v of row) top = Math.max(top, Math.abs(v));
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const v = map[r][c] / top, a = Math.min(1, Math.abs(v)) * 0.85;
        if (a < 0.02) continue;
        const colour = v >= 0 || !signed ? `rgba(255, ${signed ? 40 : Math.round(200 * (1 - Math.abs(v)))}, 0, ${a})` :
          `rgba(40, 120, 255, ${a})`;
        ic.fillStyle = colour; ic.fillRect(c * sx, r * sy, sx, sy);
        if (frame) {
          const [x0, y0] = toDrawing(r, c), [x1, y1] = toDrawing(r + 1, c + 1);
          dc.fillStyle = colour; dc.fillRect(x0, y0, x1 - x0, y1 - y0);
        }
      }
    }
  }
  const inspected = state.inspected;
  if (inspected) {
    const [top, left, bottom, right] = inspected.receptive_field;
    ic.strokeStyle = "#1f6feb"; ic.lineWidth = 3;
    ic.strokeRect(left * sx + 1.5, top * sy + 1.5, (right - left + 1) * sx - 3, (bottom - top + 1) * sy - 3);
    if (frame) {
      const [x0, y0] = toDrawing(top, left), [x1, y1] = toDrawing(bottom + 1, right + 1);
      dc.strokeStyle = "#58a6ff"; dc.lineWidth = 3; dc.strokeRect(x0, y0, x1 - x0, y1 - y0);
    }
  }
}

// --- the unit inspector -------------------------------------------------------------------------------------------
async function inspect(layer, unit) {
  state.inspect = { layer, unit };
  if (!state.lastBody) return;
  try {
    const data = await post(`api/explain?${query(`layer=${encodeURIComponent(layer)}&unit=${unit.join(",")}`)}`,
      state.lastBody);
    state.inspected = data; renderInspector(data); drawOverlays();
  } catch (e) { show("error", e.message); }
}
function closeInspector() {
  state.inspect = null; state.inspected = null; $("inspector").hidden = true; $("inspector").replaceChildren();
  drawOverlays();
}
function numbers(rows, highlight) {  // a small table of numbers, each cell shaded by its sign and size
  let top = 1e-12;
  for (const row of rows) for (const v of row) if (v !== null) top = Math.max(top, Math.abs(v));
  return el("table", { className: "numbers" }, ...rows.map((row, r) => el("tr", {}, ...row.map((v, c) => {
    const td = el("td", { textContent: fmt(v) });
    if (v !== null) {
      const a = Math.min(1, Math.abs(v) / top) * 0.6;
      td.style.background = v >= 0 ? `rgba(45, 164, 78, ${a})` : `rgba(207, 34, 46, ${a})`;
    }
    if (highlight && highlight[0] === r && highlight[1] === c) td.className = "winner";
    return td;
  }))));
}
function renderInspector(data) {
  const box = $("inspector"), parts = [];
  let total = null;
  for (const part of data.parts) {
    if (part.step === "channels") {
      for (const ch of part.shown) {
        parts.push(el("div", { className: "channel" }, el("p", { textContent: t("channel", ch.channel, fmt(ch.sum)) }),
          el("div", { className: "grids" },
            el("figure", {}, numbers(ch.patch), el("figcaption", { textContent: t("patch") })),
            el("span", { className: "op", textContent: "×" }),
            el("figure", {}, numbers(ch.kernel), el("figcaption", { textContent: t("kernel") })),
            el("span", { className: "op", textContent: "=" }),
            el("figure", {}, numbers(ch.products), el("figcaption", { textContent: t("products") })))));
      }
      if (part.rest.count) parts.push(el("p", { textContent: t("restChannels", part.rest.count, fmt(part.rest.sum)) }));
      parts.push(el("p", { className: "step", textContent: t("sum", fmt(part.value)) }));
    } else if (part.step === "inputs") {
      const head = el("tr", {}, ...t("inputsHead").map((h) => el("th", { textContent: h })));
      const rows = part.shown.map((s) => el("tr", {}, el("td", { textContent: s.position ?
        `${s.index} (${s.position.join(", ")})` : String(s.index) }), el("td", { textContent: fmt(s.x) }),
        el("td", { textContent: fmt(s.w) }), el("td", { textContent: fmt(s.product) })));
      parts.push(el("table", { className: "inputs" }, head, ...rows));
      if (part.rest.count) parts.push(el("p", { textContent: t("restInputs", part.rest.count, fmt(part.rest.sum)) }));
      parts.push(el("p", { className: "step", textContent: t("sum", fmt(part.value)) }));
    } else if (part.step === "bias") {
      parts.push(el("p", { className: "step", textContent: t("bias", fmt(part.b), fmt(part.value)) }));
    } else if (part.step === "batch_norm") {
      parts.push(el("p", { className: "step", textContent: t("norm", Object.fromEntries(Object.entries(part)
        .map(([k, v]) => [k, typeof v === "number" ? fmt(v) : v]))) }));
    } else if (part.step === "activation") {
      parts.push(el("p", { className: "step", textContent: t("activation", part.function, fmt(part.value)) }));
    } else if (part.step === "pool") {
      const at = part.winner ? [part.winner[0] - part.position[0], part.winner[1] - part.position[1]] : null;
      parts.push(el("figure", {}, numbers(part.window, at), el("figcaption", { textContent: t("poolOf", part.source) })),
        el("p", { className: "step", textContent: t("pool", part.function, fmt(part.value)) }));
    }
    total = part.value;
  }
  const close = el("button", { type: "button", className: "close", textContent: t("close") });
  close.addEventListener("click", closeInspector);
  const result = el("p", { className: "result", textContent: t("graphValue", fmt(data.value), fmt(total)) });
  result.dataset.value = data.value; result.dataset.total = total;
  box.replaceChildren(el("div", { className: "inspector-head" },
    el("h3", { textContent: t("unitTitle", data.layer, data.unit, fmt(data.value)) }), close),
  el("p", { className: "hint", textContent: t("field", data.receptive_field) }), ...parts, result);
  box.dataset.layer = data.layer; box.dataset.unit = data.unit.join(",");
  box.hidden = false;
}

// --- why this answer: attribution overlays --------------------------------------------------------------------------
const METHODS = ["none", "saliency", "gradient_x_input", "integrated_gradients", "smoothgrad", "grad_cam", "occlusion"];
function fillWhyControls() {
  const run = currentRun(), classes = classNames(run ? run.classes : [...Array(10).keys()].map(String));
  const keep = (id) => $(id).value;
  const method = keep("method") || "none", target = keep("target"), contrast = keep("contrast");
  $("method").replaceChildren(...METHODS.map((m) => new Option(t("methods")[m], m)));
  $("target").replaceChildren(new Option(t("answerClass"), ""), ...classes.map((c, i) => new Option(c, String(i))));
  $("contrast").replaceChildren(new Option(t("noContrast"), ""), ...classes.map((c, i) => new Option(c, String(i))));
  $("method").value = method; $("target").value = target; $("contrast").value = contrast;
}
for (const id of ["method", "target", "contrast"]) $(id).addEventListener("change", () => explainWhy());
async function explainWhy() {
  const method = $("method").value;
  if (method === "none" || !state.lastBody) { state.heat = null; $("why-note").textContent = ""; drawOverlays(); return; }
  if (state.why.busy) { state.why.again = true; return; }
  state.why.busy = true; $("why").dataset.busy = "1";
  try {
    const extra = [`method=${method}`, $("target").value && `target=${$("target").value}`,
      $("contrast").value && `contrast=${$("contrast").value}`].filter(Boolean).join("&");
    const data = await post(`api/attribution?${query(extra)}`, state.lastBody);
    state.heat = data;
    const classes = classNames(state.lastAnswer.classes), note = t("methodNotes")[method];
    $("why-note").textContent = (typeof note === "function" ? note(data.layer) : note) + " " +
      t("score", classes[data.target], data.contrast === null ? null : classes[data.contrast]) + ".";
    $("why").dataset.method = method;
    drawOverlays();
  } catch (e) { state.heat = null; $("why-note").textContent = e.message; drawOverlays(); }
  finally {
    state.why.busy = false;
    if (state.why.again) { state.why.again = false; explainWhy(); } else { $("why").dataset.busy = "0"; }
  }
}

// --- where it goes wrong: the test confusion matrix -----------------------------------------------------------------
async function loadEvaluation() {
  const key = `${state.run}@${state.lang}`;
  if (!state.run || key === state.evaluationKey) return;
  state.evaluationKey = key;
  let data;
  try { data = await getJSON(`api/evaluation?run=${encodeURIComponent(state.run)}`); } catch (e) {
    $("confusion-note").textContent = e.message; $("confusion").replaceChildren(); $("examples").replaceChildren();
    return;
  }
  const total = data.matrix.flat().reduce((a, b) => a + b, 0);
  $("confusion-note").textContent = t("confusionNote", data.checkpoint, total);
  data.classes = classNames(data.classes);
  const head = el("tr", {}, el("th", { textContent: `${t("trueClass")} \\ ${t("predictedClass")}` }),
    ...data.classes.map((c) => el("th", { textContent: c })));
  const rows = data.matrix.map((row, i) => {
    const sum = Math.max(1, row.reduce((a, b) => a + b, 0));
    return el("tr", {}, el("th", { textContent: data.classes[i] }), ...row.map((n, j) => {
      const b = el("button", { type: "button", textContent: String(n), disabled: n === 0 });
      b.dataset.cell = `${i},${j}`;
      const rate = n / sum;
      b.style.background = i === j ? `rgba(45, 164, 78, ${0.15 + 0.6 * rate})` :
        n ? `rgba(207, 34, 46, ${0.15 + 0.85 * Math.sqrt(rate)})` : "";
      b.addEventListener("click", () => showCell(data, i, j));
      return el("td", {}, b);
    }));
  });
  $("confusion").replaceChildren(el("table", { className: "confusion" }, head, ...rows));
  if (state.cell) showCell(data, ...state.cell);
}
async function showCell(evaluation, i, j) {
  state.cell = [i, j];
  let data;
  try { data = await getJSON(`api/evaluation?run=${encodeURIComponent(state.run)}&true=${i}&predicted=${j}`); }
  catch (e) { show("error", e.message); return; }
  const c = evaluation.classes;
  const buttons = data.examples.map((ex) => {
    const [h, w] = ex.image.shape, channels = ex.image.shape[2] || 1;
    const b = el("button", { type: "button", className: "example", title: `#${ex.index}` },
      picture(bytes(ex.image), h, w, channels, 0, 2));
    b.dataset.index = ex.index;
    b.addEventListener("click", async () => {
      const response = await fetch(`api/test_picture?run=${encodeURIComponent(state.run)}&index=${ex.index}`,
        { headers: langHeaders() });
      if (!response.ok) { show("error", (await response.json()).error); return; }
      state.strokes = []; paint();
      usePicture(new File([await response.blob()], `test picture ${ex.index}.png`, { type: "image/png" }));
    });
    return b;
  });
  $("examples").replaceChildren(el("p", { className: "hint", textContent: t("cellOf", c[i], c[j], data.count) }),
    el("div", { className: "grid" }, ...buttons));
}

// --- start ---------------------------------------------------------------------------------------------------------
paint();
applyLanguage();
loadRuns();
setInterval(loadRuns, 2000);  // a training run's new checkpoints appear by themselves (304 while nothing changed)
