"""The browser side of :class:`estlab.widgets.chart.CurveChart`: an anywidget ESM module drawing on canvas.

Kept as Python strings (not ``.js`` files) so the wheel needs no package-data entry. No library, no CDN:
plain canvas 2D code. The model-level store (``initialize``) receives every message even before a view
exists; views only draw it.
"""

ESM = r"""
const STORES = new Map();
const CAP = 4000;          // points kept per series in the browser (pairs merged past it)
const SPARSE = 40;         // series with at most this many points get markers

function store(model) {
  const uid = model.get("uid");
  let s = STORES.get(uid);
  if (!s) { s = {seq: -1, series: new Map(), recent: [], views: new Set(), latency: []}; STORES.set(uid, s); }
  return s;
}

function compact(ser) {
  if (ser.step.length <= CAP) return;
  const n = ser.step.length - 1, st = [], wa = [], va = [];
  for (let i = 0; i + 1 < n; i += 2) {
    st.push(ser.step[i + 1]); wa.push(ser.wall[i + 1]); va.push((ser.value[i] + ser.value[i + 1]) / 2);
  }
  st.push(ser.step[n]); wa.push(ser.wall[n]); va.push(ser.value[n]);
  ser.step = st; ser.wall = wa; ser.value = va;
}

function applyAppend(s, msg) {
  if (msg.seq <= s.seq) return false;
  for (const [sid, meta] of Object.entries(msg.meta || {})) {
    if (!s.series.has(sid)) s.series.set(sid, {...meta, step: [], wall: [], value: []});
    else Object.assign(s.series.get(sid), meta);
  }
  for (const [sid, pts] of Object.entries(msg.points || {})) {
    const ser = s.series.get(sid);
    if (!ser) continue;
    const last = ser.step.length ? ser.step[ser.step.length - 1] : -Infinity;
    for (const [step, wall, value] of pts) {
      if (step <= last && ser.step.length) continue;
      ser.step.push(step); ser.wall.push(wall); ser.value.push(value);
    }
    compact(ser);
  }
  s.seq = msg.seq;
  return true;
}

function applySnapshot(s, snap) {
  if (!snap || snap.seq === undefined || snap.seq <= s.seq) return false;
  s.series = new Map();
  for (const [sid, ser] of Object.entries(snap.series || {})) {
    s.series.set(sid, {...ser, step: [...ser.step], wall: [...ser.wall], value: [...ser.value]});
  }
  s.seq = snap.seq;
  for (const m of s.recent) applyAppend(s, m);   // appends newer than the snapshot
  return true;
}

function redrawAll(s) { for (const v of s.views) v.schedule(); }

function initialize({ model }) {
  const s = store(model);
  applySnapshot(s, model.get("snapshot"));
  const onMsg = (msg) => {
    if (!msg || msg.kind !== "append") return;
    const probe = globalThis.estlabChartProbe;  // an array set by benchmarks/bench_ui.py: arrivals, for latency
    if (Array.isArray(probe)) probe.push([Date.now() / 1000, model.get("uid"), msg]);
    s.recent.push(msg); if (s.recent.length > 100) s.recent.shift();
    if (applyAppend(s, msg)) {
      if (msg.event_time) {
        s.latency.push(Date.now() / 1000 - msg.event_time);
        if (s.latency.length > 2000) s.latency.shift();
      }
      redrawAll(s);
    }
  };
  const onSnap = () => { if (applySnapshot(s, model.get("snapshot"))) redrawAll(s); };
  model.on("msg:custom", onMsg);
  model.on("change:snapshot", onSnap);
  return () => { model.off("msg:custom", onMsg); model.off("change:snapshot", onSnap); };
}

function escHtml(t) {
  return String(t).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

function niceTicks(lo, hi, n) {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(x => x >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

function fmtNum(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(a >= 1e5 ? 0 : 1) + "k";
  if (a >= 100) return Math.round(v).toLocaleString("en-US");
  if (a >= 1 || a === 0) return (+v.toFixed(2)).toString();
  return (+v.toPrecision(3)).toString();
}
function fmtWall(t) {
  t = Math.max(0, Math.round(t));
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}` : `${m}:${String(sec).padStart(2, "0")}`;
}

function smooth(values, w) {
  if (!(w > 0) || values.length < 3) return values;
  const out = new Array(values.length); let last = 0, k = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) { out[i] = v; continue; }
    last = last * w + (1 - w) * v; k += 1; out[i] = last / (1 - Math.pow(w, k));
  }
  return out;
}

function render({ model, el }) {
  const s = store(model);
  el.classList.add("estlab-chart");
  const root = document.createElement("div");
  root.className = "estlab-chart-root";
  root.innerHTML = `
    <div class="estlab-chart-controls">
      <label>x <select class="estlab-chart-x"><option value="step">step</option><option value="wall">wall time</option></select></label>
      <label><input type="checkbox" class="estlab-chart-log"/> log y</label>
      <label>smoothing <input type="range" class="estlab-chart-smooth" min="0" max="0.99" step="0.01"/>
        <span class="estlab-chart-smooth-value"></span></label>
      <span class="estlab-chart-legend"></span>
    </div>
    <div class="estlab-chart-empty">Curves appear here as runs report: training loss as it is computed, eval metrics at each evaluation.</div>
    <div class="estlab-chart-grid"></div>
    <div class="estlab-chart-tip" style="display:none"></div>`;
  el.appendChild(root);
  const q = (c) => root.querySelector(c);
  const xSel = q(".estlab-chart-x"), logBox = q(".estlab-chart-log"), smoothIn = q(".estlab-chart-smooth");
  const smoothText = q(".estlab-chart-smooth-value"), grid = q(".estlab-chart-grid"), tip = q(".estlab-chart-tip");
  const empty = q(".estlab-chart-empty"), legend = q(".estlab-chart-legend");
  const sync = () => {
    xSel.value = model.get("x_axis"); logBox.checked = model.get("log_y");
    smoothIn.value = model.get("smoothing"); smoothText.textContent = (+model.get("smoothing")).toFixed(2);
  };
  sync();
  const setTrait = (k, v) => { model.set(k, v); model.save_changes(); };
  xSel.onchange = () => setTrait("x_axis", xSel.value);
  logBox.onchange = () => setTrait("log_y", logBox.checked);
  smoothIn.oninput = () => { smoothText.textContent = (+smoothIn.value).toFixed(2); setTrait("smoothing", +smoothIn.value); };
  const panels = new Map();
  let pending = false;
  const view = {
    schedule() {
      if (pending) return; pending = true;
      requestAnimationFrame(() => { pending = false; draw(); });
    },
  };
  s.views.add(view);
  // the theme in use, for the kernel's pictures (diagnostics PNGs): JupyterLab marks <body>, else the page's colour
  const isDark = () => {
    const flag = document.body ? document.body.dataset.jpThemeLight : undefined;
    if (flag === "true" || flag === "false") return flag === "false";
    const rgb = (getComputedStyle(document.body || el).backgroundColor.match(/[\d.]+/g) || []).map(Number);
    return rgb.length >= 3 && (rgb.length < 4 || rgb[3] > 0) && (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) < 128;
  };
  const reportTheme = () => { const d = isDark(); if (model.get("dark") !== d) setTrait("dark", d); };
  reportTheme();
  const themeWatch = new MutationObserver(() => { reportTheme(); view.schedule(); });
  if (document.body) themeWatch.observe(document.body, {attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"]});
  const onTrait = () => { sync(); view.schedule(); };
  for (const k of ["x_axis", "log_y", "smoothing", "height"]) model.on("change:" + k, onTrait);

  function panelFor(metric) {
    let p = panels.get(metric);
    if (p) return p;
    const box = document.createElement("div"); box.className = "estlab-chart-panel"; box.dataset.metric = metric;
    const title = document.createElement("div"); title.className = "estlab-chart-title"; title.textContent = metric;
    const canvas = document.createElement("canvas");
    box.appendChild(title); box.appendChild(canvas); grid.appendChild(box);
    p = {box, canvas, metric, geom: null};
    canvas.addEventListener("mousemove", (e) => hover(p, e));
    canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
    panels.set(metric, p);
    return p;
  }

  function groups() {
    const out = new Map();
    for (const [sid, ser] of s.series) {
      if (!ser.step.length) continue;
      if (!out.has(ser.metric)) out.set(ser.metric, []);
      out.get(ser.metric).push([sid, ser]);
    }
    return out;
  }

  function draw() {
    const g = groups();
    const style = getComputedStyle(el);
    const fg = style.getPropertyValue("--jp-ui-font-color1").trim() || style.color || "#222";
    const fg2 = style.getPropertyValue("--jp-ui-font-color2").trim() || "#777";
    const gridColor = style.getPropertyValue("--jp-border-color2").trim() || "#ddd";
    empty.style.display = g.size ? "none" : "";
    for (const [metric, p] of panels) if (!g.has(metric)) { p.box.remove(); panels.delete(metric); }
    const xKey = model.get("x_axis") === "wall" ? "wall" : "step";
    const logY = model.get("log_y"), w = +model.get("smoothing"), H = model.get("height") || 220;
    const lastSteps = {}; let total = 0;
    const runs = new Map();
    let oneFit = false;
    const levelRuns = new Set();
    for (const [metric, list] of g) {
      const p = panelFor(metric);
      const cssW = Math.max(240, Math.min(460, (root.clientWidth || 900) / Math.min(g.size, 3) - 12));
      const dpr = window.devicePixelRatio || 1;
      p.canvas.style.width = cssW + "px"; p.canvas.style.height = H + "px";
      p.canvas.width = Math.round(cssW * dpr); p.canvas.height = Math.round(H * dpr);
      const ctx = p.canvas.getContext("2d"); ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, cssW, H);
      const L = 52, R = 10, T = 8, B = 26, pw = cssW - L - R, ph = H - T - B;
      let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      const lines = [];
      const stepped = list.some(([, ser]) => !ser.one_fit);  // one-fit runs then span the others' x range
      for (const [sid, ser] of list) {
        total += ser.step.length;
        lastSteps[ser.run] = Math.max(lastSteps[ser.run] ?? -1, ser.step[ser.step.length - 1]);
        runs.set(ser.run, ser.color);
        oneFit = oneFit || !!ser.one_fit;
        if (ser.one_fit) levelRuns.add(ser.run);
        const xs = ser[xKey], ys = smooth(ser.value, ser.step.length > SPARSE ? w : 0);
        lines.push({sid, ser, xs, ys});
        for (let i = 0; i < xs.length; i++) {
          const y = ys[i];
          if (!Number.isFinite(y) || (logY && y <= 0)) continue;
          if (!(ser.one_fit && stepped)) { x0 = Math.min(x0, xs[i]); x1 = Math.max(x1, xs[i]); }
          y0 = Math.min(y0, y); y1 = Math.max(y1, y);
        }
      }
      if (!Number.isFinite(x0)) continue;
      if (x1 === x0) { x0 -= 1; x1 += 1; }
      { const padX = (x1 - x0) * 0.02; x0 -= padX; x1 += padX; }  // markers at the edges stay whole
      const tf = logY ? Math.log10 : (v) => v;
      let ty0 = tf(y0), ty1 = tf(y1);
      if (ty1 - ty0 < 1e-9) { const pad = Math.max(Math.abs(ty0) * 0.05, 0.01); ty0 -= pad; ty1 += pad; }
      const padY = (ty1 - ty0) * 0.06; ty0 -= padY; ty1 += padY;
      const X = (v) => L + (v - x0) / (x1 - x0) * pw, Y = (v) => T + (1 - (tf(v) - ty0) / (ty1 - ty0)) * ph;
      ctx.font = "11px sans-serif"; ctx.lineWidth = 1; ctx.strokeStyle = gridColor; ctx.fillStyle = fg2;
      ctx.textAlign = "right"; ctx.textBaseline = "middle";
      const yt = logY ? niceTicks(ty0, ty1, 4).map(v => Math.pow(10, v)) : niceTicks(ty0, ty1, 4);
      for (const v of yt) {
        const y = Y(v); if (y < T - 1 || y > T + ph + 1) continue;
        ctx.beginPath(); ctx.moveTo(L, y); ctx.lineTo(L + pw, y); ctx.stroke(); ctx.fillText(fmtNum(v), L - 4, y);
      }
      ctx.textAlign = "center"; ctx.textBaseline = "top";
      for (const v of niceTicks(x0, x1, 5)) {
        const x = X(v); if (x < L - 1 || x > L + pw + 1) continue;
        ctx.beginPath(); ctx.moveTo(x, T); ctx.lineTo(x, T + ph); ctx.stroke();
        ctx.fillText(xKey === "wall" ? fmtWall(v) : fmtNum(v), x, T + ph + 5);
      }
      ctx.strokeStyle = fg2; ctx.strokeRect(L, T, pw, ph);
      ctx.save(); ctx.beginPath(); ctx.rect(L, T, pw, ph); ctx.clip();
      for (const {ser, xs, ys} of lines) {
        const color = ser.color || "#1f77b4";
        if (ser.one_fit) {  // a full-batch fit has no curve: its result is a level to compare against
          const v = ys.filter(Number.isFinite).pop();
          if (v === undefined || (logY && v <= 0)) continue;
          ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = 1.6; ctx.setLineDash([2, 3]);
          ctx.beginPath(); ctx.moveTo(L, Y(v)); ctx.lineTo(L + pw, Y(v)); ctx.stroke(); ctx.setLineDash([]);
          const above = Y(v) - 14 >= T;  // the label above its line, or below it when the line is at the top
          ctx.textAlign = "right"; ctx.textBaseline = above ? "bottom" : "top";
          ctx.fillText("one fit", L + pw - 3, above ? Y(v) - 2 : Y(v) + 2);
          continue;
        }
        if (w > 0 && ser.step.length > SPARSE) {  // the raw curve, faint, under the smoothed one
          ctx.globalAlpha = 0.25; ctx.strokeStyle = color; ctx.setLineDash([]); ctx.beginPath();
          let on = false;
          for (let i = 0; i < xs.length; i++) {
            const v = ser.value[i]; if (!Number.isFinite(v) || (logY && v <= 0)) { on = false; continue; }
            on ? ctx.lineTo(X(xs[i]), Y(v)) : ctx.moveTo(X(xs[i]), Y(v)); on = true;
          }
          ctx.stroke(); ctx.globalAlpha = 1;
        }
        ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = 1.6;
        ctx.setLineDash(ser.split === "train" ? [5, 3] : []);
        ctx.beginPath(); let on = false;
        for (let i = 0; i < xs.length; i++) {
          const v = ys[i]; if (!Number.isFinite(v) || (logY && v <= 0)) { on = false; continue; }
          on ? ctx.lineTo(X(xs[i]), Y(v)) : ctx.moveTo(X(xs[i]), Y(v)); on = true;
        }
        ctx.stroke(); ctx.setLineDash([]);
        if (xs.length <= SPARSE) {
          for (let i = 0; i < xs.length; i++) {
            const v = ys[i]; if (!Number.isFinite(v) || (logY && v <= 0)) continue;
            ctx.beginPath(); ctx.arc(X(xs[i]), Y(v), 3, 0, 2 * Math.PI); ctx.fill();
          }
        }
      }
      ctx.restore();
      p.geom = {L, T, pw, ph, x0, x1, xKey, lines, X, Y};
    }
    legend.innerHTML = "";
    for (const [run, color] of runs) {
      const item = document.createElement("span"); item.className = "estlab-chart-legend-item";
      item.innerHTML = `<i style="background:${color}"></i>`; item.append(run); legend.appendChild(item);
    }
    if (runs.size) legend.insertAdjacentHTML("beforeend", `<span class="estlab-chart-legend-note">dashed: train · solid: eval${oneFit ? " · dotted level: one full-batch fit" : ""}</span>`);
    el.dataset.lastSteps = JSON.stringify(lastSteps);
    el.dataset.oneFit = JSON.stringify([...levelRuns].sort());  // runs drawn as a level ("one fit")
    el.dataset.points = String(total);
    el.dataset.seq = String(s.seq);
  }

  function hover(p, e) {
    const g = p.geom; if (!g) return;
    const rect = p.canvas.getBoundingClientRect();
    const mx = e.clientX - rect.left;
    if (mx < g.L || mx > g.L + g.pw) { tip.style.display = "none"; return; }
    const xv = g.x0 + (mx - g.L) / g.pw * (g.x1 - g.x0);
    const rows = [];
    for (const {ser, xs, ys} of g.lines) {
      let best = -1, bd = Infinity;
      for (let i = 0; i < xs.length; i++) { const d = Math.abs(xs[i] - xv); if (d < bd) { bd = d; best = i; } }
      if (best < 0) continue;
      const at = g.xKey === "wall" ? fmtWall(xs[best]) : "step " + ser.step[best].toLocaleString("en-US");
      rows.push(`<div><i style="background:${ser.color}"></i>${escHtml(ser.run)} · ${ser.split}: <b>${(+ys[best].toPrecision(5))}</b> <span>(${at})</span></div>`);
    }
    tip.innerHTML = `<div class="estlab-chart-tip-title">${escHtml(p.metric)}</div>` + rows.join("");
    tip.style.display = "block";
    const rr = root.getBoundingClientRect();
    tip.style.left = (e.clientX - rr.left + 14) + "px"; tip.style.top = (e.clientY - rr.top + 10) + "px";
  }

  const ro = new ResizeObserver(() => view.schedule());
  ro.observe(root);
  view.schedule();
  return () => {
    s.views.delete(view); ro.disconnect(); themeWatch.disconnect();
    for (const k of ["x_axis", "log_y", "smoothing", "height"]) model.off("change:" + k, onTrait);
  };
}

export default { initialize, render };
"""

