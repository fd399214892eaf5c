// The named-entity editor: a text sample whose entities are spans of it,
// each a label of type 101 with @modelarts:start_index (the first
// character) and @modelarts:end_index (one past the last). Indexes count
// characters (Unicode code points), as the server checks them, not the
// UTF-16 units of JavaScript strings.
//
// With the mouse: select text, then press a label's key or click the
// label; click an entity to select it. From the keyboard alone: ↓ (or
// Tab, or a click) puts a caret in the text, the arrows move it (Ctrl by
// word, Home/End to the ends), Shift extends a selection, a label's key
// marks the selection. Tab / Shift+Tab select the entities in turn, Delete
// removes the selected one and a label's key relabels it; Escape lets go.
// Entities may not overlap. Enter saves (one API call for all the
// sample's entities) and moves on; outside the text, → does too and ←
// goes back. Entities not saved yet are kept per sample while the editor
// is open, and the page warns before they could be lost.
import { h, mount, toast, markShown, sampleFilter, sampleQuery } from "./dom.js";
import { call, prefetch, prefetched } from "./api.js";

const ENTITY = 101;
const START = "@modelarts:start_index", END = "@modelarts:end_index";
const palette = ["#2f6fde", "#1f9d55", "#c05621", "#9f3fbf", "#c53030", "#0f8f8f", "#b7791f", "#5a67d8"];

let pending = new Map(); // sample_id → spans not saved yet
let pendingScope = ""; // the hash prefix of the editor the pending spans belong to
let dirtyNow = () => false;
let onKeyNow = null;
let onMouseUpNow = null;

// nerGuard reports whether going to hash would lose entities: moving
// between samples of one editor keeps them; leaving the editor does not.
export function nerGuard(hash = "") {
  if (pendingScope && hash.startsWith(pendingScope)) return false;
  return dirtyNow() || pending.size > 0;
}

// discardNer forgets entities not saved (the user chose to leave).
export function discardNer() { pending = new Map(); dirtyNow = () => false; }

// spansOf splits a sample's labels into its entity spans (sorted) and the
// labels that are no span, which a save keeps as they are.
export function spansOf(sample) {
  const spans = [], others = [];
  for (const l of sample?.labels || []) {
    const start = Number(l.property?.[START]), end = Number(l.property?.[END]);
    if (Number.isInteger(start) && Number.isInteger(end) && end > start) spans.push({ name: l.name, start, end, orig: l });
    else others.push(l);
  }
  return { spans: sorted(spans), others };
}

const sorted = (spans) => spans.sort((a, b) => a.start - b.start || a.end - b.end);

function colorOf(name, labels) {
  const i = labels.findIndex((l) => l.name === name);
  const own = i >= 0 && labels[i].property?.["@modelarts:color"];
  if (own) return own;
  let n = i;
  if (n < 0) { n = 0; for (const c of name) n = (n * 31 + c.codePointAt(0)) >>> 0; }
  return palette[n % palette.length];
}

// textNodes draws a text (as code points) with its spans as marks named by
// their label; spans that overlap an earlier one (stored by another tool)
// are left out of the text. view, when given, adds the editor's
// selection [lo, hi), caret and selected span.
function textNodes(cps, spans, labels, view = null) {
  const caretEl = () => h("span", { class: "caret", "aria-hidden": "true" });
  const piece = (a, b) => {
    const cuts = [...new Set([a, b, ...(view ? [view.lo, view.hi, view.caret] : [])].filter((x) => x >= a && x <= b))].sort((x, y) => x - y);
    const out = [];
    for (let j = 0; j + 1 < cuts.length; j++) {
      const x = cuts[j], y = cuts[j + 1];
      if (view && view.caret === x) out.push(caretEl());
      const t = cps.slice(x, y).join("");
      out.push(view && view.lo < view.hi && x >= view.lo && y <= view.hi ? h("span", { class: "sel" }, t) : t);
    }
    return out;
  };
  const nodes = [];
  let pos = 0;
  spans.forEach((sp, i) => {
    if (sp.start < pos || sp.end > cps.length) return;
    if (sp.start > pos) nodes.push(...piece(pos, sp.start));
    const m = h("mark", { class: view && view.selected === i ? "entity selected" : "entity", dataset: { index: i, label: sp.name } }, piece(sp.start, sp.end));
    m.style.setProperty("--c", colorOf(sp.name, labels));
    nodes.push(m);
    pos = sp.end;
  });
  if (pos < cps.length) nodes.push(...piece(pos, cps.length));
  if (view && view.caret === cps.length) nodes.push(caretEl());
  return nodes;
}

