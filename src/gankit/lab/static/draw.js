// gankit lab page, drawing: the plane (D's heat map, D* contours, G's manifold, points, gradient arrows) and the
// line charts, from the frames lab.js keeps in `state`. Plain canvas 2D, no libraries. Loaded before lab.js.
"use strict";

const REAL = [27, 158, 119];
const FAKE = [117, 112, 179];
const CLASS_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"];

// ---------------------------------------------------------------- the plane

function mix(a, b, t) { return a.map((v, i) => Math.round(v + (b[i] - v) * t)); }

// D over the plane, bilinearly interpolated between the grid's n x n values (grid point (i, j) sits at the
// plane's x_j, y_i, so the corners of the canvas are the corners of the grid): no blocks at any size.
function heatColours(prob, heat) {
  const lo = prob ? 0 : heat.min ?? 0;
  const hi = prob ? 1 : heat.max ?? 1;
  return {lo, span: hi - lo || 1};
}

function drawHeat(ctx, heat, prob, W, H, scale = null) {
  const n = heat.n;
  const {lo, span} = scale || heatColours(prob, heat);
  const t = new Float32Array(n * n);  // values mapped to [0, 1]; unknown (null) at the middle
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = heat.values[i][j];
      t[i * n + j] = v === null ? 0.5 : Math.min(1, Math.max(0, (v - lo) / span));
    }
  }
  const lut = [];
  for (let k = 0; k <= 255; k++) {
    const s = k / 255;
    lut.push(s >= 0.5 ? mix([255, 255, 255], REAL, (s - 0.5) * 1.2) : mix([255, 255, 255], FAKE, (0.5 - s) * 1.2));
  }
  const img = ctx.createImageData(W, H);
  for (let py = 0; py < H; py++) {
    const gy = ((H - 1 - py) / (H - 1)) * (n - 1);  // canvas y points down; row 0 is ymin
    const i0 = Math.min(n - 2, Math.floor(gy));
    const fy = gy - i0;
    for (let px = 0; px < W; px++) {
      const gx = (px / (W - 1)) * (n - 1);
      const j0 = Math.min(n - 2, Math.floor(gx));
      const fx = gx - j0;
      const a = t[i0 * n + j0];
      const b = t[i0 * n + j0 + 1];
      const c = t[(i0 + 1) * n + j0];
      const d = t[(i0 + 1) * n + j0 + 1];
      const v = (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
      const rgb = lut[Math.round(v * 255)];
      const k = (py * W + px) * 4;
      img.data[k] = rgb[0];
      img.data[k + 1] = rgb[1];
      img.data[k + 2] = rgb[2];
      img.data[k + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

function drawContours(ctx, grid, levels, toPx, bounds) {
  const n = grid.n;
  const v = grid.values;
  const [x0, x1, y0, y1] = bounds;
  const gx = (j) => x0 + (j / (n - 1)) * (x1 - x0);
  const gy = (i) => y0 + (i / (n - 1)) * (y1 - y0);
  ctx.lineWidth = 1.5;
  for (const level of levels) {
    ctx.strokeStyle = level === 0.5 ? "rgba(0,0,0,0.8)" : "rgba(0,0,0,0.35)";
    ctx.beginPath();
    for (let i = 0; i < n - 1; i++) {
      for (let j = 0; j < n - 1; j++) {
        const c = [[i, j], [i, j + 1], [i + 1, j + 1], [i + 1, j]];  // corners, counter-clockwise
        const vals = c.map(([a, b]) => v[a][b]);
        if (vals.some((x) => x === null)) continue;
        const pts = [];
        for (let e = 0; e < 4; e++) {
          const [a, b] = [e, (e + 1) % 4];
          if ((vals[a] - level) * (vals[b] - level) < 0) {
            const t = (level - vals[a]) / (vals[b] - vals[a]);
            pts.push(toPx(gx(c[a][1] + t * (c[b][1] - c[a][1])), gy(c[a][0] + t * (c[b][0] - c[a][0]))));
          }
        }
        for (let p = 0; p + 1 < pts.length; p += 2) {
          ctx.moveTo(pts[p][0], pts[p][1]);
          ctx.lineTo(pts[p + 1][0], pts[p + 1][1]);
        }
      }
    }
    ctx.stroke();
  }
}

function drawPoints(ctx, points, labels, colour, toPx, radius) {
  for (let k = 0; k < points.length; k++) {
    const p = points[k];
    if (p[0] === null || p[1] === null) continue;
    const [x, y] = toPx(p[0], p[1]);
    ctx.fillStyle = labels ? CLASS_COLOURS[labels[k] % CLASS_COLOURS.length] : colour;
    ctx.beginPath();
    ctx.arc(x, y, radius, 0, 2 * Math.PI);
    ctx.fill();
  }
}

function drawPlane() {
  const canvas = $("plane");
  const ctx = canvas.getContext("2d");
  const W = canvas.width;
  const H = canvas.height;
  const f = state.frame;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, W, H);
  if (!f) return;
  const bounds = state.drawMode ? state.drawBounds : f.bounds;
  const [x0, x1, y0, y1] = bounds;
  const toPx = (x, y) => [((x - x0) / (x1 - x0)) * W, H - ((y - y0) / (y1 - y0)) * H];
  const L = f.layers;
  if (!state.drawMode) {
    const prob = f.heatmap && f.heatmap.label.startsWith("D(x) = P");
    if (L.heatmap && f.heatmap) drawHeat(ctx, f.heatmap, prob, W, H);
    if (L.dstar && f.dstar) drawContours(ctx, f.dstar, [0.25, 0.5, 0.75], toPx, bounds);
    if (L.manifold && f.manifold) {
      ctx.lineWidth = 0.7;
      for (const m of f.manifold) {
        ctx.strokeStyle = m.label === null ? "rgba(60,60,60,0.45)" : CLASS_COLOURS[m.label % 8] + "88";
        ctx.beginPath();
        const at = (r, c) => m.points[r * m.cols + c];
        const path = (get, count) => {
          let pen = false;
          for (let k = 0; k < count; k++) {
            const p = get(k);
            if (p[0] === null || p[1] === null) { pen = false; continue; }
            const [x, y] = toPx(p[0], p[1]);
            if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
            pen = true;
          }
        };
        for (let r = 0; r < m.rows; r++) path((k) => at(r, k), m.cols);
        if (m.rows > 1) for (let c = 0; c < m.cols; c++) path((k) => at(k, c), m.rows);
        ctx.stroke();
      }
    }
    const s = f.slowmo;
    const beforeG = s && s.name === "sample_z";  // slow motion, sub-step 1: no G(z) yet
    if (L.real) drawPoints(ctx, f.real, null, "rgba(27,158,119,0.75)", toPx, 2.2);
    if (s && s.fake) {  // slow motion, the G update: ghosts where the points were, lines to where they are
      drawPoints(ctx, s.fake, null, "rgba(90,90,90,0.75)", toPx, 2.6);
      ctx.strokeStyle = "rgba(80,80,80,0.6)";
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let k = 0; k < s.fake.length; k++) {
        const [a, b] = [s.fake[k], f.fake[k]];
        if ([a[0], a[1], b[0], b[1]].includes(null)) continue;
        ctx.moveTo(...toPx(a[0], a[1]));
        ctx.lineTo(...toPx(b[0], b[1]));
      }
      ctx.stroke();
    }
    if (L.fake && !beforeG) drawPoints(ctx, f.fake, f.fake_labels, "rgba(117,112,179,0.85)", toPx, 2.2);
    if (L.arrows && f.arrows && !beforeG) {
      let maxNorm = 0;
      for (const a of f.arrows) if (a[0] !== null && a[1] !== null) maxNorm = Math.max(maxNorm, Math.hypot(a[0], a[1]));
      const scale = maxNorm > 0 ? 28 / maxNorm : 0;
      ctx.strokeStyle = "rgba(40,40,40,0.55)";
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let k = 0; k < f.arrows.length; k++) {
        const a = f.arrows[k];
        const p = f.fake[k];
        if ([a[0], a[1], p[0], p[1]].includes(null)) continue;
        const [x, y] = toPx(p[0], p[1]);
        const dx = a[0] * scale;
        const dy = -a[1] * scale;  // canvas y points down
        ctx.moveTo(x, y);
        ctx.lineTo(x + dx, y + dy);
      }
      ctx.stroke();
    }
  }
  if (state.drawMode) drawPoints(ctx, state.drawn, state.drawnLabels, "#d95f02", toPx, 3);
}

// ---------------------------------------------------------------- charts

function lineChart(canvas, series, reference = null) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width;
  const H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  const pts = series.flatMap((s) => s.data).filter((p) => p[1] !== null && Number.isFinite(p[1]));
  if (!pts.length) {
    ctx.fillStyle = "#999";
    ctx.font = "12px sans-serif";
    ctx.fillText("no data yet", 10, H / 2);
    return;
  }
  let [xlo, xhi] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [ylo, yhi] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (reference !== null) { ylo = Math.min(ylo, reference); yhi = Math.max(yhi, reference); }
  if (xhi === xlo) xhi = xlo + 1;
  if (yhi === ylo) { yhi += 0.5; ylo -= 0.5; }
  const [left, right, top, bottom] = [46, 6, 15, 14];  // legends in the strip above the plot, off the curves
  const px = (x) => left + ((x - xlo) / (xhi - xlo)) * (W - left - right);
  const py = (y) => top + (1 - (y - ylo) / (yhi - ylo)) * (H - top - bottom);
  ctx.font = "10px sans-serif";
  ctx.fillStyle = "#666";
  ctx.fillText(yhi.toPrecision(3), 2, top + 8);
  ctx.fillText(ylo.toPrecision(3), 2, H - bottom);
  ctx.fillText(`step ${xlo}`, left, H - 3);
  ctx.fillText(`${xhi}`, W - right - 30, H - 3);
  ctx.strokeStyle = "#ccc";
  ctx.strokeRect(left, top, W - left - right, H - top - bottom);
  if (reference !== null) {
    ctx.setLineDash([4, 3]);
    ctx.strokeStyle = "#999";
    ctx.beginPath();
    ctx.moveTo(left, py(reference));
    ctx.lineTo(W - right, py(reference));
    ctx.stroke();
    ctx.setLineDash([]);
  }
  let legendX = left + 4;
  for (const s of series) {
    ctx.strokeStyle = s.colour;
    ctx.lineWidth = 1.3;
    ctx.beginPath();
    let pen = false;
    for (const [x, y] of s.data) {
      if (y === null || !Number.isFinite(y)) { pen = false; continue; }
      if (pen) ctx.lineTo(px(x), py(y)); else ctx.moveTo(px(x), py(y));
      pen = true;
    }
    ctx.stroke();
  }
  for (const s of series) {  // legends above the plot area: no curve runs under them
    const width = ctx.measureText(s.name).width;
    ctx.fillStyle = s.colour;
    ctx.fillRect(legendX, top - 8, 8, 3);
    ctx.fillText(s.name, legendX + 11, top - 4);
    legendX += 11;
    legendX += width + 10;
  }
}

