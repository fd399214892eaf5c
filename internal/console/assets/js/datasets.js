import { h, mount, editorHref, currentNavigation } from "./dom.js";
import { call, workspaceID } from "./api.js";

const types = { 0: "Image classification", 1: "Object detection", 3: "Image segmentation", 100: "Text classification",
  101: "Named entities", 102: "Text triplets", 200: "Sound classification", 201: "Speech content", 202: "Speech paragraphs", 400: "Table", 600: "Video", 900: "Free format" };

function progress(done, total) {
  const pct = total ? Math.round((done / total) * 100) : 0;
  return h("span", {}, h("span", { class: "progress", role: "progressbar", "aria-valuenow": pct, "aria-valuemin": 0, "aria-valuemax": 100, "aria-label": "labeled" },
    h("span", { style: { width: `${pct}%` } })), ` ${done} / ${total} labeled`);
}

export async function datasetsView() {
  const nav = currentNavigation();
  mount(h("h1", {}, "Datasets"), h("p", { class: "muted" }, "Loading…"));
  let out;
  try {
    out = await call("GET", `/v2/{project_id}/datasets?limit=100&workspace_id=${encodeURIComponent(workspaceID())}`);
  } catch (e) {
    if (nav !== currentNavigation()) return;
    // A team member holds no dataset of its own: its work is its tasks.
    if (e.status === 403) { location.hash = "#/tasks"; return; }
    mount(h("h1", {}, "Datasets"), h("p", { class: "error", role: "alert" }, e.message));
    return;
  }
  if (nav !== currentNavigation()) return; // the user went elsewhere meanwhile
  const rows = (out.datasets || []).map((d) => h("tr", {},
    h("td", {}, h("a", { href: `#/datasets/${d.dataset_id}` }, d.dataset_name)),
    h("td", {}, types[d.dataset_type] || String(d.dataset_type)),
    h("td", {}, progress(d.annotated_sample_count, d.total_sample_count)),
    h("td", {}, h("a", { href: editorHref(d.dataset_type, d.dataset_id, 0) }, "Label"))));
  mount(h("div", { class: "toolbar" }, h("h1", {}, "Datasets"), h("a", { href: "#/datasets/new", class: "button" }, "New dataset")),
    rows.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Type"), h("th", {}, "Progress"), h("th", {}, ""))), h("tbody", {}, rows))
      : h("p", { class: "muted" }, "No dataset yet."));
}