// entityText shows a text sample with its entities, read only (the
// reviewer's view), or null when the sample has none.
export function entityText(s) {
  const { spans } = spansOf(s);
  if (!spans.length) return null;
  return h("pre", { class: "card text-sample" }, textNodes(Array.from((s.sample_data || [""])[0]), spans, []));
}

// nerView labels a dataset's samples in the list's order, or those of the
// grid's filter (query: state, label, name).
export async function nerView(id, index, query = new URLSearchParams()) {
  const base = `/v2/{project_id}/datasets/${id}`;
  const filter = sampleFilter(query);
  const qs = String(filter) ? `?${filter}` : "";
  let ds;
  try { ds = await call("GET", base); } catch (e) { mount(h("p", { class: "error", role: "alert" }, e.message)); return; }
  await nerEditor({
    scope: `#/datasets/${id}/ner/`, back: [`#/datasets/${id}${qs}`, ds.dataset_name], labels: ds.labels || [], query: qs, filtered: qs !== "",
    at: async (i) => {
      const q = sampleQuery(filter);
      q.set("offset", i); q.set("limit", 1); q.set("preview", "true");
      const out = await call("GET", `${base}/data-annotations/samples?${q}`);
      return { sample: (out.samples || [])[0], count: out.sample_count };
    },
    save: (s, labels) => call("PUT", `${base}/data-annotations/samples`, { samples: [{ sample_id: s.sample_id, labels }] }),
  }, index);
}