function drawCharts() {
  const f = state.frame;
  if (!f) return;
  const h = state.history;
  const key = (k) => h.map((r) => [r.step, r[k] ?? null]);
  lineChart($("chart-loss"), [{name: "loss D", colour: "#d95f02", data: key("loss/D")},
    {name: "loss G", colour: "#7570b3", data: key("loss/G")}]);
  lineChart($("chart-dout"), [{name: "D(x)", colour: "#1b9e77", data: key("D/real")},
    {name: "D(G(z))", colour: "#7570b3", data: key("D/fake")}]);
  const div = f.divergence;
  lineChart($("chart-div"), div.key ? [{name: div.key, colour: "#e7298a", data: key(div.key)}] : [], div.reference);
  const m = state.metrics;
  const mk = (k) => m.map((r) => [r.step, r[k] ?? null]);
  lineChart($("chart-w1"), [{name: "W1", colour: "#66a61e", data: mk("w1")}]);
  lineChart($("chart-kl"), [{name: "KL(data||model)", colour: "#d95f02", data: mk("kl_data_model")},
    {name: "KL(model||data)", colour: "#7570b3", data: mk("kl_model_data")},
    {name: "JS", colour: "#1b9e77", data: mk("js")}]);
}

function drawAll() {
  drawPlane();
  drawCharts();
  drawNoise();
  drawBefore();
  drawPlaneKey();
}

