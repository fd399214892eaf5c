// A dataset's versions: the list (the current one marked), and publishing
// a new one, whose status the page follows until it is ready or fails.
import { h, mount, toast } from "./dom.js";
import { call, may } from "./api.js";

const statusName = { 0: "publishing", 1: "ready", 2: "deleting", 4: "failed" };

export async function versionsView(id) {
  const base = `/v2/{project_id}/datasets/${id}`;
  let ds, out;
  try {
    [ds, out] = await Promise.all([call("GET", base), call("GET", `${base}/versions?limit=100`)]);
  } catch (e) { mount(h("p", { class: "error", role: "alert" }, e.message)); return; }
  const versions = out.versions || [];
  const publishing = versions.some((v) => v.status === 0);
  const publish = h("button", { type: "button", class: "primary", disabled: publishing }, "Publish a version");
  if (!(await may("modelarts:dataset:createDatasetVersion"))) {
    publish.disabled = true;
    publish.title = "Denied: modelarts:dataset:createDatasetVersion";
  }
  publish.addEventListener("click", async () => {
    publish.disabled = true;
    try {
      await call("POST", `${base}/versions`, {});
      toast("Publishing…");
    } catch (e) { toast(`Not published: ${e.message}`); }
    versionsView(id);
  });
  const rows = versions.map((v) => h("tr", {},
    h("td", {}, v.version_name, v.is_current ? h("span", { class: "muted" }, " (current)") : ""),
    h("td", { class: v.status === 4 ? "error" : "" }, statusName[v.status] ?? String(v.status), v.status === 4 && v.message ? `: ${v.message}` : ""),
    h("td", {}, `${v.annotated_sample_count} / ${v.total_sample_count} labeled`),
    h("td", {}, new Date(v.create_time).toLocaleString())));
  mount(h("div", { class: "toolbar" }, h("a", { href: `#/datasets/${id}` }, `← ${ds.dataset_name}`), h("h1", {}, "Versions"), publish),
    rows.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Version"), h("th", {}, "Status"), h("th", {}, "Samples"), h("th", {}, "Created"))), h("tbody", {}, rows))
      : h("p", { class: "muted" }, "No version yet: publish one to freeze the dataset's labels for training."));
  // A version being published changes on the server: look again shortly.
  if (publishing) {
    const here = location.hash;
    setTimeout(() => { if (location.hash === here) versionsView(id); }, 700);
  }
}
