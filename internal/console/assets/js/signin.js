import { h, mount } from "./dom.js";
import { signIn } from "./api.js";

export function signInView() {
  const err = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "card", "aria-label": "Sign in" },
    h("h1", {}, "Sign in to Atelier"),
    h("label", {}, "Account", h("input", { name: "domain", autocomplete: "organization", required: true })),
    h("label", {}, "User name", h("input", { name: "user", autocomplete: "username", required: true })),
    h("label", {}, "Password", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    h("button", { class: "primary", type: "submit" }, "Sign in"),
    err);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    err.textContent = "";
    try {
      await signIn(f.get("domain").trim(), f.get("user").trim(), f.get("password"));
      form.reset();
      location.hash = "#/datasets";
    } catch (e) {
      err.textContent = e.status === 401 ? "The account, user name or password is wrong." : e.message;
    }
  });
  mount(form);
  form.querySelector("input").focus();
}
