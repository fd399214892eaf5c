// h builds an element: h("a", {href: "#/x", onclick: fn}, "text", child…).
// Text is always set as text, never parsed as HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    // Through CSSOM: the content security policy refuses style attributes.
    else if (k === "style") Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Navigations: route() starts one per change of the URL. A view that
// loads before it mounts takes the number when it starts and, after each
// wait, mounts only if it is still current: otherwise the user has moved on
// and a late answer must not replace the newer page.
let navigation = 0;
export function navigate() { return ++navigation; }
export function currentNavigation() { return navigation; }

// mount replaces the main area's content and moves focus to it, so that
// keyboard and screen reader users land on the new page.
export function mount(...nodes) {
  const main = document.getElementById("main");
  main.replaceChildren(...nodes);
  main.focus({ preventScroll: true });
}

let toastTimer;
export function toast(text) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove("show"), 2500);
}

// editorHref is the editor of a dataset's type at sample n: boxes for
// object detection, spans for named entities, the classification editor
// for the others. filter (a grid's state/label/name query) makes the
// editor walk the filtered list.
export function editorHref(type, id, n, filter) {
  const q = filter && String(filter) ? `?${filter}` : "";
  return `#/datasets/${id}/${{ 1: "detect", 101: "ner" }[type] || "label"}/${n}${q}`;
}

// hashQuery is the query part of the page's URL fragment (#/path?k=v).
export function hashQuery() {
  const i = location.hash.indexOf("?");
  return new URLSearchParams(i < 0 ? "" : location.hash.slice(i + 1));
}

// sampleFilter keeps of a fragment query only the grid's filters: state
// (a sample_state), label (a label name) and name (part of a sample name).
export function sampleFilter(q) {
  const f = new URLSearchParams();
  for (const k of ["state", "label", "name"]) if (q.get(k)) f.set(k, q.get(k));
  return f;
}

// sampleQuery turns a grid filter into the sample list API's parameters.
export function sampleQuery(f) {
  const q = new URLSearchParams();
  if (f.get("state")) q.set("sample_state", f.get("state"));
  if (f.get("label")) q.set("label_name", f.get("label"));
  if (f.get("name")) q.set("search_conditions", JSON.stringify([{ sample_name: f.get("name") }]));
  return q;
}

// obsPath accepts obs://bucket/dir/ or /bucket/dir/ and answers the API's
// form (/bucket/dir/), or "" when it is not a folder path.
export function obsPath(v) {
  let p = v.trim().replace(/^obs:\/\//, "/");
  if (!p.startsWith("/")) p = "/" + p;
  if (!p.endsWith("/")) p += "/";
  return /^\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+/.test(p) ? p : "";
}

// markShown marks when the page first showed a sample ("sample-shown" in
// the Performance timeline), which bench measures and a user's browser can
// report.
export function markShown() { if (!performance.getEntriesByName("sample-shown").length) performance.mark("sample-shown"); }
