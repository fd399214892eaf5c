// Algorithms, and creating a training job from one: the form is built from
// what the algorithm declares (its inputs and outputs, each needing an
// object-storage location, and its hyperparameters with their defaults
// and constraints), with a flavor from the flavors API. The server checks
// everything again; what it refuses is shown in the form.
import { h, mount } from "./dom.js";
import { call, may, workspaceID } from "./api.js";

const CREATE = "modelarts:trainJob:create";

// algorithms reads every algorithm of the project, newest first (the API
// answers at most 50 a page).
async function algorithms() {
  const items = [];
  for (;;) {
    const out = await call("GET", `/v2/{project_id}/algorithms?limit=50&offset=${items.length}&workspace_id=${encodeURIComponent(workspaceID())}`);
    const page = out.items || [];
    items.push(...page);
    if (!page.length || items.length >= (out.total || 0)) return items;
  }
}

const when = (ms) => (ms ? new Date(ms).toLocaleString() : "");

export async function algorithmsView() {
  let items, allowed;
  try { [items, allowed] = await Promise.all([algorithms(), may(CREATE)]); } catch (e) {
    mount(h("h1", {}, "Algorithms"), h("p", { class: "error", role: "alert" }, e.message));
    return;
  }
  const rows = items.map((a) => {
    const m = a.metadata, jc = a.job_config || {};
    const create = allowed
      ? h("a", { class: "button", href: `#/training/new/${m.id}`, "aria-label": `Create a job from ${m.name}` }, "Create job from this")
      : h("button", { type: "button", disabled: true, title: `Denied: ${CREATE}` }, "Create job from this");
    return h("tr", {},
      h("td", {}, m.name),
      h("td", {}, m.description || ""),
      h("td", {}, h("code", {}, jc.code_dir || "—")),
      h("td", {}, h("code", {}, jc.boot_file || jc.command || "—")),
      h("td", {}, when(m.create_time)),
      h("td", {}, create));
  });
  mount(h("div", { class: "toolbar" }, h("a", { href: "#/training" }, "← Training jobs"), h("h1", {}, "Algorithms")),
    rows.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ["Name", "Description", "Code directory", "Boot file", "Created", ""].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows))
      : h("p", { class: "muted" }, "No algorithm yet: create one through the API (POST /v2/{project_id}/algorithms) or an SDK."));
}

