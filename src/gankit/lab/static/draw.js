// gankit lab page, drawing: the plane (D's heat map, D* contours, G's manifold, points, gradient arrows) and the
// line charts, from the frames lab.js keeps in `state`. Plain canvas 2D, no libraries. Loaded before lab.js.
"use strict";

const REAL = [27, 158, 119];
const FAKE = [117, 112, 179];
const CLASS_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"];

// ---------------------------------------------------------------- the plane

function mix(a, b, t) { return a.map((v, i) => Math.round(v + (b[i] - v) * t)); }

function drawHeat(ctx, heat, prob, W, H) {
  const n = heat.n;
  const off = document.createElement("canvas");
  off.width = n;
  off.height = n;
  const octx = off.getContext("2d");
  const img = octx.createImageData(n, n);
  const lo = prob ? 0 : heat.min ?? 0;
  const hi = prob ? 1 : heat.max ?? 1;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = heat.values[i][j];
      const t = v === null ? 0.5 : Math.min(1, Math.max(0, (v - lo) / (hi - lo || 1)));
      const rgb = t >= 0.5 ? mix([255, 255, 255], REAL, (t - 0.5) * 1.2) : mix([255, 255, 255], FAKE, (0.5 - t) * 1.2);
      const k = ((n - 1 - i) * n + j) * 4;  // row i is at y_i, from the bottom
      img.data.set([rgb[0], rgb[1], rgb[2], 255], k);
    }
  }
  octx.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, W, H);
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
    if (L.real) drawPoints(ctx, f.real, null, "rgba(27,158,119,0.75)", toPx, 2.2);
    if (L.fake) drawPoints(ctx, f.fake, f.fake_labels, "rgba(117,112,179,0.85)", toPx, 2.2);
    if (L.arrows && f.arrows) {
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
  const [left, right, top, bottom] = [46, 6, 6, 16];
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
  for (const s of series) {  // legends last, on white, so no line crosses them
    const width = ctx.measureText(s.name).width;
    ctx.fillStyle = "rgba(255,255,255,0.85)";
    ctx.fillRect(legendX - 2, top + 1, width + 4, 12);
    ctx.fillStyle = s.colour;
    ctx.fillText(s.name, legendX, top + 10);
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
}
