// The console's entry: the router (URL fragments: #/signin, #/datasets,
// #/datasets/{id}, #/datasets/{id}/label/{offset}; a fragment's ?query
// carries a page's state, such as the grid's filter) and the page frame.
import { session, signOut, signIn, call, setWorkspace, workspaceID } from "./api.js";
import { navigate } from "./dom.js";
import { signInView } from "./signin.js";
import { datasetsView } from "./datasets.js";
import { createView } from "./create.js";
import { samplesView } from "./samples.js";
import { labelView, teamLabelView, leaveGuard, discardPending } from "./label.js";
import { tasksView, reviewView } from "./tasks.js";
import { detectView, detectDirty } from "./detect.js";
import { nerView, nerGuard, discardNer } from "./ner.js";
import { versionsView } from "./versions.js";
import { trainingView, jobView } from "./training.js";
import { teamTasksView, reportView } from "./acceptance.js";
import { sampleView } from "./sample.js";
import { importView, exportView } from "./transfer.js";
import { algorithmsView, newJobView } from "./algorithms.js";

const routes = [
  [/^#\/signin$/, () => signInView()],
  [/^#\/datasets$/, () => datasetsView()],
  [/^#\/datasets\/new$/, () => createView()],
  [/^#\/datasets\/([0-9a-f]+)$/, (m, q) => samplesView(m[1], q)],
  [/^#\/datasets\/([0-9a-f]+)\/samples\/([0-9a-zA-Z_-]+)$/, (m, q) => sampleView(m[1], m[2], q)],
  [/^#\/datasets\/([0-9a-f]+)\/import$/, (m) => importView(m[1])],
  [/^#\/datasets\/([0-9a-f]+)\/export$/, (m) => exportView(m[1])],
  [/^#\/datasets\/([0-9a-f]+)\/label\/(\d+)$/, (m, q) => labelView(m[1], Number(m[2]), q)],
  [/^#\/datasets\/([0-9a-f]+)\/detect\/(\d+)$/, (m, q) => detectView(m[1], Number(m[2]), q)],
  [/^#\/datasets\/([0-9a-f]+)\/ner\/(\d+)$/, (m, q) => nerView(m[1], Number(m[2]), q)],
  [/^#\/datasets\/([0-9a-f]+)\/versions$/, (m) => versionsView(m[1])],
  [/^#\/datasets\/([0-9a-f]+)\/team-tasks$/, (m) => teamTasksView(m[1])],
  [/^#\/datasets\/([0-9a-f]+)\/team-tasks\/([0-9a-f]+)$/, (m) => reportView(m[1], m[2])],
  [/^#\/training$/, () => trainingView()],
  [/^#\/training\/new(?:\/([0-9a-zA-Z-]+))?$/, (m) => newJobView(m[1])],
  [/^#\/algorithms$/, () => algorithmsView()],
  [/^#\/training\/([0-9a-zA-Z-]+)$/, (m) => jobView(m[1])],
  [/^#\/tasks$/, () => tasksView()],
  [/^#\/tasks\/([0-9a-f]+)\/([0-9a-f]+)\/label\/(\d+)$/, (m) => teamLabelView(m[1], m[2], Number(m[3]))],
  [/^#\/tasks\/([0-9a-f]+)\/([0-9a-f]+)\/review$/, (m) => reviewView(m[1], m[2])],
  [/^#\/tasks\/([0-9a-f]+)\/([0-9a-f]+)\/fix\/(\d+)$/, (m) => teamLabelView(m[1], m[2], Number(m[3]), true)],
];

function frame() {
  const s = session();
  const bar = document.getElementById("bar");
  bar.hidden = !s;
  if (!s) return;
  document.getElementById("who").textContent = s.user.name;
  const sel = document.getElementById("project");
  sel.replaceChildren(...s.projects.map((p) => { const o = document.createElement("option"); o.value = p.id; o.textContent = p.name; o.selected = p.id === s.project.id; return o; }));
  workspaces();
}

// workspaces fills the header's workspace list once per project; a user
// who may not list workspaces works in the one the session names.
let workspacesOf = "";
async function workspaces() {
  const s = session();
  const sel = document.getElementById("workspace");
  if (workspacesOf === s.project.id) return;
  workspacesOf = s.project.id;
  const option = (w) => { const o = document.createElement("option"); o.value = w.id; o.textContent = w.name; o.selected = w.id === workspaceID(); return o; };
  sel.replaceChildren(option(s.workspace || { id: "0", name: "default" }));
  try {
    const out = await call("GET", "/v1/{project_id}/workspaces?limit=1000");
    const list = out.workspaces || [];
    if (!list.some((w) => w.id === "0")) list.unshift({ id: "0", name: "default" });
    sel.replaceChildren(...list.map(option));
    sel.disabled = false;
    sel.title = "";
  } catch (e) {
    sel.disabled = true;
    sel.title = e.status === 403 ? "Denied: modelarts:workspace:list" : e.message;
  }
}
document.getElementById("workspace").addEventListener("change", (ev) => {
  const o = ev.target.selectedOptions[0];
  setWorkspace({ id: o.value, name: o.textContent });
  location.hash = "#/datasets";
  route();
});

// Switching project takes a token scoped to it, so the password is asked
// again (the console keeps none).
const dialog = document.getElementById("reauth");
document.getElementById("project").addEventListener("change", (ev) => {
  const s = session();
  const target = s.projects.find((p) => p.id === ev.target.value);
  ev.target.value = s.project.id; // until the switch succeeds
  document.getElementById("reauth-project").textContent = target.name;
  document.getElementById("reauth-error").textContent = "";
  dialog.dataset.project = target.id;
  dialog.showModal();
});
document.getElementById("reauth-cancel").addEventListener("click", () => dialog.close());
document.getElementById("reauth-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target, s = session();
  try {
    await signIn(s.domain, s.user.name, form.password.value, dialog.dataset.project);
    workspacesOf = "";
    form.reset();
    dialog.close();
    location.hash = "#/datasets";
    route();
  } catch (e) {
    document.getElementById("reauth-error").textContent = e.status === 401 ? "The password is wrong." : e.message;
  }
});

async function route() {
  navigate();
  const s = session();
  const hash = location.hash || "#/datasets";
  if (!s && hash !== "#/signin") { location.hash = "#/signin"; return; }
  frame();
  const cut = hash.indexOf("?");
  const path = cut < 0 ? hash : hash.slice(0, cut);
  const query = new URLSearchParams(cut < 0 ? "" : hash.slice(cut + 1));
  for (const [re, view] of routes) {
    const m = path.match(re);
    if (m) { await view(m, query); return; }
  }
  location.hash = "#/datasets";
}

// Leaving a page with unsaved labels asks first (the editor says whether
// it has any); the browser asks the same on closing the tab.
let current = location.hash;
window.addEventListener("hashchange", (ev) => {
  if (leaveGuard(location.hash) || detectDirty() || nerGuard(location.hash)) {
    if (!confirm("You have unsaved labels. Leave without saving?")) {
      history.replaceState(null, "", current);
      return;
    }
    discardPending();
    discardNer();
  }
  current = location.hash;
  route();
});
window.addEventListener("beforeunload", (ev) => { if (leaveGuard("") || nerGuard("")) { ev.preventDefault(); ev.returnValue = ""; } });
// A refused resource is a bug of the console: say so where it is seen.
document.addEventListener("securitypolicyviolation", (ev) => console.error(`content security policy refused ${ev.blockedURI || "inline"} (${ev.violatedDirective})`));
document.getElementById("signout").addEventListener("click", () => { signOut(); workspacesOf = ""; location.hash = "#/signin"; });
route();
