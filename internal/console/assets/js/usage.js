// A task's CPU and memory over time, from the training metrics API: two
// small line charts drawn as SVG through DOM calls (no library; the
// content security policy refuses style attributes, so colours are
// classes), each with a text alternative, and a table of the latest and
// peak values.
import { h } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const W = 420, H = 150, L = 52, R = 10, T = 10, B = 34; // viewBox and margins

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// metricsStep is the period (s) to ask the metrics API to average over for
// a job that has run ms: by the second for its first minute (when the
// server samples every second), then periods of 10 s or more, so that a
// chart has at most about 60 points.
export function metricsStep(ms) {
  const secs = ms / 1000;
  return secs <= 60 ? 1 : Math.min(86400, Math.max(10, Math.ceil(secs / 600) * 10));
}

// tickStep is a round step that cuts max into about n parts.
function tickStep(max, n) {
  const raw = max / n, mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

const fmt = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
// tick writes an axis value with the decimals its step needs.
function tick(v, step) {
  let d = 0;
  while (d < 6 && Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) > 1e-9) d++;
  return v.toFixed(d);
}

// flavorOf reads a job's flavor: its cores and its memory in MiB (0 when
// the job does not say).
export function flavorOf(job) {
  const info = job.spec?.resource?.flavor_detail?.flavor_info || {};
  const mem = info.memory || {};
  const mib = mem.unit === "GB" ? mem.size * 1024 : mem.unit === "MB" ? mem.size : 0;
  return { cores: info.cpu?.core_num || 0, memMiB: mib || 0 };
}

// chart draws one series: points are [seconds since the start, value].
function chart(cls, title, unit, points, floorMax, spanSecs) {
  const yMax0 = Math.max(floorMax, ...points.map((p) => p[1]));
  const yStep = tickStep(yMax0, 4), yMax = Math.ceil(yMax0 / yStep) * yStep || yStep;
  const minutes = spanSecs > 180;
  const xDiv = minutes ? 60 : 1, xUnit = minutes ? "min" : "s";
  const xMax0 = Math.max(spanSecs, ...points.map((p) => p[0]), 1) / xDiv;
  const xStep = tickStep(xMax0, 5), xMax = Math.ceil(xMax0 / xStep) * xStep;
  const x = (secs) => L + (secs / xDiv / xMax) * (W - L - R);
  const y = (v) => H - B - (v / yMax) * (H - T - B);
  const latest = points.length ? points[points.length - 1][1] : null;
  const label = latest === null ? `${title}: no measurement yet`
    : `${title} over ${fmt(xMax0)} ${xUnit}: latest ${fmt(latest)} ${unit}, peak ${fmt(Math.max(...points.map((p) => p[1])))} ${unit}`;
  const svg = s("svg", { class: `usage ${cls}`, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, "data-points": points.length });
  svg.append(s("title", {}, label));
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    svg.append(s("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      s("text", { class: "tick", x: L - 6, y: y(v) + 4, "text-anchor": "end" }, tick(v, yStep)));
  }
  for (let v = 0; v <= xMax + 1e-9; v += xStep) {
    svg.append(s("text", { class: "tick", x: x(v * xDiv), y: H - B + 14, "text-anchor": "middle" }, tick(v, xStep)));
  }
  svg.append(s("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }),
    s("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }),
    s("text", { class: "axis-title", x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, `time since the start (${xUnit})`),
    s("text", { class: "axis-title", x: 12, y: (T + H - B) / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${(T + H - B) / 2})` }, `${title} (${unit})`));
  if (points.length) {
    svg.append(s("polyline", { class: "line", fill: "none", points: points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ") }));
    for (const [t, v] of points) {
      svg.append(s("circle", { class: "pt", cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 2.5 }, s("title", {}, `${fmt(t / xDiv)} ${xUnit}: ${fmt(v)} ${unit}`)));
    }
  }
  return svg;
}

// usageView draws a task's usage from the metrics API's answer (periods
// of step seconds from the job's start; -1 where nothing was measured).
export function usageView(task, metrics, step, job) {
  const series = (name) => ((metrics || []).find((m) => m.metric === name)?.value || [])
    .map((v, i) => [(i + 0.5) * step, v]).filter(([, v]) => v >= 0);
  const { cores, memMiB } = flavorOf(job);
  const cpu = series("cpuUsage");
  // memUsage is a percentage of the flavor's memory: shown in MiB when
  // the job says how much that is.
  const memPct = series("memUsage");
  const mem = memMiB ? memPct.map(([t, v]) => [t, (v / 100) * memMiB]) : memPct;
  const memUnit = memMiB ? "MiB" : "% of the flavor's memory";
  const cpuUnit = cores ? `% of ${cores} ${cores === 1 ? "core" : "cores"}` : "% of the flavor's CPUs";
  const span = (job.status?.duration || 0) / 1000;
  const row = (name, pts, unit) => {
    const last = pts.length ? pts[pts.length - 1][1] : null;
    return h("tr", {}, h("th", { scope: "row" }, name),
      h("td", {}, last === null ? "—" : `${fmt(last)} ${unit}`),
      h("td", {}, pts.length ? `${fmt(Math.max(...pts.map((p) => p[1])))} ${unit}` : "—"),
      h("td", {}, String(pts.length)));
  };
  return h("figure", { class: "usage" },
    h("div", { class: "charts" }, chart("cpu", "CPU", cpuUnit, cpu, 100, span), chart("mem", "Memory", memUnit, mem, memMiB ? 64 : 1, span)),
    h("table", { class: "usage-latest" },
      h("caption", {}, `Usage of ${task}, averaged per ${step === 1 ? "second" : `${step} s`}`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Metric"), h("th", { scope: "col" }, "Latest"), h("th", { scope: "col" }, "Peak"), h("th", { scope: "col" }, "Points"))),
      h("tbody", {}, row("CPU", cpu, cpuUnit), row("Memory", mem, memUnit))));
}
