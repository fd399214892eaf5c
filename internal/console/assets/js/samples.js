// The sample grid of a dataset: one page per request with the API's
// filters (state, label, part of the sample name), so that a dataset of
// any size pages the same. The filters and the page live in the URL
// fragment (#/datasets/{id}?page=2&state=__NONE__&label=cat&name=img_1),
// so that the browser's back button and a shared link show the same page.
// A tile opens the sample's detail; "Label these" opens the editor on the
// filtered list.
import { h, mount, editorHref, sampleFilter, sampleQuery } from "./dom.js";
import { call } from "./api.js";

const states = [["", "All"], ["__NONE__", "Unlabeled"], ["__ALL__", "Labeled"], ["__AUTO_ANNOTATION__", "To be confirmed"]];
const limit = 48;

function thumb(s) {
  if (s.sample_type === 1) return h("span", { class: "text-thumb" }, (s.sample_data || [""])[0]);
  if (s.sample_type === 2) return h("span", { class: "text-thumb" }, "♪ ", s.sample_name);
  return h("img", { src: s.source, alt: s.sample_name, loading: "lazy" });
}

export async function samplesView(id, query) {
  const filter = sampleFilter(query);
  const page = Math.max(0, Number(query.get("page")) || 0);
  let ds, out;
  try {
    const q = sampleQuery(filter);
    q.set("offset", page); // a page index, as the reference says
    q.set("limit", limit);
    q.set("preview", "true");
    [ds, out] = await Promise.all([call("GET", `/v2/{project_id}/datasets/${id}`),
      call("GET", `/v2/{project_id}/datasets/${id}/data-annotations/samples?${q}`)]);
  } catch (e) {
    mount(h("p", { class: "error", role: "alert" }, e.message));
    return;
  }
  // go shows another page or filter; the fragment is the page's state.
  const go = (changes) => {
    const f = new URLSearchParams(filter);
    for (const [k, v] of Object.entries(changes)) { if (v === "" || v === 0) f.delete(k); else f.set(k, v); }
    location.hash = `#/datasets/${id}${String(f) ? `?${f}` : ""}`;
  };
  const stateSel = h("select", { "aria-label": "Sample state", onchange: () => go({ state: stateSel.value, page: 0 }) },
    states.map(([v, t]) => h("option", { value: v, selected: v === (filter.get("state") || "") }, t)));
  const labelSel = h("select", { "aria-label": "Label", onchange: () => go({ label: labelSel.value, page: 0 }) },
    h("option", { value: "" }, "Any label"), (ds.labels || []).map((l) => h("option", { value: l.name, selected: l.name === filter.get("label") }, l.name)));
  const search = h("input", { type: "search", name: "name", "aria-label": "Sample name contains", placeholder: "Sample name contains…", value: filter.get("name") || "" });
  const searchForm = h("form", { class: "inline", role: "search", onsubmit: (ev) => { ev.preventDefault(); go({ name: search.value.trim(), page: 0 }); } }, search);
  const pages = Math.max(1, Math.ceil(out.sample_count / limit));
  const tiles = (out.samples || []).map((s, i) => {
    const at = new URLSearchParams(filter);
    at.set("at", page * limit + i);
    return h("a", { class: "tile", href: `#/datasets/${id}/samples/${s.sample_id}?${at}` }, thumb(s),
      h("span", {}, (s.labels || []).map((l) => l.name).join(", ") || "—"));
  });
  mount(h("div", { class: "toolbar" }, h("a", { href: "#/datasets" }, "← Datasets"), h("h1", {}, ds.dataset_name)),
    h("div", { class: "toolbar" },
      out.sample_count ? h("a", { href: editorHref(ds.dataset_type, id, 0, filter) }, "Label these") : "",
      h("a", { href: `#/datasets/${id}/versions` }, `Versions (${ds.dataset_version_count || 0})`),
      h("a", { href: `#/datasets/${id}/team-tasks` }, "Team labeling"),
      h("a", { href: `#/datasets/${id}/import` }, "Import"),
      h("a", { href: `#/datasets/${id}/export` }, "Export")),
    h("div", { class: "toolbar" }, stateSel, labelSel, searchForm,
      h("button", { type: "button", disabled: page === 0, onclick: () => go({ page: page - 1 }) }, "Previous"),
      h("span", { class: "muted", "aria-live": "polite" }, `page ${page + 1} of ${pages} · ${out.sample_count} samples`),
      h("button", { type: "button", disabled: page + 1 >= pages, onclick: () => go({ page: page + 1 }) }, "Next")),
    tiles.length ? h("div", { class: "grid" }, tiles) : h("p", { class: "muted" }, "No sample matches."));
}