// jobName suggests a name: the algorithm's and the time, within the
// API's 64 characters of letters, digits, '_' and '-'.
function jobName(alg) {
  const d = new Date(), p = (n) => String(n).padStart(2, "0");
  const stamp = `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
  return `${alg.metadata.name.slice(0, 48)}-${stamp}`;
}

let fieldSeq = 0;
// pickFocus is set when the algorithm list rebuilt the form, so that a
// keyboard user stepping through the list stays on it.
let pickFocus = false;

// field is a labelled control with its hint, the hint tied to the control
// for screen readers.
function field(label, control, hint) {
  control.id ||= `f${++fieldSeq}`;
  const hintEl = hint ? h("small", { class: "muted", id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, hintEl);
}

// paramControl is the control of a hyperparameter, from its constraint:
// a list for an enumeration or a Boolean, a number input (with the range's
// bounds) for Integer and Float, text otherwise. A parameter the
// algorithm does not let jobs change is shown read-only.
function paramControl(p) {
  const c = p.constraint || {};
  const type = String(c.type || "String").toLowerCase(), valid = String(c.valid_type || "None").toLowerCase();
  const range = c.valid_range || [];
  const attrs = { name: `param:${p.name}`, "data-param": p.name, required: c.required === true };
  let el;
  if ((valid === "enum" && range.length) || type === "boolean") {
    const options = valid === "enum" && range.length ? range : ["true", "false"];
    el = h("select", attrs, options.map((o) => h("option", { value: o, selected: o === p.value }, o)));
    el.disabled = c.editable === false;
  } else {
    if (type === "integer" || type === "int" || type === "float") {
      Object.assign(attrs, { type: "number", step: type === "float" ? "any" : "1" });
      if (valid === "range" && range.length === 2) Object.assign(attrs, { min: range[0], max: range[1] });
    }
    el = h("input", { ...attrs, value: p.value ?? "", readonly: c.editable === false, maxlength: 8192 });
  }
  const hint = [p.description, `default ${p.value === "" ? "empty" : p.value}`,
    valid === "range" && range.length === 2 ? `from ${range[0]} to ${range[1]}` : "",
    c.editable === false ? "fixed by the algorithm" : ""].filter(Boolean).join(" · ");
  return field(`${p.name}${c.required ? " (required)" : ""}`, el, hint);
}

// flavorFits applies the algorithm's resource requirements the console
// can read (flavor_type in …) to a flavor of the flavors API.
function flavorFits(alg, f) {
  return (alg.resource_requirements || []).every((r) => r.key !== "flavor_type" || !(r.value || r.values || []).length || (r.value || r.values).includes(f.flavor_type));
}

// flavorText names a flavor; the server's names say its resources.
function flavorText(f) {
  return f.flavor_name && f.flavor_name !== f.flavor_id ? `${f.flavor_name} (${f.flavor_id})` : f.flavor_id;
}

export async function newJobView(algID) {
  let algs, flavors, allowed, alg = null;
  try {
    [algs, flavors, allowed] = await Promise.all([algorithms(), call("GET", "/v2/{project_id}/training-job-flavors"), may(CREATE)]);
    if (algID) alg = algs.find((a) => a.metadata.id === algID) || await call("GET", `/v2/{project_id}/algorithms/${algID}`);
  } catch (e) {
    mount(h("h1", {}, "New training job"), h("p", { class: "error", role: "alert" }, e.message));
    return;
  }
  const pick = h("select", { name: "algorithm" },
    h("option", { value: "" }, "Choose an algorithm…"),
    algs.map((a) => h("option", { value: a.metadata.id, selected: a.metadata.id === algID }, a.metadata.name)));
  // Choosing another algorithm rebuilds the form from it.
  pick.addEventListener("change", () => {
    pickFocus = true;
    location.hash = pick.value ? `#/training/new/${pick.value}` : "#/training/new";
  });
  const refocus = pickFocus;
  pickFocus = false;
  const head = [h("div", { class: "toolbar" }, h("a", { href: "#/training" }, "← Training jobs"), h("h1", {}, "New training job"), h("a", { href: "#/algorithms" }, "Algorithms")),
    field("Algorithm", pick, algs.length ? "The job runs the algorithm's code with its inputs, outputs and hyperparameters." : "There is no algorithm yet: create one through the API first.")];
  if (!alg) {
    mount(h("form", { class: "card wide", "aria-label": "New training job" }, ...head));
    pick.focus();
    return;
  }

  const jc = alg.job_config || {};
  const err = h("p", { class: "error", role: "alert", id: "job-error" });
  const name = h("input", { name: "name", required: true, maxlength: 64, pattern: "[A-Za-z0-9_\\-]{1,64}", value: jobName(alg), autocomplete: "off" });
  const description = h("textarea", { name: "description", maxlength: 256, rows: 2 });
  const channel = (kind, ch) => field(ch.name, h("input", { name: `${kind}:${ch.name}`, "data-channel": ch.name, "aria-required": "true", placeholder: kind === "in" ? "obs://bucket/data/" : "obs://bucket/output/", autocomplete: "off" }),
    [ch.description, kind === "in" ? "where the job reads it: an obs:// folder or file" : "where the job's files are uploaded: an obs:// folder"].filter(Boolean).join(" · "));
  const inputs = (jc.inputs || []).map((ch) => channel("in", ch));
  const outputs = (jc.outputs || []).map((ch) => channel("out", ch));
  const params = (jc.parameters || []).map(paramControl);
  const offered = (flavors.flavors || []).filter((f) => flavorFits(alg, f));
  const flavor = h("select", { name: "flavor", required: true }, offered.map((f) => h("option", { value: f.flavor_id }, flavorText(f))));
  const nodes = h("input", { name: "nodes", type: "number", min: 1, step: 1, value: 1, required: true });
  const fitNodes = () => {
    const f = offered.find((x) => x.flavor_id === flavor.value);
    nodes.max = String(f?.max_num || 1);
  };
  flavor.addEventListener("change", fitNodes);
  fitNodes();
  const submit = h("button", { class: "primary", type: "submit" }, "Create job");
  if (!allowed) { submit.disabled = true; submit.title = `Denied: ${CREATE}`; }
  if (!offered.length) { submit.disabled = true; submit.title = "No flavor of this server fits the algorithm's resource requirements."; }
  const fieldset = (legend, items, none) => h("fieldset", {}, h("legend", {}, legend), items.length ? items : h("p", { class: "muted" }, none));
  const form = h("form", { class: "card wide", "aria-label": "New training job" }, ...head,
    field("Job name", name, "1 to 64 letters, digits, '_' and '-'"),
    field("Description", description),
    fieldset("Inputs", inputs, "The algorithm declares no input."),
    fieldset("Outputs", outputs, "The algorithm declares no output."),
    fieldset("Hyperparameters", params, "The algorithm declares no hyperparameter."),
    field("Flavor", flavor, "The resources each node is promised."),
    field("Nodes", nodes, "Tasks worker-0 … worker-(n−1), one per node."),
    h("div", { class: "toolbar" }, submit), err);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    err.textContent = "";
    const located = (kind) => [...form.querySelectorAll(`[data-channel][name^="${kind}:"]`)]
      .filter((el) => el.value.trim())
      .map((el) => ({ name: el.dataset.channel, remote: { obs: { obs_url: el.value.trim() } } }));
    // Parameters the algorithm fixes keep its value: only the others are sent.
    const parameters = [...form.querySelectorAll("[data-param]")].filter((el) => !el.disabled && !el.readOnly)
      .map((el) => ({ name: el.dataset.param, value: el.value }));
    const body = {
      kind: "job",
      metadata: { name: name.value.trim(), description: description.value, workspace_id: workspaceID() },
      algorithm: { id: alg.metadata.id, parameters, inputs: located("in"), outputs: located("out") },
      spec: { resource: { flavor_id: flavor.value, node_count: Number(nodes.value) } },
    };
    submit.disabled = true;
    try {
      const job = await call("POST", "/v2/{project_id}/training-jobs", body);
      location.hash = `#/training/${job.metadata.id}`;
    } catch (e) {
      err.textContent = e.code ? `${e.message} (${e.code})` : e.message;
      submit.disabled = false;
      // The server names the channel or parameter it refuses: mark that
      // control and take the user there.
      const named = [...form.querySelectorAll("[data-channel], [data-param]")]
        .find((el) => e.message.includes(`"${el.dataset.channel || el.dataset.param}"`));
      const target = named || (/metadata\.name/.test(e.message) ? name : null);
      if (target) {
        target.setAttribute("aria-invalid", "true");
        target.setAttribute("aria-errormessage", err.id);
        target.focus();
      }
    }
  });
  mount(form);
  (refocus ? pick : name).focus();
}
