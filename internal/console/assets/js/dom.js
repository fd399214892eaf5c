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
// for the others.
export function editorHref(type, id, n) {
  return `#/datasets/${id}/${{ 1: "detect", 101: "ner" }[type] || "label"}/${n}`;
}

// markShown marks when the page first showed a sample ("sample-shown" in
// the Performance timeline), which bench measures and a user's browser can
// report.
export function markShown() { if (!performance.getEntriesByName("sample-shown").length) performance.mark("sample-shown"); }