// ---------------------------------------------------------------- slow motion and the noise space

function drawBefore() {
  const f = state.frame;
  const canvas = $("before");
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!f || !f.slowmo || !f.slowmo.heatmap) return;
  const prob = f.heatmap ? f.heatmap.label.startsWith("D(x) = P") : false;
  const scale = f.heatmap ? heatColours(prob, f.heatmap) : null;  // the plane's colour scale: the two compare
  drawHeat(ctx, {n: f.slowmo.heatmap.length, values: f.slowmo.heatmap, min: f.heatmap?.min, max: f.heatmap?.max},
    prob, canvas.width, canvas.height, scale);
  const [x0, x1, y0, y1] = f.bounds;
  const toPx = (x, y) => [((x - x0) / (x1 - x0)) * canvas.width, canvas.height - ((y - y0) / (y1 - y0)) * canvas.height];
  drawPoints(ctx, f.real, null, "rgba(27,158,119,0.6)", toPx, 1.2);
  drawPoints(ctx, f.fake, null, "rgba(117,112,179,0.7)", toPx, 1.2);
}

// The colour of a point of the plane (the noise view's key): the hue is its direction from the plane's centre,
// the saturation grows with its distance from it.
function planeColour(p, bounds) {
  const [x0, x1, y0, y1] = bounds;
  const u = (2 * (p[0] - x0)) / (x1 - x0) - 1;
  const v = (2 * (p[1] - y0)) / (y1 - y0) - 1;
  const hue = Math.round(((Math.atan2(v, u) * 180) / Math.PI + 360) % 360);
  const sat = Math.round(25 + 75 * Math.min(1, Math.hypot(u, v) / 0.7));
  return `hsl(${hue},${sat}%,45%)`;
}

