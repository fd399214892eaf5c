// A sample's detail: the image (with its boxes), text or audio, every
// label with what it holds (a box's corners, an entity's span and text, a
// confidence), and the sample's facts (state, size, time, labelers,
// review). Opened from the grid, it keeps the grid's filter and position:
// ← and → (or the buttons) walk the filtered list, E opens the editor
// there, Escape goes back to the grid.
import { h, mount, editorHref, sampleFilter, sampleQuery } from "./dom.js";
import { call } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";
const states = { 0: "unlabeled", 1: "labeled" };
let onKeyNow = null;

// labelDetail says what a label holds beyond its name.
function labelDetail(l, text) {
  const p = l.property || {};
  const feature = p["@modelarts:feature"];
  if (Array.isArray(feature) && feature.length === 2 && Array.isArray(feature[0])) {
    const [[x1, y1], [x2, y2]] = feature;
    return `${p["@modelarts:shape"] || "bndbox"} (${x1}, ${y1}) – (${x2}, ${y2})`;
  }
  const start = p["@modelarts:start_index"], end = p["@modelarts:end_index"];
  if (start !== undefined && end !== undefined) {
    return `characters ${start}–${end}${text ? `: “${text.slice(Number(start), Number(end))}”` : ""}`;
  }
  return "";
}

function boxesOver(img, labels) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "boxes readonly");
  svg.setAttribute("aria-hidden", "true");
  const draw = () => {
    svg.setAttribute("viewBox", `0 0 ${img.naturalWidth || 1} ${img.naturalHeight || 1}`);
    svg.replaceChildren(...labels.flatMap((l) => {
      const f = l.property?.["@modelarts:feature"];
      if (!Array.isArray(f) || f.length !== 2 || !Array.isArray(f[0])) return [];
      const [[x1, y1], [x2, y2]] = f;
      const r = document.createElementNS(SVG, "rect");
      for (const [k, v] of Object.entries({ x: x1, y: y1, width: x2 - x1, height: y2 - y1, class: "box" })) r.setAttribute(k, v);
      const t = document.createElementNS(SVG, "text");
      t.setAttribute("x", x1 + 3); t.setAttribute("y", y1 + 14);
      t.textContent = l.name;
      return [r, t];
    }));
  };
  img.addEventListener("load", draw);
  draw();
  return svg;
}

export async function sampleView(id, sampleID, query) {
  if (onKeyNow) { document.removeEventListener("keydown", onKeyNow); onKeyNow = null; }
  const filter = sampleFilter(query);
  const at = query.has("at") ? Number(query.get("at")) : -1;
  const base = `/v2/{project_id}/datasets/${id}`;
  let ds, s;
  try {
    [ds, s] = await Promise.all([call("GET", base), call("GET", `${base}/data-annotations/samples/${sampleID}`)]);
  } catch (e) { mount(h("p", { class: "error", role: "alert" }, e.message)); return; }
  const text = s.sample_type === 1 ? (s.sample_data || [""])[0] : "";
  const labels = s.labels || [];
  let stage;
  if (s.sample_type === 1) stage = h("pre", { class: "card text-sample" }, text);
  else if (s.sample_type === 2) stage = h("audio", { controls: true, src: s.source, "aria-label": s.sample_name });
  else {
    const img = h("img", { src: s.source, alt: s.sample_name, draggable: "false" });
    stage = h("div", { class: "boxframe" }, img, boxesOver(img, labels));
  }
  const grid = `#/datasets/${id}${String(filter) ? `?${filter}` : ""}`;
  // walk opens the sample at position to of the filtered list.
  const walk = async (to) => {
    if (to < 0) return;
    const q = sampleQuery(filter);
    q.set("offset", to); q.set("limit", 1);
    try {
      const out = await call("GET", `${base}/data-annotations/samples?${q}`);
      const next = (out.samples || [])[0];
      if (!next) return;
      const nq = new URLSearchParams(filter); nq.set("at", to);
      location.hash = `#/datasets/${id}/samples/${next.sample_id}?${nq}`;
    } catch (e) { status.textContent = e.message; }
  };
  const status = h("span", { class: "error", role: "alert" });
  const facts = [
    ["Sample ID", s.sample_id], ["Type", ["image", "text", "audio"][s.sample_type] ?? String(s.sample_type)],
    ["State", s.sample_status || states[labels.length ? 1 : 0]], ["Size", s.sample_size !== undefined ? `${s.sample_size} bytes` : ""],
    ["Modified", s.sample_time ? new Date(s.sample_time).toLocaleString() : ""], ["Folder", s.sample_dir || ""],
    ["Labelers", (s.labelers || []).map((w) => w.email).join(", ")],
    ["Review", s.review_accept === undefined ? "" : `${s.review_accept ? "passed" : "rejected"}${s.review_comment ? `: ${s.review_comment}` : ""}`],
    ["Acceptance", s.check_accept === undefined ? "" : `${s.check_accept ? "passed" : "rejected"}${s.check_comment ? `: ${s.check_comment}` : ""}`],
  ].filter(([, v]) => v !== "" && v !== undefined);
  const labelRows = labels.map((l) => h("tr", {}, h("td", {}, l.name), h("td", {}, labelDetail(l, text)),
    h("td", {}, l.score !== undefined && l.score !== null ? Number(l.score).toFixed(2) : ""), h("td", {}, l.annotated_by || "")));
  mount(h("div", { class: "toolbar" }, h("a", { href: grid }, `← ${ds.dataset_name}`), h("h1", {}, s.sample_name),
    at >= 0 ? h("button", { type: "button", disabled: at === 0, onclick: () => walk(at - 1) }, "Previous ", h("kbd", {}, "←")) : "",
    at >= 0 ? h("button", { type: "button", onclick: () => walk(at + 1) }, "Next ", h("kbd", {}, "→")) : "",
    at >= 0 ? h("a", { class: "button", href: editorHref(ds.dataset_type, id, at, filter) }, "Edit labels ", h("kbd", {}, "E")) : "", status),
  h("div", { class: "detail" },
    h("div", { class: "stage detail-stage" }, stage),
    h("div", {},
      h("h2", {}, `Labels (${labels.length})`),
      labels.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Label"), h("th", {}, "Holds"), h("th", {}, "Confidence"), h("th", {}, "By"))), h("tbody", {}, labelRows))
        : h("p", { class: "muted" }, "No label yet."),
      h("h2", {}, "Sample"),
      h("dl", { class: "facts" }, facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])))));

  const here = location.hash;
  onKeyNow = (ev) => {
    if (location.hash !== here || ev.target.closest("input, textarea, select") || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "ArrowRight" && at >= 0) { ev.preventDefault(); walk(at + 1); }
    else if (ev.key === "ArrowLeft" && at > 0) { ev.preventDefault(); walk(at - 1); }
    else if (ev.key.toLowerCase() === "e" && at >= 0) { ev.preventDefault(); location.hash = editorHref(ds.dataset_type, id, at, filter); }
    else if (ev.key === "Escape") { ev.preventDefault(); location.hash = grid; }
  };
  document.addEventListener("keydown", onKeyNow);
}
