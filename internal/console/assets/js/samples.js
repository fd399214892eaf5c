import { h, mount, editorHref } from "./dom.js";
import { call } from "./api.js";

const states = [["", "All"], ["__NONE__", "Unlabeled"], ["__ALL__", "Labeled"]];

// samplesView pages a dataset's samples with the API's filters; a page
// is one request, so a dataset of any size pages the same.
export async function samplesView(id, page = 0, state = "", label = "") {
  const limit = 48;
  let ds, out;
  try {
    const q = new URLSearchParams({ offset: page, limit, preview: "true" });
    if (state) q.set("sample_state", state);
    if (label) q.set("label_name", label);
    [ds, out] = await Promise.all([call("GET", `/v2/{project_id}/datasets/${id}`),
      call("GET", `/v2/{project_id}/datasets/${id}/data-annotations/samples?${q}`)]);
  } catch (e) {
    mount(h("p", { class: "error", role: "alert" }, e.message));
    return;
  }
  const stateSel = h("select", { "aria-label": "Sample state", onchange: () => samplesView(id, 0, stateSel.value, labelSel.value) },
    states.map(([v, t]) => h("option", { value: v, selected: v === state }, t)));
  const labelSel = h("select", { "aria-label": "Label", onchange: () => samplesView(id, 0, stateSel.value, labelSel.value) },
    h("option", { value: "" }, "Any label"), (ds.labels || []).map((l) => h("option", { value: l.name, selected: l.name === label }, l.name)));
  const pages = Math.max(1, Math.ceil(out.sample_count / limit));
  const tiles = (out.samples || []).map((s, i) => h("a", { class: "tile", href: editorHref(ds.dataset_type, id, page * limit + i) },
    s.sample_type === 0 || s.sample_type === undefined ? h("img", { src: s.source, alt: s.sample_name, loading: "lazy" }) : h("span", {}, (s.sample_data || [""])[0]),
    h("span", {}, (s.labels || []).map((l) => l.name).join(", ") || "—")));
  mount(h("h1", {}, ds.dataset_name),
    h("div", { class: "toolbar" }, stateSel, labelSel,
      h("button", { type: "button", disabled: page === 0, onclick: () => samplesView(id, page - 1, state, label) }, "Previous"),
      h("span", { class: "muted" }, `page ${page + 1} of ${pages} · ${out.sample_count} samples`),
      h("button", { type: "button", disabled: page + 1 >= pages, onclick: () => samplesView(id, page + 1, state, label) }, "Next"),
      h("a", { href: editorHref(ds.dataset_type, id, 0) }, "Label from the first"),
      h("a", { href: `#/datasets/${id}/versions` }, `Versions (${ds.dataset_version_count || 0})`),
      h("a", { href: `#/datasets/${id}/team-tasks` }, "Team labeling")),
    h("div", { class: "grid" }, tiles));
}