function drawNoise() {
  const f = state.frame;
  const canvas = $("noise");
  const ctx = canvas.getContext("2d");
  const W = canvas.width;
  const H = canvas.height;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, W, H);
  if (!f || !f.noise) return;
  const [lo, hi] = f.noise.range;
  const pad = 0.15 * (hi - lo);
  const [a, b] = [lo - pad, hi + pad];
  const toPx = (x, y) => [((x - a) / (b - a)) * W, H - ((y - a) / (b - a)) * H];
  ctx.strokeStyle = "#eee";
  ctx.strokeRect(...toPx(lo, hi), ((hi - lo) / (b - a)) * W, ((hi - lo) / (b - a)) * H);
  const pts = f.noise.points;
  for (let k = 0; k < pts.length; k++) {
    const z = pts[k];
    const x = f.fake[k];
    if (z[0] === null || z[1] === null || !x || x[0] === null || x[1] === null) continue;
    const [px, py] = toPx(z[0], f.noise.dims >= 2 ? z[1] : 0);
    ctx.fillStyle = planeColour(x, f.bounds);
    ctx.beginPath();
    ctx.arc(px, py, 2, 0, 2 * Math.PI);
    ctx.fill();
  }
  if (f.noise.dims > 2) {
    ctx.fillStyle = "#999";
    ctx.font = "10px sans-serif";
    ctx.fillText(`2 of ${f.noise.dims} axes`, 4, H - 4);
  }
}

function drawPlaneKey() {
  const f = state.frame;
  const canvas = $("plane-key");
  const ctx = canvas.getContext("2d");
  if (!f) return;
  const n = 16;
  const [x0, x1, y0, y1] = f.bounds;
  const cw = canvas.width / n;
  const ch = canvas.height / n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      ctx.fillStyle = planeColour([x0 + ((j + 0.5) / n) * (x1 - x0), y1 - ((i + 0.5) / n) * (y1 - y0)], f.bounds);
      ctx.fillRect(j * cw, i * ch, cw + 0.5, ch + 0.5);
    }
  }
  const toPx = (x, y) => [((x - x0) / (x1 - x0)) * canvas.width, canvas.height - ((y - y0) / (y1 - y0)) * canvas.height];
  drawPoints(ctx, f.real.slice(0, 200), null, "rgba(0,0,0,0.6)", toPx, 0.8);
}
