// The classification editor (images, text and audio): one sample at a
// time, labels toggled by keyboard (the label's shortcut, or 1–9 in the
// label list's order), Enter or → saves and moves on, ← goes back. Each
// save is one API call; labels not saved yet are kept per sample while
// the editor is open and the page warns before they could be lost. The
// next sample is fetched (and its image loaded) ahead.
//
// The editor works on a source: a dataset's samples (labelView) or a team
// labeling task's samples of the signed-in labeler (teamLabelView).
import { h, mount, toast, markShown, editorHref, sampleFilter, sampleQuery } from "./dom.js";
import { call, prefetch, prefetched } from "./api.js";
import { nerEditor, entityText } from "./ner.js";

const labelTypeOf = { 0: 0, 100: 100, 200: 200 };
let pending = new Map(); // sample_id → Set of label names not saved yet
let pendingScope = ""; // the hash prefix of the editor the pending labels belong to
let dirtyNow = () => false;
let onKeyNow = null;

// discardPending forgets labels not saved (the user chose to leave).
export function discardPending() { pending = new Map(); dirtyNow = () => false; }

// leaveGuard reports whether going to hash would lose labels: moving
// between samples of one editor keeps them; leaving the editor does not.
export function leaveGuard(hash = "") {
  if (pendingScope && hash.startsWith(pendingScope)) return false;
  return dirtyNow() || pending.size > 0;
}

export function stage(s) {
  if (!s) return h("p", { class: "muted" }, "No sample here.");
  if (s.sample_type === 1) { markShown(); return entityText(s) || h("pre", { class: "card text-sample" }, (s.sample_data || [""])[0]); }
  if (s.sample_type === 2) { markShown(); return h("audio", { controls: true, src: s.source, "aria-label": s.sample_name }); }
  return h("img", { src: s.source, alt: s.sample_name, onload: markShown });
}

// labelView labels a dataset's samples in the list's order, or those of
// the grid's filter (query: state, label, name).
export async function labelView(id, index, query = new URLSearchParams()) {
  const base = `/v2/{project_id}/datasets/${id}`;
  const filter = sampleFilter(query);
  let ds;
  try { ds = await call("GET", base); } catch (e) { mount(h("p", { class: "error", role: "alert" }, e.message)); return; }
  if (ds.dataset_type === 101) { location.replace(editorHref(101, id, index, filter)); return; } // entities are spans: their own editor
  await editor({
    scope: `#/datasets/${id}/label/`, back: [`#/datasets/${id}${String(filter) ? `?${filter}` : ""}`, ds.dataset_name], labels: ds.labels || [],
    type: labelTypeOf[ds.dataset_type] ?? 0, query: String(filter) ? `?${filter}` : "", filtered: String(filter) !== "",
    at: async (i) => {
      const q = sampleQuery(filter);
      q.set("offset", i); q.set("limit", 1); q.set("preview", "true");
      const out = await call("GET", `${base}/data-annotations/samples?${q}`);
      return { sample: (out.samples || [])[0], count: out.sample_count };
    },
    save: (s, labels) => call("PUT", `${base}/data-annotations/samples`, { samples: [{ sample_id: s.sample_id, labels }] }),
  }, index);
}

// teamLabelView labels the signed-in labeler's samples of a team task;
// with fix, only those rejected in review, each leaving the queue once
// saved.
export async function teamLabelView(datasetID, taskID, index, fix = false) {
  const base = `/v2/{project_id}/datasets/${datasetID}/workforce-tasks/${taskID}`;
  let task;
  try { task = await call("GET", `${base}?label_stats=true`); } catch (e) { mount(h("p", { class: "error", role: "alert" }, e.message)); return; }
  const labels = (task.label_stats || []).map((l) => ({ name: l.name, type: l.type, property: l.property }));
  const type = labels.length ? labels[0].type ?? 0 : 0;
  await (type === 101 ? nerEditor : editor)({
    scope: `#/tasks/${datasetID}/${taskID}/${fix ? "fix" : "label"}/`, back: ["#/tasks", task.task_name], labels,
    type, shrinks: fix,
    at: async (i) => {
      const out = await call("GET", `${base}/data-annotations/samples?offset=${i}&limit=1${fix ? "&sample_state=__REJECTED__" : ""}`);
      return { sample: (out.samples || [])[0], count: out.sample_count };
    },
    save: (s, labels) => call("PUT", `${base}/data-annotations/samples`, { samples: [{ sample_id: s.sample_id, labels }] }),
  }, index);
}