CSS = r"""
.estlab-chart-root { position: relative; font-family: var(--jp-ui-font-family, sans-serif); font-size: 12px;
  color: var(--jp-ui-font-color1, #222); max-width: 100%; box-sizing: border-box; }
.estlab-chart-controls { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; margin: 2px 0 6px; }
.estlab-chart-controls select, .estlab-chart-controls input { vertical-align: middle; }
.estlab-chart-smooth { width: 110px; }
.estlab-chart-legend { display: flex; flex-wrap: wrap; gap: 10px; }
.estlab-chart-legend i, .estlab-chart-tip i { display: inline-block; width: 10px; height: 10px; margin-right: 4px;
  border-radius: 2px; vertical-align: middle; }
.estlab-chart-legend-note { color: var(--jp-ui-font-color2, #777); }
.estlab-chart-grid { display: flex; flex-wrap: wrap; gap: 12px; }
.estlab-chart-panel { flex: 0 0 auto; }
.estlab-chart-title { font-weight: 600; margin-bottom: 2px; }
.estlab-chart-empty { color: var(--jp-ui-font-color2, #777); padding: 12px 0; }
.estlab-chart-tip { position: absolute; z-index: 10; pointer-events: none; padding: 4px 8px; border-radius: 4px;
  background: var(--jp-layout-color0, #fff); color: var(--jp-ui-font-color1, #222);
  border: 1px solid var(--jp-border-color1, #bbb); box-shadow: 0 2px 6px rgba(0,0,0,.2); white-space: nowrap; }
.estlab-chart-tip-title { font-weight: 600; }
.estlab-chart-tip span { color: var(--jp-ui-font-color2, #777); }
"""
