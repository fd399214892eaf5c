// Moving data in and out of a dataset: a dataset's import tasks (a folder
// or a manifest file in object storage, added to the dataset) and its
// export tasks (samples and their labels written to a folder), each page
// with a form that starts one and the list of past ones, whose progress
// is followed live while any of them runs and the page is open.
import { h, mount, obsPath } from "./dom.js";
import { call, may } from "./api.js";

const running = new Set(["INIT", "QUEUING", "STARTING", "RUNNING"]);

function bar(done, total) {
  const pct = total ? Math.min(100, Math.round((done / total) * 100)) : 0;
  return h("progress", { max: 100, value: pct, "aria-label": `${pct}%` });
}

// page lays out a transfer page and keeps its task list fresh: list()
// answers the rows and whether a task still runs; the list is fetched
// again every second while one runs and this page is shown.
async function page(id, title, form, list) {
  let ds;
  try { ds = await call("GET", `/v2/{project_id}/datasets/${id}`); } catch (e) { mount(h("p", { class: "error", role: "alert" }, e.message)); return; }
  const table = h("div", { "aria-live": "polite" });
  mount(h("div", { class: "toolbar" }, h("a", { href: `#/datasets/${id}` }, `← ${ds.dataset_name}`), h("h1", {}, title)),
    form(ds, () => follow()), h("h2", {}, "Tasks"), table);
  const here = location.hash;
  let timer = 0;
  const follow = async () => {
    clearTimeout(timer);
    if (location.hash !== here) return;
    let out;
    try { out = await list(); } catch (e) { table.replaceChildren(h("p", { class: "error", role: "alert" }, e.message)); return; }
    table.replaceChildren(out.rows.length ? h("table", {}, h("thead", {}, h("tr", {}, out.head.map((c) => h("th", {}, c)))), h("tbody", {}, out.rows))
      : h("p", { class: "muted" }, "None yet."));
    if (out.busy) timer = setTimeout(follow, 1000);
  };
  await follow();
}

function when(ms) { return ms ? new Date(ms).toLocaleString() : ""; }

export function importView(id) {
  const base = `/v2/{project_id}/datasets/${id}/import-tasks`;
  return page(id, "Import", (ds, started) => {
    const err = h("p", { class: "error", role: "alert" });
    const submit = h("button", { class: "primary", type: "submit" }, "Import");
    const form = h("form", { class: "card wide", "aria-label": "Start an import" },
      h("label", {}, "Folder or manifest file (obs://bucket/folder/ or obs://bucket/file.manifest)",
        h("input", { name: "path", required: true, placeholder: "obs://bucket/more-images/" })),
      h("label", { class: "inline" }, h("input", { type: "checkbox", name: "annotations", checked: true }), "Import the labels found with the samples"),
      submit, err);
    may("modelarts:dataset:createImportTask").then((ok) => { if (!ok) { submit.disabled = true; submit.title = "Denied: modelarts:dataset:createImportTask"; } });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const raw = String(new FormData(form).get("path")).trim();
      const manifest = /\.manifest$/i.test(raw);
      const path = manifest ? raw.replace(/^obs:\/\//, "/").replace(/^([^/])/, "/$1") : obsPath(raw);
      if (!path || (manifest && !/^\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+/.test(path))) { err.textContent = "Give an obs://bucket/folder/ or an obs://bucket/file.manifest path."; return; }
      err.textContent = "";
      submit.disabled = true;
      try {
        await call("POST", base, { import_path: path, import_type: manifest ? "manifest" : "dir", import_annotations: form.annotations.checked });
        form.reset();
        started();
      } catch (e) { err.textContent = e.message; } finally { submit.disabled = false; }
    });
    return form;
  }, async () => {
    const out = await call("GET", `${base}?limit=20&offset=0`);
    const tasks = out.import_tasks || [];
    return {
      head: ["Started", "From", "Status", "Progress", ""],
      busy: tasks.some((t) => running.has(t.status)),
      rows: tasks.map((t) => h("tr", {}, h("td", {}, when(t.create_time)), h("td", {}, t.import_path || t.data_source?.data_path || ""),
        h("td", {}, t.status), h("td", {}, bar(t.imported_sample_count || 0, t.total_sample_count || 0), ` ${t.imported_sample_count || 0} of ${t.total_sample_count ?? "?"}`),
        h("td", { class: "error" }, t.error_msg || ""))),
    };
  });
}

const exportTypes = [[0, "Labeled samples"], [1, "Unlabeled samples"], [2, "All samples"]];

export function exportView(id) {
  const base = `/v2/{project_id}/datasets/${id}/export-tasks`;
  return page(id, "Export", (ds, started) => {
    const err = h("p", { class: "error", role: "alert" });
    const submit = h("button", { class: "primary", type: "submit" }, "Export");
    const versions = h("select", { name: "version", "aria-label": "Version" }, h("option", { value: "" }, "The dataset as it is now"));
    call("GET", `/v2/{project_id}/datasets/${id}/versions?limit=100`).then((out) => {
      for (const v of out.versions || []) versions.append(h("option", { value: v.version_id }, `Version ${v.version_name}`));
    }).catch(() => {});
    const form = h("form", { class: "card wide", "aria-label": "Start an export" },
      h("label", {}, "Into the folder (obs://bucket/folder/)", h("input", { name: "path", required: true, placeholder: "obs://bucket/exports/" })),
      h("label", {}, "Samples", h("select", { name: "type" }, exportTypes.map(([v, t]) => h("option", { value: v }, t)))),
      h("label", {}, "From", versions),
      submit, err);
    may("modelarts:dataset:createExportTask").then((ok) => { if (!ok) { submit.disabled = true; submit.title = "Denied: modelarts:dataset:createExportTask"; } });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(form);
      const path = obsPath(String(f.get("path")));
      if (!path) { err.textContent = "Give an obs://bucket/folder/ path."; return; }
      err.textContent = "";
      submit.disabled = true;
      const body = { path, export_type: Number(f.get("type")) };
      if (f.get("version")) body.version_id = f.get("version");
      try {
        await call("POST", base, body);
        form.reset();
        started();
      } catch (e) { err.textContent = e.message; } finally { submit.disabled = false; }
    });
    return form;
  }, async () => {
    const out = await call("GET", `${base}?limit=20&offset=0`);
    const tasks = out.export_tasks || [];
    return {
      head: ["Started", "Into", "Status", "Progress", ""],
      busy: tasks.some((t) => running.has(t.status)),
      rows: tasks.map((t) => h("tr", {}, h("td", {}, when(t.create_time)), h("td", {}, t.path),
        h("td", {}, t.status), h("td", {}, bar(t.finished_sample_count || 0, t.total_sample_count || 0), ` ${t.finished_sample_count || 0} of ${t.total_sample_count ?? "?"}`),
        h("td", { class: "error" }, t.error_msg || ""))),
    };
  });
}