async function editor(src, index) {
  dirtyNow = () => false;
  if (pendingScope !== src.scope) { pending = new Map(); pendingScope = src.scope; }
  if (onKeyNow) { document.removeEventListener("keydown", onKeyNow); onKeyNow = null; }
  let cur;
  try { cur = (await prefetched(src.scope + index + (src.query || ""))) || await src.at(index); } catch (e) { mount(h("p", { class: "error", role: "alert" }, e.message)); return; }
  const s = cur.sample;
  const labels = src.labels;
  const saved = new Set((s?.labels || []).map((l) => l.name));
  const chosen = new Set(pending.get(s?.sample_id) || saved);
  const same = () => chosen.size === saved.size && [...chosen].every((n) => saved.has(n));
  dirtyNow = () => !!s && !same();
  const keyOf = (l, i) => (l.property && l.property["@modelarts:shortcut"]) || (i < 9 ? String(i + 1) : "");

  const status = h("span", { class: "muted", "aria-live": "polite" });
  const buttons = labels.map((l, i) => h("button", { type: "button", "aria-pressed": String(chosen.has(l.name)), onclick: () => toggle(l.name) },
    h("span", {}, l.name), keyOf(l, i) ? h("kbd", {}, keyOf(l, i)) : ""));
  const paint = () => {
    buttons.forEach((b, i) => b.setAttribute("aria-pressed", String(chosen.has(labels[i].name))));
    status.textContent = same() ? "saved" : "not saved";
    status.className = same() ? "muted" : "dirty";
    if (s) { if (same()) pending.delete(s.sample_id); else pending.set(s.sample_id, new Set(chosen)); }
  };
  const toggle = (name) => { if (!s) return; chosen.has(name) ? chosen.delete(name) : chosen.add(name); paint(); };
  const save = async () => {
    if (!s || same()) return true;
    try {
      await src.save(s, [...chosen].map((name) => ({ name, type: src.type })));
      saved.clear(); chosen.forEach((n) => saved.add(n));
      paint();
      return true;
    } catch (e) {
      toast(`Not saved: ${e.message}`);
      return false;
    }
  };
  const go = (to) => { location.hash = `${src.scope}${to}${src.query || ""}`; };
  const next = async () => {
    if (!(await save())) return;
    if (src.shrinks) { editor(src, index); return; } // the saved sample left the queue: the next one is here now
    if (src.filtered) {
      // A save can take the sample out of the filter (an unlabeled one
      // labeled): then the next one is at this position now.
      const again = await src.at(index).catch(() => null);
      if (again && again.sample && again.sample.sample_id !== s.sample_id) { editor(src, index); return; }
    }
    if (index + 1 < cur.count) go(index + 1); else toast("That was the last sample.");
  };
  const prev = () => { if (index > 0) go(index - 1); };
  const review = s && s.review_accept === false
    ? h("p", { class: "error", role: "note" }, `Rejected in review: ${s.review_comment || "no comment"}`) : "";

  mount(h("div", { class: "toolbar" }, h("a", { href: src.back[0] }, `← ${src.back[1]}`),
      h("span", {}, `Sample ${index + 1} of ${cur.count}`), s ? h("span", { class: "muted" }, s.sample_name) : "", status),
    review,
    h("div", { class: "editor" },
      h("div", { class: "stage" }, stage(s)),
      h("div", { class: "labels", role: "group", "aria-label": "Labels" }, buttons,
        h("div", { class: "toolbar" },
          h("button", { type: "button", onclick: prev, disabled: index === 0 }, "Previous ", h("kbd", {}, "←")),
          h("button", { type: "button", class: "primary", onclick: next }, "Save & next ", h("kbd", {}, "Enter"))),
        h("p", { class: "muted" }, "Toggle a label with its key; Enter or → saves and moves on."))));
  paint();

  const here = location.hash;
  const onKey = (ev) => {
    if (location.hash !== here || ev.target.closest("input, textarea, select")) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "Enter" || ev.key === "ArrowRight") { ev.preventDefault(); next(); return; }
    if (ev.key === "ArrowLeft") { ev.preventDefault(); prev(); return; }
    if (ev.key.toLowerCase() === "s") { ev.preventDefault(); save(); return; }
    const i = labels.findIndex((l, j) => keyOf(l, j).toLowerCase() === ev.key.toLowerCase());
    if (i >= 0) { ev.preventDefault(); toggle(labels[i].name); }
  };
  onKeyNow = onKey;
  document.addEventListener("keydown", onKey);

  // Fetch the next sample ahead (and load its image), so that moving on
  // shows it at once. A queue that shrinks has no stable next.
  if (!src.shrinks && index + 1 < cur.count) {
    prefetch(src.scope + (index + 1) + (src.query || ""), () => src.at(index + 1)).then((n) => {
      if (n?.sample && !n.sample.sample_type) { const img = new Image(); img.src = n.sample.source; }
    });
  }
}
