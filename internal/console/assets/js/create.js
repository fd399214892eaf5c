// Creating a dataset from an object-storage folder: the files under the
// input folder are imported by the server's import task, whose progress
// this page follows until it ends.
import { h, mount, obsPath } from "./dom.js";
import { call, may, workspaceID } from "./api.js";

const kinds = [[0, "Image classification"], [1, "Object detection"], [100, "Text classification"], [101, "Named entities"], [200, "Sound classification"]];

export async function createView() {
  const err = h("p", { class: "error", role: "alert" });
  const submit = h("button", { class: "primary", type: "submit" }, "Create and import");
  const form = h("form", { class: "card", "aria-label": "Create a dataset" },
    h("h1", {}, "New dataset"),
    h("label", {}, "Name", h("input", { name: "name", required: true, pattern: "[A-Za-z0-9_-]{1,100}", title: "letters, digits, _ and -" })),
    h("label", {}, "Type", h("select", { name: "type" }, kinds.map(([v, t]) => h("option", { value: v }, t)))),
    h("label", {}, "Folder of the data (obs://bucket/folder/)", h("input", { name: "input", required: true, placeholder: "obs://bucket/images/" })),
    h("label", {}, "Folder for Atelier's output", h("input", { name: "work", required: true, placeholder: "obs://bucket/output/" })),
    h("label", {}, "Labels, comma separated", h("input", { name: "labels", placeholder: "cat, dog" })),
    submit, err);
  if (!(await may("modelarts:dataset:createDataset"))) {
    submit.disabled = true;
    submit.title = "Denied: modelarts:dataset:createDataset";
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const input = obsPath(f.get("input")), work = obsPath(f.get("work"));
    if (!input || !work) { err.textContent = "Folders are obs://bucket/folder/ paths."; return; }
    const type = Number(f.get("type"));
    const labelType = { 0: 0, 1: 1, 100: 100, 101: 101, 200: 200 }[type];
    const labels = String(f.get("labels") || "").split(",").map((s) => s.trim()).filter(Boolean).map((name) => ({ name, type: labelType }));
    err.textContent = "";
    submit.disabled = true;
    try {
      const out = await call("POST", "/v2/{project_id}/datasets", { dataset_name: f.get("name").trim(), dataset_type: type,
        data_sources: [{ data_type: 0, data_path: input }], work_path: work, work_path_type: 0, labels, workspace_id: workspaceID() });
      await follow(out.dataset_id, out.import_task_id);
    } catch (e) {
      err.textContent = e.message;
      submit.disabled = false;
    }
  });
  mount(form);
  form.querySelector("input").focus();
}

// follow shows an import's progress until it ends, then opens the dataset.
async function follow(id, task) {
  const bar = h("progress", { max: 1, value: 0, "aria-label": "import progress" });
  const line = h("p", { "aria-live": "polite" }, "Importing…");
  mount(h("div", { class: "card" }, h("h1", {}, "Importing the folder"), bar, line));
  while (task) {
    const t = await call("GET", `/v2/{project_id}/datasets/${id}/import-tasks/${task}`);
    bar.max = Math.max(1, t.total_sample_count || t.total_file_count || 1);
    bar.value = t.imported_sample_count || 0;
    line.textContent = `${t.status}: ${t.imported_sample_count || 0} of ${t.total_sample_count || "?"} samples`;
    if (["COMPLETED", "FAILED", "CANCELED", "CANCELLED"].includes(t.status)) {
      if (t.status !== "COMPLETED") { line.textContent += ` — ${t.error_msg || "the import did not finish"}`; return; }
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  location.hash = `#/datasets/${id}`;
}
