// The object detection editor: boxes on a zoomable image. Drag on the image
// to draw a box with the current label; click a box to select it, drag it to
// move it and its corner to resize it; Delete removes it. From the keyboard
// alone: B adds a box in the middle, Tab selects the next box, the arrows
// move the selected box (Shift+arrows resize it), Escape lets go of it, a
// label's key sets the current label (and relabels the selected box), + and
// − zoom. Enter saves (one API call) and moves on; ← and → move between
// samples when no box is selected.
import { h, mount, toast, sampleFilter, sampleQuery } from "./dom.js";
import { call } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";
let onKeyNow = null;
let dirtyBoxes = () => false;

export function detectDirty() { return dirtyBoxes(); }

function boxesOf(sample) {
  return (sample?.labels || []).filter((l) => (l.property?.["@modelarts:shape"] || "bndbox") === "bndbox" && Array.isArray(l.property?.["@modelarts:feature"]))
    .map((l) => { const [[x1, y1], [x2, y2]] = l.property["@modelarts:feature"]; return { name: l.name, x1, y1, x2, y2 }; });
}

// detectView edits the boxes of a dataset's sample at index, in the list's
// order or that of the grid's filter (query: state, label, name).
export async function detectView(id, index, query = new URLSearchParams()) {
  if (onKeyNow) { document.removeEventListener("keydown", onKeyNow); onKeyNow = null; }
  dirtyBoxes = () => false;
  const base = `/v2/{project_id}/datasets/${id}`;
  const filter = sampleFilter(query);
  const page = (i) => { const q = sampleQuery(filter); q.set("offset", i); q.set("limit", 1); q.set("preview", "true"); return `${base}/data-annotations/samples?${q}`; };
  let ds, out;
  try {
    [ds, out] = await Promise.all([call("GET", base), call("GET", page(index))]);
  } catch (e) { mount(h("p", { class: "error", role: "alert" }, e.message)); return; }
  const s = (out.samples || [])[0];
  const labels = ds.labels || [];
  const keyOf = (l, i) => (l.property && l.property["@modelarts:shortcut"]) || (i < 9 ? String(i + 1) : "");
  let boxes = boxesOf(s);
  let savedJSON = JSON.stringify(boxes);
  let current = labels[0]?.name || "";
  let selected = -1;
  let zoom = 1;
  dirtyBoxes = () => JSON.stringify(boxes) !== savedJSON;

  const img = h("img", { src: s?.source || "", alt: s?.sample_name || "", draggable: "false" });
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "boxes");
  svg.setAttribute("role", "img");
  const frame = h("div", { class: "boxframe" }, img, svg);
  const status = h("span", { class: "muted", "aria-live": "polite" });
  const count = h("span", { "aria-live": "polite" });
  const labelButtons = labels.map((l, i) => h("button", { type: "button", onclick: () => setLabel(l.name) }, h("span", {}, l.name), keyOf(l, i) ? h("kbd", {}, keyOf(l, i)) : ""));

  const W = () => img.naturalWidth || 1, H = () => img.naturalHeight || 1;
  const clamp = (b) => {
    const x1 = Math.max(0, Math.min(b.x1, b.x2)), x2 = Math.min(W(), Math.max(b.x1, b.x2));
    const y1 = Math.max(0, Math.min(b.y1, b.y2)), y2 = Math.min(H(), Math.max(b.y1, b.y2));
    return { ...b, x1: Math.round(x1), y1: Math.round(y1), x2: Math.round(x2), y2: Math.round(y2) };
  };
  const paint = () => {
    svg.setAttribute("viewBox", `0 0 ${W()} ${H()}`);
    svg.replaceChildren(...boxes.flatMap((b, i) => {
      const r = document.createElementNS(SVG, "rect");
      for (const [k, v] of Object.entries({ x: b.x1, y: b.y1, width: b.x2 - b.x1, height: b.y2 - b.y1 })) r.setAttribute(k, v);
      r.setAttribute("class", i === selected ? "box selected" : "box");
      r.dataset.index = i;
      const t = document.createElementNS(SVG, "text");
      t.setAttribute("x", b.x1 + 3); t.setAttribute("y", b.y1 + 14);
      t.textContent = b.name;
      const out = [r, t];
      if (i === selected) {
        const k = document.createElementNS(SVG, "rect");
        const sz = Math.max(6, W() / 60);
        for (const [a, v] of Object.entries({ x: b.x2 - sz / 2, y: b.y2 - sz / 2, width: sz, height: sz })) k.setAttribute(a, v);
        k.setAttribute("class", "handle");
        k.dataset.handle = i;
        out.push(k);
      }
      return out;
    }));
    labelButtons.forEach((b, i) => b.setAttribute("aria-pressed", String(labels[i].name === current)));
    count.textContent = `${boxes.length} box${boxes.length === 1 ? "" : "es"}`;
    status.textContent = dirtyBoxes() ? "not saved" : "saved";
    status.className = dirtyBoxes() ? "dirty" : "muted";
    frame.style.transform = `scale(${zoom})`;
  };
  const setLabel = (name) => { current = name; if (selected >= 0) boxes[selected] = { ...boxes[selected], name }; paint(); };

  // Mouse: the point under the pointer in image pixels.
  const at = (ev) => { const r = svg.getBoundingClientRect(); return { x: (ev.clientX - r.left) * W() / r.width, y: (ev.clientY - r.top) * H() / r.height }; };
  let drag = null;
  svg.addEventListener("pointerdown", (ev) => {
    if (!s || !current) return;
    const p = at(ev);
    svg.setPointerCapture(ev.pointerId);
    if (ev.target.dataset.handle !== undefined) { drag = { kind: "resize", i: Number(ev.target.dataset.handle) }; return; }
    if (ev.target.dataset.index !== undefined) {
      selected = Number(ev.target.dataset.index);
      drag = { kind: "move", i: selected, from: p, box: { ...boxes[selected] } };
      paint();
      return;
    }
    boxes.push({ name: current, x1: p.x, y1: p.y, x2: p.x, y2: p.y });
    selected = boxes.length - 1;
    drag = { kind: "draw", i: selected };
    paint();
  });
  svg.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const p = at(ev), b = boxes[drag.i];
    if (drag.kind === "move") {
      const dx = p.x - drag.from.x, dy = p.y - drag.from.y;
      boxes[drag.i] = { ...b, x1: drag.box.x1 + dx, y1: drag.box.y1 + dy, x2: drag.box.x2 + dx, y2: drag.box.y2 + dy };
    } else {
      boxes[drag.i] = { ...b, x2: p.x, y2: p.y };
    }
    paint();
  });
  svg.addEventListener("pointerup", () => {
    if (!drag) return;
    const b = clamp(boxes[drag.i]);
    if (drag.kind === "draw" && (b.x2 - b.x1 < 3 || b.y2 - b.y1 < 3)) { boxes.splice(drag.i, 1); selected = -1; } // a click, not a box
    else boxes[drag.i] = b;
    drag = null;
    paint();
  });

  const save = async () => {
    if (!s || !dirtyBoxes()) return true;
    const labelsOut = boxes.map((b) => ({ name: b.name, type: 1, property: { "@modelarts:shape": "bndbox", "@modelarts:feature": [[b.x1, b.y1], [b.x2, b.y2]] } }));
    try {
      await call("PUT", `${base}/data-annotations/samples`, { samples: [{ sample_id: s.sample_id, labels: labelsOut }] });
      savedJSON = JSON.stringify(boxes);
      paint();
      return true;
    } catch (e) { toast(`Not saved: ${e.message}`); return false; }
  };
  const qs = String(filter) ? `?${filter}` : "";
  const go = (to) => { location.hash = `#/datasets/${id}/detect/${to}${qs}`; };
  const next = async () => {
    if (!(await save())) return;
    if (qs) {
      // A save can take the sample out of the filter: then the next one
      // is at this position now.
      const again = await call("GET", page(index)).catch(() => null);
      if (again && again.samples?.[0] && again.samples[0].sample_id !== s.sample_id) { detectView(id, index, query); return; }
    }
    if (index + 1 < out.sample_count) go(index + 1); else toast("That was the last sample.");
  };

  mount(h("div", { class: "toolbar" }, h("a", { href: `#/datasets/${id}${qs}` }, `← ${ds.dataset_name}`),
      h("span", {}, `Sample ${index + 1} of ${out.sample_count}`), s ? h("span", { class: "muted" }, s.sample_name) : "", count, status),
    h("div", { class: "editor" },
      h("div", { class: "stage detect" }, s ? frame : h("p", { class: "muted" }, "No sample here.")),
      h("div", { class: "labels", role: "group", "aria-label": "Label of new boxes" }, labelButtons,
        h("div", { class: "toolbar" },
          h("button", { type: "button", onclick: () => { if (selected >= 0) { boxes.splice(selected, 1); selected = -1; paint(); } } }, "Delete box ", h("kbd", {}, "Del")),
          h("button", { type: "button", class: "primary", onclick: next }, "Save & next ", h("kbd", {}, "Enter"))),
        h("p", { class: "muted" }, "Drag on the image to draw a box. B adds one, Tab selects, arrows move (Shift resizes), + and − zoom."))));
  if (img.complete) paint(); else img.addEventListener("load", paint);

  const here = location.hash;
  onKeyNow = (ev) => {
    if (location.hash !== here || ev.target.closest("input, textarea, select") || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const step = Math.max(1, Math.round(W() / 100));
    const sel = selected >= 0 ? boxes[selected] : null;
    const k = ev.key;
    let handled = true;
    if (k === "Enter") next();
    else if ((k === "Delete" || k === "Backspace") && sel) { boxes.splice(selected, 1); selected = -1; }
    else if (k === "Escape") selected = -1;
    else if (k === "Tab" && boxes.length) selected = ev.shiftKey ? (selected - 1 + boxes.length) % boxes.length : (selected + 1) % boxes.length;
    else if (k.toLowerCase() === "b" && current) {
      boxes.push(clamp({ name: current, x1: W() * 0.35, y1: H() * 0.35, x2: W() * 0.65, y2: H() * 0.65 }));
      selected = boxes.length - 1;
    } else if (k === "+" || k === "=") zoom = Math.min(4, zoom * 1.25);
    else if (k === "-") zoom = Math.max(0.5, zoom / 1.25);
    else if (sel && k.startsWith("Arrow")) {
      const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[k];
      boxes[selected] = clamp(ev.shiftKey ? { ...sel, x2: sel.x2 + d[0], y2: sel.y2 + d[1] } : { ...sel, x1: sel.x1 + d[0], y1: sel.y1 + d[1], x2: sel.x2 + d[0], y2: sel.y2 + d[1] });
    } else if (k === "ArrowRight") next();
    else if (k === "ArrowLeft" && index > 0) go(index - 1);
    else {
      const i = labels.findIndex((l, j) => keyOf(l, j).toLowerCase() === k.toLowerCase());
      if (i >= 0) setLabel(labels[i].name); else handled = false;
    }
    if (handled) { ev.preventDefault(); paint(); }
  };
  document.addEventListener("keydown", onKeyNow);
}
