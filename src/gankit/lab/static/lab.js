// gankit lab page: plain JS and canvas, no libraries. The server owns the game; this page draws its frames
// (see gankit/lab/session.py for the fields) and sends validated-on-the-server messages for every control.
"use strict";

const HISTORY_MAX = 2000;

const state = {
  ws: null, fields: null, frame: null, game: null, history: [], metrics: [], lastSeq: 0,
  drawMode: false, drawing: false, drawn: [], drawnLabels: [], drawBounds: null, redraw: false,
};

const $ = (id) => document.getElementById(id);

function setStatus(text, error = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", error);
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/ws`);
  state.ws = ws;
  ws.onopen = () => setStatus("connected");
  ws.onmessage = (event) => onMessage(JSON.parse(event.data));
  ws.onclose = () => {
    setStatus("disconnected from the lab server; retrying…", true);
    setTimeout(connect, 1000);
  };
}

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
  else setStatus("not connected", true);
}

function onMessage(msg) {
  if (msg.type === "hello") {
    state.fields = msg.fields;
    buildControls(msg);
    state.game = msg.frame.game;
    state.history = msg.history;
    state.metrics = msg.metrics_history;
    state.lastSeq = msg.history.length ? msg.history[msg.history.length - 1].seq : 0;
    fillRuns(msg.runs);
    onFrame(msg.frame);
  } else if (msg.type === "frame") {
    onFrame(msg);
  } else if (msg.type === "error") {
    setStatus(msg.reason, true);
  } else if (msg.type === "ok") {
    if (msg.runs) fillRuns(msg.runs);
    if (msg.for === "export") { setStatus(`exported to ${msg.path}`); send({type: "runs"}); }
    else if (msg.for === "load") setStatus(`loaded ${msg.path}`);
    else if (msg.for === "points") { leaveDrawMode(); setStatus(`training on ${state.drawn.length} drawn points`); }
    else if (msg.for !== "runs") setStatus("ok");
  }
}

function onFrame(f) {
  if (f.game !== state.game) {
    state.game = f.game;
    state.history = [];
    state.metrics = [];
    state.lastSeq = 0;
  }
  if (f.record && f.record.seq > state.lastSeq) {
    state.history.push(f.record);
    state.lastSeq = f.record.seq;
    if (state.history.length > HISTORY_MAX) state.history = state.history.filter((_, i) => i % 2 === 0);
  }
  const last = state.metrics[state.metrics.length - 1];
  if (f.metrics && (!last || last.step !== f.metrics.step || last.nimg !== f.metrics.nimg)) {
    state.metrics.push(f.metrics);
    if (state.metrics.length > HISTORY_MAX) state.metrics = state.metrics.filter((_, i) => i % 2 === 0);
  }
  state.frame = f;
  $("step").textContent = f.step;
  $("nimg").textContent = f.nimg;
  $("play").textContent = f.running ? "Pause" : "Play";
  syncControls(f);
  if (!state.redraw) {
    state.redraw = true;
    requestAnimationFrame(() => { state.redraw = false; drawAll(); });
  }
}

// ---------------------------------------------------------------- controls

function fieldValue(name, el) {
  const field = state.fields[name];
  if (field.kind === "bool") return el.checked;
  if (field.kind === "int") return Number.parseInt(el.value, 10);
  if (field.kind === "float") return Number.parseFloat(el.value);
  if (field.kind === "widths") return el.value.split(",").filter((s) => s.trim()).map((s) => Number(s.trim()));
  return el.value;
}

function buildControls(hello) {
  for (const el of document.querySelectorAll("[data-setting]")) {
    const field = hello.fields[el.dataset.setting];
    if (el.tagName === "SELECT" && !el.options.length) {
      for (const choice of field.choices) {
        const label = choice === "points" ? "points (draw your own)" : choice;
        el.add(new Option(label, choice));
      }
    } else if (field.kind === "int" || field.kind === "float") {
      el.min = field.lo;
      el.max = field.hi;
    }
    if (el.dataset.bound) continue;
    el.dataset.bound = "1";
    el.addEventListener("change", () => onSetting(el));
  }
  const cls = $("draw-class");
  if (!cls.options.length) for (let c = 0; c < 8; c++) cls.add(new Option(String(c), String(c)));
  $("speed").max = hello.max_speed;
}

function onSetting(el) {
  const name = el.dataset.setting;
  if (name === "dataset" && el.value === "points") { enterDrawMode(); return; }
  if (name === "dataset") leaveDrawMode();
  send({type: "settings", settings: {[name]: fieldValue(name, el)}});
}

function syncControls(f) {
  for (const el of document.querySelectorAll("[data-setting]")) {
    const name = el.dataset.setting;
    if (document.activeElement === el || !(name in f.settings)) continue;
    if (name === "dataset" && state.drawMode) continue;
    const value = f.settings[name];
    if (el.type === "checkbox") el.checked = value;
    else el.value = Array.isArray(value) ? value.join(",") : String(value);
  }
  for (const el of document.querySelectorAll("[data-layer]")) el.checked = f.layers[el.dataset.layer];
  if (document.activeElement !== $("speed")) { $("speed").value = f.speed; $("speed-value").textContent = f.speed; }
  const heat = f.heatmap ? `heat map: ${f.heatmap.label}` : "";
  $("heat-legend").textContent = heat;
  $("dstar-legend").textContent = f.dstar
    ? `D* contours 0.25 / 0.5 / 0.75 (p_g: KDE, h = ${f.dstar.bandwidth?.toFixed(3)})`
    : (f.layers.dstar && f.dstar_reason ? f.dstar_reason : "");
  $("div-caption").textContent = f.divergence.label;
  const m = f.metrics;
  const fmt = (v) => (v === null || v === undefined ? "–" : v.toFixed(4));
  $("metrics-text").textContent = m
    ? `at step ${m.step}: W1 ${fmt(m.w1)} · KL(data‖model) ${fmt(m.kl_data_model)} · ` +
      `KL(model‖data) ${fmt(m.kl_model_data)} · JS ${fmt(m.js)} (${m.n} vs ${m.n_real} points)`
    : "";
}

function fillRuns(runs) {
  const sel = $("runs");
  const keep = sel.value;
  sel.innerHTML = "";
  for (const name of runs) sel.add(new Option(name, name));
  if (runs.includes(keep)) sel.value = keep;
}

function enterDrawMode() {
  state.drawMode = true;
  state.drawBounds = state.frame ? state.frame.bounds : [-2, 2, -2, 2];
  $("draw-tools").hidden = false;
  $("plane").classList.add("drawing");
  drawAll();
}

function leaveDrawMode() {
  state.drawMode = false;
  state.drawing = false;
  $("draw-tools").hidden = true;
  $("plane").classList.remove("drawing");
}

function wireButtons() {
  $("play").addEventListener("click", () => send({type: state.frame && state.frame.running ? "pause" : "play"}));
  $("step-both").addEventListener("click", () => send({type: "step", which: "both"}));
  $("step-d").addEventListener("click", () => send({type: "step", which: "d"}));
  $("step-g").addEventListener("click", () => send({type: "step", which: "g"}));
  $("reset").addEventListener("click", () => send({type: "reset"}));
  $("speed").addEventListener("input", () => { $("speed-value").textContent = $("speed").value; });
  $("speed").addEventListener("change", () => send({type: "speed", value: Number.parseInt($("speed").value, 10)}));
  for (const el of document.querySelectorAll("[data-layer]")) {
    el.addEventListener("change", () => send({type: "layers", layers: {[el.dataset.layer]: el.checked}}));
  }
  $("export").addEventListener("click", () => send({type: "export", name: $("export-name").value.trim()}));
  $("load").addEventListener("click", () => { if ($("runs").value) send({type: "load", name: $("runs").value}); });
  $("use-points").addEventListener("click", () => {
    send({type: "points", points: state.drawn, labels: state.drawnLabels});
  });
  $("clear-points").addEventListener("click", () => {
    state.drawn = [];
    state.drawnLabels = [];
    $("drawn-count").textContent = "0 points";
    drawAll();
  });
  const canvas = $("plane");
  canvas.addEventListener("pointerdown", (e) => { if (state.drawMode) { state.drawing = true; addPoint(e, true); } });
  canvas.addEventListener("pointermove", (e) => { if (state.drawing) addPoint(e, false); });
  window.addEventListener("pointerup", () => { state.drawing = false; });
}

function addPoint(event, force) {
  const canvas = $("plane");
  const rect = canvas.getBoundingClientRect();
  const px = (event.clientX - rect.left) * (canvas.width / rect.width);
  const py = (event.clientY - rect.top) * (canvas.height / rect.height);
  const [x0, x1, y0, y1] = state.drawBounds;
  const x = x0 + (px / canvas.width) * (x1 - x0);
  const y = y0 + (1 - py / canvas.height) * (y1 - y0);
  const prev = state.drawn[state.drawn.length - 1];
  const minGap = (x1 - x0) / 80;
  if (!force && prev && Math.hypot(prev[0] - x, prev[1] - y) < minGap) return;
  if (state.drawn.length >= 2000) { setStatus("at most 2,000 points", true); return; }
  state.drawn.push([Number(x.toFixed(4)), Number(y.toFixed(4))]);
  state.drawnLabels.push(Number.parseInt($("draw-class").value, 10));
  $("drawn-count").textContent = `${state.drawn.length} points`;
  drawAll();
}

wireButtons();
connect();
