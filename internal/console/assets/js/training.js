// Training: the jobs of the project with their phase, and a job's page —
// its phase, events, each task's CPU and memory and each task's log,
// followed live while the job runs.
import { h, mount } from "./dom.js";
import { call, may, workspaceID } from "./api.js";
import { usageView, metricsStep } from "./usage.js";

const final = new Set(["Completed", "Failed", "Terminated", "Abnormal"]);

export async function trainingView() {
  let out, allowed;
  try {
    [out, allowed] = await Promise.all([call("POST", "/v2/{project_id}/training-job-searches", { limit: 50, offset: 0, workspace_id: workspaceID() }), may("modelarts:trainJob:create")]);
  } catch (e) {
    mount(h("h1", {}, "Training jobs"), h("p", { class: "error", role: "alert" }, e.message));
    return;
  }
  const create = allowed ? h("a", { class: "button", href: "#/training/new" }, "New job")
    : h("button", { type: "button", disabled: true, title: "Denied: modelarts:trainJob:create" }, "New job");
  const bar = h("div", { class: "toolbar" }, h("h1", {}, "Training jobs"), h("a", { href: "#/algorithms" }, "Algorithms"), create);
  const rows = (out.items || []).map((j) => h("tr", {},
    h("td", {}, h("a", { href: `#/training/${j.metadata.id}` }, j.metadata.name)),
    h("td", {}, j.status.phase),
    h("td", {}, j.metadata.create_time ? new Date(j.metadata.create_time).toLocaleString() : "")));
  mount(bar, rows.length
    ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Job"), h("th", {}, "Phase"), h("th", {}, "Created"))), h("tbody", {}, rows))
    : h("p", { class: "muted" }, "No training job yet."));
}

// summary says what the job runs: its algorithm, flavor, nodes and
// hyperparameters.
function summary(job) {
  const a = job.algorithm || {}, r = job.spec?.resource || {};
  const params = (a.parameters || []).map((p) => `${p.name}=${p.value}`).join(", ");
  const item = (k, v) => [h("dt", {}, k), h("dd", {}, v)];
  return h("dl", { class: "summary" },
    item("Algorithm", a.id ? h("span", {}, a.name || a.id) : a.boot_file || a.command || "—"),
    item("Flavor", r.flavor_name ? `${r.flavor_name} (${r.flavor_id})` : r.flavor_id || "—"),
    item("Nodes", String(r.node_count || 1)),
    item("Hyperparameters", params || "none"));
}

export async function jobView(id) {
  const base = `/v2/{project_id}/training-jobs/${id}`;
  const here = location.hash;
  const phase = h("strong", { "aria-live": "polite" });
  const events = h("ul", { class: "events" });
  const logs = new Map(); // task → <pre>
  const logBox = h("div", {});
  const usageBox = h("div", {});
  const usage = new Map(); // task → its usage figure's place
  let job;
  try { job = await call("GET", base); } catch (e) { mount(h("p", { class: "error", role: "alert" }, e.message)); return; }
  mount(h("div", { class: "toolbar" }, h("a", { href: "#/training" }, "← Training jobs"), h("h1", {}, job.metadata.name), phase),
    summary(job), h("h2", {}, "Events"), events, h("h2", {}, "CPU and memory"), usageBox, h("h2", {}, "Logs"), logBox);
  const refresh = async () => {
    job = await call("GET", base);
    phase.textContent = job.status.phase;
    const ev = await call("GET", `${base}/events?limit=20&order=asc`);
    events.replaceChildren(...(ev.events || []).map((e) => h("li", {}, `${e.time || ""} ${e.message || ""}`)));
    for (const task of job.status.tasks || []) {
      if (!logs.has(task)) {
        const pre = h("pre", { class: "log", tabindex: 0, "aria-label": `log of ${task}` });
        logs.set(task, pre);
        logBox.append(h("h3", {}, task), pre);
      }
      if (!usage.has(task)) {
        const place = h("div", {});
        usage.set(task, place);
        usageBox.append(h("h3", {}, task), place);
      }
      try {
        const step = metricsStep(job.status.duration || 0);
        const m = await call("GET", `${base}/metrics/${task}?step=${step}`);
        usage.get(task).replaceChildren(usageView(task, m.metrics, step, job));
      } catch (e) { usage.get(task).replaceChildren(h("p", { class: "error" }, e.message)); }
      try {
        const p = await call("GET", `${base}/tasks/${task}/logs/preview`);
        const pre = logs.get(task);
        const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        if (pre.textContent !== p.content) {
          pre.textContent = p.content || "";
          if (atEnd) pre.scrollTop = pre.scrollHeight; // follow the tail unless the reader scrolled up
        }
      } catch { /* a task that has not started has no log yet */ }
    }
  };
  // Follow the job while it runs and this page is open.
  for (;;) {
    try { await refresh(); } catch (e) { phase.textContent = e.message; }
    if (final.has(job.status.phase) || location.hash !== here) return;
    await new Promise((r) => setTimeout(r, 1000));
    if (location.hash !== here) return;
  }
}
