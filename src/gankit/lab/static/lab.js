// gankit lab page: plain JS and canvas, no libraries. The server owns the game; this page draws its frames
// (see gankit/lab/session.py for the fields) and sends validated-on-the-server messages for every control.
"use strict";

const HISTORY_MAX = 2000;

const state = {
  ws: null, fields: null, frame: null, game: null, history: [], metrics: [], lastSeq: 0,
  drawMode: false, drawing: false, drawn: [], drawnLabels: [], drawBounds: null, redraw: false, openBox: null,
  historyAsked: null,
  pendingLayers: {},  // layer -> the state the user just clicked, until a frame shows it
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
    else if (msg.for === "recommended") setStatus(`using the settings of the preset ${msg.preset}`);
    else if (msg.for === "slowmo") setStatus(msg.slowmo === null ? "left slow motion" : "slow motion");
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
    if (f.step > 0 && state.historyAsked !== f.game) {  // a loaded run: its charts so far come with a hello
      state.historyAsked = f.game;
      send({type: "hello"});
    }
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
  for (const el of document.querySelectorAll("[data-layer]")) {
    // A frame sent before the server saw the click would undo it: the box keeps the click until a frame agrees.
    const name = el.dataset.layer, pending = state.pendingLayers[name];
    if (pending !== undefined && f.layers[name] !== pending) continue;
    delete state.pendingLayers[name];
    el.checked = f.layers[name];
  }
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
  syncExtras(f);
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
    el.addEventListener("change", () => {
      state.pendingLayers[el.dataset.layer] = el.checked;
      send({type: "layers", layers: {[el.dataset.layer]: el.checked}});
    });
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

// ---------------------------------------------------------------- overview, slow motion, advice

const SLOWMO_BOXES = {sample_z: ["z"], g_forward: ["G", "samples"], d_forward: ["samples", "D"],
  d_update: ["D", "loss"], g_update: ["loss", "G"]};
const SLOWMO_NAMES = {sample_z: "sample z", g_forward: "G forward", d_forward: "D on real and fake",
  d_update: "D update", g_update: "G update"};

function syncExtras(f) {
  const hidden = new Set(f.inapplicable || []);  // controls the objective never reads
  for (const el of document.querySelectorAll("[data-setting]")) {
    const label = el.closest("label");
    if (label) label.hidden = hidden.has(el.dataset.setting);
  }
  const rec = f.recommended;
  $("recommend").hidden = !(rec && rec.differs);
  if (rec) $("recommend-text").textContent = `Suggested: ${rec.text}.`;
  $("alarm").hidden = !f.alarm;
  $("alarm").textContent = f.alarm ? f.alarm.message : "";
  $("overview").classList.toggle("playing", f.running);
  const s = f.slowmo;
  $("slowmo-panel").hidden = !s;
  $("slowmo-stop").hidden = !s;
  $("slowmo-next").textContent = s ? "Next sub-step" : "Slow motion";
  const active = new Set(s ? SLOWMO_BOXES[s.name] || [] : []);
  for (const box of document.querySelectorAll(".box")) {
    box.classList.toggle("active", active.has(box.dataset.box));
    box.classList.toggle("open", state.openBox === box.dataset.box);
  }
  if (s) {
    const list = $("slowmo-steps");
    if (list.children.length !== s.steps.length) {
      list.innerHTML = "";
      for (const name of s.steps) {
        const li = document.createElement("li");
        li.textContent = SLOWMO_NAMES[name] || name;
        list.appendChild(li);
      }
    }
    [...list.children].forEach((li, i) => li.classList.toggle("now", i === s.phase));
    $("slowmo-caption").textContent = s.caption;
    $("before-figure").hidden = !s.heatmap;
  }
  showBox(f);
}

function fmtNum(v, digits = 4) {
  if (v === null || v === undefined) return "–";
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : String(Number(v.toPrecision(digits)));
}

function rows(points) { return points.map((p) => `(${p.map((c) => fmtNum(c, 3)).join(", ")})`).join(" "); }

function showBox(f) {
  const panel = $("box-details");
  const name = state.openBox;
  panel.hidden = !name;
  if (!name || !f.model) return;
  const m = f.model;
  const lines = {
    z: [["noise z", `${m.z.dim}-d ${m.z.dist}, a batch of ${m.z.batch}`], ["first rows", rows(m.z.sample)]],
    G: [["generator G", `layer widths ${m.G.widths.join(" → ")}`], ["parameters", m.G.params.toLocaleString("en")],
      ["optimizer", `${m.G.opt}, lr ${fmtNum(m.G.lr)}, ${m.G.steps} step(s) per iteration`]],
    samples: [["generated G(z)", rows(m.samples.fake)], ["real x", rows(m.samples.real)]],
    D: [["discriminator D", `layer widths ${m.D.widths.join(" → ")}`], ["parameters", m.D.params.toLocaleString("en")],
      ["optimizer", `${m.D.opt}, lr ${fmtNum(m.D.lr)}, ${m.D.steps} step(s) per iteration`],
      [`mean ${m.D.label}`, `real ${fmtNum(m.D.real)} · generated ${fmtNum(m.D.fake)}`]],
    loss: [["objective", m.loss.objective], ["loss D", fmtNum(m.loss["loss/D"])], ["loss G", fmtNum(m.loss["loss/G"])],
      ["|grad D| · |grad G|", `${fmtNum(m.loss["grad/D"])} · ${fmtNum(m.loss["grad/G"])}`]],
  }[name];
  const body = $("box-body");
  body.innerHTML = "";
  const table = document.createElement("table");
  for (const [k, v] of lines) {
    const tr = table.insertRow();
    tr.insertCell().textContent = k;
    tr.insertCell().textContent = v;
  }
  body.appendChild(table);
}

function wireExtras() {
  for (const box of document.querySelectorAll(".box")) {
    box.addEventListener("click", () => {
      state.openBox = state.openBox === box.dataset.box ? null : box.dataset.box;
      if (state.frame) syncExtras(state.frame);
    });
  }
  $("close-details").addEventListener("click", () => { state.openBox = null; if (state.frame) syncExtras(state.frame); });
  $("slowmo-next").addEventListener("click", () => send({type: "slowmo", action: "next"}));
  $("slowmo-stop").addEventListener("click", () => send({type: "slowmo", action: "stop"}));
  $("apply-recommended").addEventListener("click", () => send({type: "recommended"}));
}

wireButtons();
wireExtras();
connect();
