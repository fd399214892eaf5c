// Team labeling from a member's side: its tasks (GET /workforces/worker-tasks),
// a labeler's queue (the label editor on the task's samples) and a
// reviewer's queue: each sample waiting for review with the labeler's
// labels, passed (P) or rejected with a comment (R).
import { h, mount, toast } from "./dom.js";
import { call } from "./api.js";
import { stage } from "./label.js";

const roles = { 0: "labeler", 1: "reviewer", 2: "team administrator" };

export async function tasksView() {
  let out;
  try { out = await call("GET", "/v2/{project_id}/workforces/worker-tasks?limit=100"); } catch (e) {
    mount(h("h1", {}, "My tasks"), h("p", { class: "error", role: "alert" }, e.message));
    return;
  }
  const rows = (out.worker_tasks || []).map((t) => {
    const st = t.sample_stats || {};
    const todo = t.role === 0 ? `${(st.unannotated_sample_count || 0) + (st.rejected_sample_count || 0)} to label`
      : t.role === 1 ? `${st.unreviewed_sample_count || 0} to review` : `${st.uncheck_sample_count || 0} to accept`;
    const act = t.role === 0 ? h("span", {}, h("a", { href: `#/tasks/${t.dataset_id}/${t.task_id}/label/0` }, "Label"),
      st.rejected_sample_count ? [" · ", h("a", { href: `#/tasks/${t.dataset_id}/${t.task_id}/fix/0` }, `Fix ${st.rejected_sample_count} rejected`)] : "")
      : t.role === 1 ? h("a", { href: `#/tasks/${t.dataset_id}/${t.task_id}/review` }, "Review") : "";
    return h("tr", {}, h("td", {}, t.workforce_task_name), h("td", {}, roles[t.role] || t.role), h("td", {}, todo), h("td", {}, act));
  });
  mount(h("h1", {}, "My tasks"), rows.length
    ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Task"), h("th", {}, "Role"), h("th", {}, "Waiting"), h("th", {}, ""))), h("tbody", {}, rows))
    : h("p", { class: "muted" }, "No team labeling task for you yet."));
}

let onKeyNow = null;

export async function reviewView(datasetID, taskID) {
  if (onKeyNow) { document.removeEventListener("keydown", onKeyNow); onKeyNow = null; }
  const base = `/v2/{project_id}/datasets/${datasetID}/workforce-tasks/${taskID}`;
  let out;
  try { out = await call("GET", `${base}/data-annotations/samples?sample_state=__UNREVIEWED__&limit=1`); } catch (e) {
    mount(h("p", { class: "error", role: "alert" }, e.message));
    return;
  }
  const s = (out.samples || [])[0];
  if (!s) { mount(h("h1", {}, "Review"), h("p", {}, "Nothing waits for review."), h("a", { href: "#/tasks" }, "← My tasks")); return; }
  const comment = h("input", { name: "comment", "aria-label": "Comment for the labeler", maxlength: 256 });
  const verdict = async (accept) => {
    try {
      await call("POST", `${base}/data-annotations/review`, { comments: [{ sample_id: s.sample_id, worker_id: s.worker_id, accept,
        comment: comment.value.trim(), score: accept ? "A" : "" }] });
      toast(accept ? "Passed" : "Rejected");
      reviewView(datasetID, taskID);
    } catch (e) { toast(`Not recorded: ${e.message}`); }
  };
  mount(h("div", { class: "toolbar" }, h("a", { href: "#/tasks" }, "← My tasks"), h("span", {}, `${out.sample_count} waiting for review`),
      h("span", { class: "muted" }, s.sample_name)),
    h("div", { class: "editor" },
      h("div", { class: "stage" }, stage(s)),
      h("div", { class: "labels" },
        h("p", {}, "Labeled: ", h("strong", {}, (s.labels || []).map((l) => l.name).join(", ") || "—")),
        h("label", {}, "Comment", comment),
        h("div", { class: "toolbar" },
          h("button", { type: "button", class: "primary", onclick: () => verdict(true) }, "Pass ", h("kbd", {}, "P")),
          h("button", { type: "button", onclick: () => verdict(false) }, "Reject ", h("kbd", {}, "R"))))));
  const here = location.hash;
  onKeyNow = (ev) => {
    if (location.hash !== here || ev.target.closest("input, textarea, select") || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key.toLowerCase() === "p") { ev.preventDefault(); verdict(true); }
    // R opens the comment when the key is released, so that the letter
    // itself is not typed into it.
    if (ev.key.toLowerCase() === "r") { ev.preventDefault(); rejecting = true; }
  };
  let rejecting = false;
  const onKeyUp = (ev) => {
    if (!rejecting || ev.key.toLowerCase() !== "r") return;
    rejecting = false;
    comment.focus();
    toast("Say why, then press Enter to reject");
  };
  document.addEventListener("keyup", onKeyUp);
  window.addEventListener("hashchange", () => document.removeEventListener("keyup", onKeyUp), { once: true });
  comment.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); verdict(false); } });
  document.addEventListener("keydown", onKeyNow);
}
