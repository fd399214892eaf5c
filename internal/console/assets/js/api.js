// The console's only way to the server: the public API, with the signed-in
// user's token. The token lives in this tab's sessionStorage (never a
// cookie), so closing the tab or signing out forgets it.

const KEY = "atelier.session";

export function session() {
  try { return JSON.parse(sessionStorage.getItem(KEY)) || null; } catch { return null; }
}

function save(s) { sessionStorage.setItem(KEY, JSON.stringify(s)); }

export function signOut() { sessionStorage.removeItem(KEY); }

// APIError carries the API's error envelope.
export class APIError extends Error {
  constructor(status, code, msg) { super(msg || `HTTP ${status}`); this.status = status; this.code = code; }
}

async function decode(resp) {
  const text = await resp.text();
  let body = null;
  if (text) { try { body = JSON.parse(text); } catch { body = null; } }
  if (!resp.ok) {
    const e = body && (body.error_code ? body : body.error) || {};
    throw new APIError(resp.status, e.error_code || e.code || "", e.error_msg || e.message || text);
  }
  return body;
}

// call sends one request; path may hold {project_id}.
export async function call(method, path, body) {
  const s = session();
  const headers = { "Content-Type": "application/json" };
  if (s) headers["X-Auth-Token"] = s.token;
  const url = s ? path.replace("{project_id}", s.project.id) : path;
  const resp = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (resp.status === 401 && s) { signOut(); location.hash = "#/signin"; }
  return decode(resp);
}

async function token(domain, user, password, project) {
  const auth = { identity: { methods: ["password"], password: { user: { name: user, password, domain: { name: domain } } } } };
  if (project) auth.scope = { project: { id: project } };
  const resp = await fetch("/v3/auth/tokens", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ auth }) });
  const body = await decode(resp);
  return { token: resp.headers.get("X-Subject-Token"), body: body.token };
}

// signIn signs a user in: an unscoped token lists the user's projects, then
// a token scoped to the chosen one (the first, or projectID) is kept. The
// password is used for these two requests and not kept.
export async function signIn(domain, user, password, projectID) {
  const first = await token(domain, user, password, null);
  const resp = await fetch("/v3/auth/projects", { headers: { "X-Auth-Token": first.token } });
  const projects = ((await decode(resp)).projects || []).map((p) => ({ id: p.id, name: p.name }));
  if (!projects.length) throw new APIError(403, "", "This user has no project to work in.");
  const project = projects.find((p) => p.id === projectID) || projects[0];
  const scoped = await token(domain, user, password, project.id);
  save({ token: scoped.token, domain, user: { name: user, id: scoped.body.user.id }, project, projects, workspace: { id: "0", name: "default" } });
  return session();
}

// workspaceID is the workspace the console works in: lists are filtered
// by it and what the user creates goes into it ("0", the project's
// default workspace, until the user picks another).
export function workspaceID() { return session()?.workspace?.id || "0"; }

// setWorkspace switches the console to another workspace of the project.
export function setWorkspace(ws) {
  const s = session();
  if (!s) return;
  s.workspace = { id: ws.id, name: ws.name };
  save(s);
}

// may asks the authorization-checks API whether the signed-in user may
// perform an action, so that a control it may not use is disabled with the
// action named.
export async function may(action) {
  const s = session();
  try {
    const out = await call("POST", "/v2/{project_id}/authorization-checks", { user_id: s.user.id, action, workspace_id: workspaceID() });
    return out.allowed === true;
  } catch {
    return true; // a user who may not ask answers with the API's own 403 on use
  }
}

// Fetching ahead: an editor asks for the sample it will likely show next
// while the user works on this one. One request is kept at a time, handed
// over once, and only while fresh (the labels may change meanwhile); a
// failed one hands over null, and the page asks again.
let ahead = null;

export function prefetch(key, fetcher) {
  const promise = fetcher().catch(() => null);
  ahead = { key, at: Date.now(), promise };
  return promise;
}

export function prefetched(key) {
  const a = ahead;
  ahead = null;
  return a && a.key === key && Date.now() - a.at < 30000 ? a.promise : Promise.resolve(null);
}