// nerEditor works on a source as label.js's editor does: scope, back,
// labels, at(i), save(sample, labels) and shrinks (a queue that a saved
// sample leaves).
export async function nerEditor(src, index) {
  dirtyNow = () => false;
  if (pendingScope !== src.scope) { pending = new Map(); pendingScope = src.scope; }
  if (onKeyNow) { document.removeEventListener("keydown", onKeyNow); onKeyNow = null; }
  if (onMouseUpNow) { document.removeEventListener("mouseup", onMouseUpNow); onMouseUpNow = null; }
  let cur;
  try { cur = (await prefetched(src.scope + index + (src.query || ""))) || await src.at(index); } catch (e) { mount(h("p", { class: "error", role: "alert" }, e.message)); return; }
  const s = cur.sample;
  const labels = src.labels;
  const text = (s?.sample_data || [""])[0];
  const cps = Array.from(text);
  const u16 = [0];
  for (const c of cps) u16.push(u16[u16.length - 1] + c.length);
  const { spans: savedSpans, others } = spansOf(s);
  const keyOfSpans = (list) => JSON.stringify(list.map((sp) => [sp.name, sp.start, sp.end]));
  let savedKey = keyOfSpans(savedSpans);
  let spans = pending.has(s?.sample_id) ? pending.get(s.sample_id).map((sp) => ({ ...sp })) : savedSpans;
  let anchor = 0, caret = 0, selected = -1;
  const dirty = () => !!s && keyOfSpans(spans) !== savedKey;
  dirtyNow = dirty;
  const keyOf = (l, i) => (l.property && l.property["@modelarts:shortcut"]) || (i < 9 ? String(i + 1) : "");
  const quote = (a, b) => `“${cps.slice(a, b).join("")}”`;

  const textEl = h("div", { class: "ner-text", tabindex: "0", role: "textbox", "aria-readonly": "true", "aria-multiline": "true",
    "aria-label": "Text of the sample: arrows move the caret, Shift+arrows select" });
  const status = h("span", { class: "muted", "aria-live": "polite" });
  const count = h("span", {});
  const hint = h("p", { class: "muted", "aria-live": "polite" });
  const note = h("p", { class: "error", role: "alert" });
  const list = h("ul", { class: "entities", "aria-label": "Entities" });
  const delButton = h("button", { type: "button", onclick: () => { remove(); paint(); } }, "Delete entity ", h("kbd", {}, "Del"));
  const labelButtons = labels.map((l, i) => h("button", { type: "button", onclick: () => { mark(l.name); paint(); } },
    h("span", {}, l.name), keyOf(l, i) ? h("kbd", {}, keyOf(l, i)) : ""));

  const paint = () => {
    const lo = Math.min(anchor, caret), hi = Math.max(anchor, caret);
    textEl.replaceChildren(...textNodes(cps, spans, labels, { lo, hi, caret, selected }));
    list.replaceChildren(...spans.map((sp, i) => h("li", {}, h("button", { type: "button", "aria-pressed": String(i === selected),
      onclick: () => { select(i); paint(); } }, h("strong", {}, sp.name), ` ${quote(sp.start, sp.end)}`))));
    count.textContent = `${spans.length} entit${spans.length === 1 ? "y" : "ies"}`;
    delButton.disabled = selected < 0;
    paintHint();
    status.textContent = dirty() ? "not saved" : "saved";
    status.className = dirty() ? "dirty" : "muted";
    if (s) { if (dirty()) pending.set(s.sample_id, spans.map((sp) => ({ ...sp }))); else pending.delete(s.sample_id); }
  };
  // The hint says what is selected, or where the caret is, for the eye
  // and (live) for a screen reader.
  const paintHint = () => {
    const lo = Math.min(anchor, caret), hi = Math.max(anchor, caret);
    if (selected >= 0) {
      const sp = spans[selected];
      hint.textContent = `${sp.name} ${quote(sp.start, sp.end)} (${sp.start}–${sp.end}) is selected: Delete removes it, a label's key relabels it.`;
    } else if (lo < hi) hint.textContent = `${quote(lo, hi)} (${lo}–${hi}) is selected: a label's key marks it.`;
    else if (document.activeElement === textEl) hint.textContent = `Caret at ${caret} of ${cps.length}: Shift+arrows select from here.`;
    else hint.textContent = "Select text with the mouse, or ↓ for a caret and Shift+arrows, then press a label's key.";
  };
  // Only the hint on focus: redrawing the text under a pressed mouse
  // would lose the selection it starts.
  textEl.addEventListener("focus", paintHint);
  textEl.addEventListener("blur", paintHint);
  const select = (i) => {
    selected = i;
    if (i >= 0) { anchor = caret = spans[i].end; textEl.focus(); }
    note.textContent = "";
  };
  // mark makes the selection an entity of label name (its blanks at either
  // end left out), or relabels the selected entity.
  const mark = (name) => {
    note.textContent = "";
    if (!s) return;
    if (selected >= 0) { spans[selected] = { name, start: spans[selected].start, end: spans[selected].end }; return; }
    let a = Math.min(anchor, caret), b = Math.max(anchor, caret);
    while (a < b && /\s/u.test(cps[a])) a++;
    while (b > a && /\s/u.test(cps[b - 1])) b--;
    if (a === b) { note.textContent = "Select some text first: drag over it, or ↓ for a caret and Shift+arrows."; return; }
    const clash = spans.find((sp) => sp.start < b && a < sp.end);
    if (clash) {
      note.textContent = `Not marked: ${quote(a, b)} overlaps the entity ${quote(clash.start, clash.end)} (${clash.name}). Entities may not overlap: delete or relabel that one instead.`;
      return;
    }
    spans = sorted([...spans, { name, start: a, end: b }]);
    anchor = caret = b;
  };
  const remove = () => {
    if (selected < 0) return;
    spans = spans.filter((_, i) => i !== selected);
    selected = -1;
  };
  // cycle selects the next (or previous) entity; past either end it lets
  // go and answers false, so that Tab moves the focus on as usual.
  const cycle = (back) => {
    if (!spans.length) return false;
    const n = back ? (selected < 0 ? spans.length - 1 : selected - 1) : selected + 1;
    if (n < 0 || n >= spans.length) { select(-1); paint(); return false; }
    select(n);
    return true;
  };

  // Mouse: the DOM selection's ends, as code point indexes in the text.
  const offsetAt = (node, off) => {
    if (!textEl.contains(node)) return textEl.compareDocumentPosition(node) & Node.DOCUMENT_POSITION_PRECEDING ? 0 : cps.length;
    const r = document.createRange();
    r.setStart(textEl, 0);
    r.setEnd(node, off);
    const u = r.toString().length;
    let i = 0;
    while (i < cps.length && u16[i + 1] <= u) i++;
    return i;
  };
  let pressed = false;
  textEl.addEventListener("mousedown", () => { pressed = true; });
  const here = location.hash;
  onMouseUpNow = (ev) => {
    if (!pressed || location.hash !== here) return;
    pressed = false;
    const sel = getSelection();
    if (!sel.rangeCount) return;
    const a = offsetAt(sel.anchorNode, sel.anchorOffset), b = offsetAt(sel.focusNode, sel.focusOffset);
    const m = ev.target instanceof Element && ev.target.closest("mark.entity");
    if (a === b && m && textEl.contains(m)) select(Number(m.dataset.index));
    else { selected = -1; anchor = a; caret = b; note.textContent = ""; }
    sel.removeAllRanges();
    textEl.focus();
    paint();
  };
  document.addEventListener("mouseup", onMouseUpNow);

  const save = async () => {
    if (!s || !dirty()) return true;
    const out = [...others, ...spans.map((sp) => sp.orig || { name: sp.name, type: ENTITY, property: { [START]: sp.start, [END]: sp.end } })];
    try {
      await src.save(s, out);
      savedKey = keyOfSpans(spans);
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
    if (src.shrinks) { nerEditor(src, index); return; } // the saved sample left the queue: the next one is here now
    if (src.filtered) {
      // A save can take the sample out of the filter: then the next one is
      // at this position now.
      const again = await src.at(index).catch(() => null);
      if (again && again.sample && again.sample.sample_id !== s.sample_id) { nerEditor(src, index); return; }
    }
    if (index + 1 < cur.count) go(index + 1); else toast("That was the last sample.");
  };
  const prev = () => { if (index > 0) go(index - 1); };
  const review = s && s.review_accept === false
    ? h("p", { class: "error", role: "note" }, `Rejected in review: ${s.review_comment || "no comment"}`) : "";

  mount(h("div", { class: "toolbar" }, h("a", { href: src.back[0] }, `← ${src.back[1]}`),
      h("span", {}, `Sample ${index + 1} of ${cur.count}`), s ? h("span", { class: "muted" }, s.sample_name) : "", count, status),
    review,
    h("div", { class: "editor" },
      h("div", { class: "stage ner" }, s ? textEl : h("p", { class: "muted" }, "No sample here.")),
      h("div", { class: "labels", role: "group", "aria-label": "Entity labels" },
        labelButtons.length ? labelButtons : h("p", { class: "muted" }, "This dataset has no labels yet: add them to the dataset first."),
        note, hint, h("h2", {}, "Entities"), list,
        h("div", { class: "toolbar" },
          delButton,
          h("button", { type: "button", onclick: prev, disabled: index === 0 }, "Previous ", h("kbd", {}, "←")),
          h("button", { type: "button", class: "primary", onclick: next }, "Save & next ", h("kbd", {}, "Enter"))),
        h("p", { class: "muted" }, "Tab selects the entities in turn; Escape lets go; outside the text, → saves and moves on, ← goes back."))));
  paint();
  if (s) markShown();

  const inText = () => document.activeElement === textEl;
  const wordChar = (i) => i >= 0 && i < cps.length && /[\p{L}\p{N}_]/u.test(cps[i]);
  const step = (k, word) => {
    if (k === "Home") return 0;
    if (k === "End") return cps.length;
    let i = caret;
    if (k === "ArrowRight") {
      if (!word) return Math.min(cps.length, i + 1);
      while (i < cps.length && !wordChar(i)) i++;
      while (i < cps.length && wordChar(i)) i++;
    } else {
      if (!word) return Math.max(0, i - 1);
      while (i > 0 && !wordChar(i - 1)) i--;
      while (i > 0 && wordChar(i - 1)) i--;
    }
    return i;
  };
  onKeyNow = (ev) => {
    if (location.hash !== here || ev.target.closest("input, textarea, select") || ev.metaKey || ev.altKey) return;
    const k = ev.key;
    const moving = ["ArrowLeft", "ArrowRight", "Home", "End"].includes(k);
    if (ev.ctrlKey && !(moving && inText())) return;
    const onPage = inText() || document.activeElement === document.body || document.activeElement?.id === "main";
    // Outside the text, ↓ and Shift+arrows bring the caret into it.
    if (s && !inText() && (k === "ArrowDown" || (ev.shiftKey && (k === "ArrowLeft" || k === "ArrowRight")))) {
      textEl.focus();
      if (k === "ArrowDown") { ev.preventDefault(); return; }
    }
    let handled = true;
    if (k === "Enter") next();
    else if (k === "Tab") handled = onPage && cycle(ev.shiftKey);
    else if ((k === "Delete" || k === "Backspace") && selected >= 0) remove();
    else if (k === "Escape") {
      if (selected >= 0 || anchor !== caret) { selected = -1; anchor = caret; note.textContent = ""; } else if (inText()) document.getElementById("main").focus();
    } else if (moving && inText()) {
      const lo = Math.min(anchor, caret), hi = Math.max(anchor, caret);
      if (!ev.shiftKey && lo < hi && !ev.ctrlKey && (k === "ArrowLeft" || k === "ArrowRight")) caret = k === "ArrowLeft" ? lo : hi; // a selection collapses to its side
      else caret = step(k, ev.ctrlKey);
      if (!ev.shiftKey) anchor = caret;
      selected = -1;
      note.textContent = "";
    } else if (k === "ArrowRight") next();
    else if (k === "ArrowLeft") prev();
    else {
      const i = labels.findIndex((l, j) => keyOf(l, j).toLowerCase() === k.toLowerCase());
      if (i >= 0) mark(labels[i].name);
      else if (k.toLowerCase() === "s") save();
      else handled = false;
    }
    if (handled) { ev.preventDefault(); paint(); }
  };
  document.addEventListener("keydown", onKeyNow);

  // Fetch the next sample ahead, so that moving on shows it at once.
  if (!src.shrinks && index + 1 < cur.count) prefetch(src.scope + (index + 1) + (src.query || ""), () => src.at(index + 1));
}
