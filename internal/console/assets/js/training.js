// Training: the jobs of the project with their phase, and a job's page —
// its phase, events and each task's log, followed live while the job runs.
import { h, mount } from "./dom.js";
import { call, workspaceID } from "./api.js";

const final = new Set(["Completed", "Failed", "Terminated", "Abnormal"]);

export async function trainingView() {
  let out;
  try { out = await call("POST", "/v2/{project_id}/training-job-searches", { limit: 50, offset: 0, workspace_id: workspaceID() }); } catch (e) {
    mount(h("h1", {}, "Training jobs"), h("p", { class: "error", role: "alert" }, e.message));
    return;
  }
  const rows = (out.items || []).map((j) => h("tr", {},
    h("td", {}, h("a", { href: `#/training/${j.metadata.id}` }, j.metadata.name)),
    h("td", {}, j.status.phase),
    h("td", {}, j.metadata.create_time ? new Date(j.metadata.create_time).toLocaleString() : "")));
  mount(h("h1", {}, "Training jobs"), rows.length
    ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Job"), h("th", {}, "Phase"), h("th", {}, "Created"))), h("tbody", {}, rows))
    : h("p", { class: "muted" }, "No training job yet."));
}

export async function jobView(id) {
  const base = `/v2/{project_id}/training-jobs/${id}`;
  const here = location.hash;
  const phase = h("strong", { "aria-live": "polite" });
  const events = h("ul", { class: "events" });
  const logs = new Map(); // task → <pre>
  const logBox = h("div", {});
  let job;
  try { job = await call("GET", base); } catch (e) { mount(h("p", { class: "error", role: "alert" }, e.message)); return; }
  mount(h("div", { class: "toolbar" }, h("a", { href: "#/training" }, "← Training jobs"), h("h1", {}, job.metadata.name), phase),
    h("h2", {}, "Events"), events, h("h2", {}, "Logs"), logBox);
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
