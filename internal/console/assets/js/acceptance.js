// A dataset's team labeling tasks from the owner's side: each task's
// progress, and its acceptance report — every round together, each
// member's figures and agreement — with the acceptance actions.
import { h, mount, toast } from "./dom.js";
import { call } from "./api.js";

const statusName = { 0: "starting", 1: "running", 2: "under acceptance", 3: "accepted", 4: "rejected", 5: "synchronizing", 6: "created" };
const pct = (v) => `${Math.round((v || 0) * 100)}%`;

export async function teamTasksView(id) {
  const base = `/v2/{project_id}/datasets/${id}`;
  let ds, out;
  try {
    [ds, out] = await Promise.all([call("GET", base), call("GET", `${base}/workforce-tasks`)]);
  } catch (e) { mount(h("p", { class: "error", role: "alert" }, e.message)); return; }
  const rows = (out.tasks || []).map((t) => {
    const st = t.sample_stats || {};
    return h("tr", {},
      h("td", {}, h("a", { href: `#/datasets/${id}/team-tasks/${t.task_id}` }, t.task_name)),
      h("td", {}, statusName[t.status] ?? String(t.status)),
      h("td", {}, `${st.accepted_sample_count || 0} accepted · ${st.uncheck_sample_count || 0} to accept · ${st.unreviewed_sample_count || 0} to review · ${st.unannotated_sample_count || 0} to label`));
  });
  mount(h("div", { class: "toolbar" }, h("a", { href: `#/datasets/${id}` }, `← ${ds.dataset_name}`), h("h1", {}, "Team labeling")),
    rows.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Task"), h("th", {}, "Status"), h("th", {}, "Progress"))), h("tbody", {}, rows))
      : h("p", { class: "muted" }, "No team labeling task on this dataset."));
}

export async function reportView(id, taskID) {
  const base = `/v2/{project_id}/datasets/${id}/workforce-tasks/${taskID}`;
  let task, rep;
  try {
    task = await call("GET", `${base}?sample_stats=true`);
    const round = task.checking_task_desc?.checking_task_id || "";
    rep = await call("GET", `${base}/acceptance/report${round ? `?checking_task_id=${round}` : ""}`);
  } catch (e) { mount(h("p", { class: "error", role: "alert" }, e.message)); return; }
  const act = async (what, body, path) => {
    try { await call(path === "status" ? "PUT" : "POST", `${base}/acceptance${path === "status" ? "/status" : ""}`, body); toast(what); }
    catch (e) { toast(`${what} failed: ${e.message}`); }
    reportView(id, taskID);
  };
  const round = rep.checking_stats;
  const total = rep.total_stats || {};
  const members = (rep.member_stats || []).map((m) => h("tr", {},
    h("td", {}, m.email), h("td", {}, String(m.sampled_sample_count)), h("td", {}, String(m.accepted_sample_count)),
    h("td", {}, String(m.rejected_sample_count)), h("td", {}, pct(m.pass_rate)), h("td", {}, m.score),
    h("td", {}, m.agreement === undefined ? "—" : `${pct(m.agreement)} of ${m.compared_count}`)));
  mount(h("div", { class: "toolbar" }, h("a", { href: `#/datasets/${id}/team-tasks` }, "← Team labeling"), h("h1", {}, task.task_name),
      h("span", {}, statusName[task.status] ?? String(task.status))),
    h("div", { class: "toolbar" },
      task.status === 1 ? h("button", { type: "button", class: "primary", onclick: () => act("Acceptance started", { sampling_rate: 0.5 }, "") }, "Accept by sampling 50%") : "",
      task.status === 2 ? [
        h("button", { type: "button", class: "primary", onclick: () => act("Passed", { action: 0 }, "status") }, "Pass all"),
        h("button", { type: "button", onclick: () => act("Passed the unrejected", { action: 4 }, "status") }, "Pass all but the rejected"),
        h("button", { type: "button", onclick: () => act("Rejected", { action: 1 }, "status") }, "Reject all"),
        h("button", { type: "button", onclick: () => act("Cancelled", { action: 2 }, "status") }, "Cancel the acceptance")] : ""),
    round ? h("p", {}, `This round: ${round.sampled_sample_count} sampled, ${round.checked_sample_count} checked, ${round.accepted_sample_count} accepted, ${round.rejected_sample_count} rejected (pass rate ${pct(round.pass_rate)}).`) : "",
    h("p", {}, `All rounds: ${total.sampled_sample_count || 0} sampled of ${total.total_sample_count || 0}, pass rate ${pct(total.pass_rate)}, score ${total.score || "—"}.`,
      rep.agreement === undefined ? "" : ` Agreement between labelers: ${pct(rep.agreement)}.`),
    members.length ? h("table", { "aria-label": "Members" }, h("thead", {}, h("tr", {}, ["Member", "Sampled", "Accepted", "Rejected", "Pass rate", "Score", "Agreement"].map((t) => h("th", {}, t)))),
      h("tbody", {}, members)) : h("p", { class: "muted" }, "No member figures yet."));
}
