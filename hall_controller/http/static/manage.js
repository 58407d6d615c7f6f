// Manager sign-in for the 好差评 pages: the token lives in sessionStorage (gone when the tab closes).
import { api } from "/static/common/hall-events.js";
import { fieldError } from "/static/common/validation.js";  // form checks in Chinese on every manager page

const KEY = "hall.manager.token";

export function token() { return sessionStorage.getItem(KEY); }

export function signOut() { sessionStorage.removeItem(KEY); location.reload(); }

// Shows the sign-in card until a manager signs in, then calls start(token). A 401 later signs out.
export function requireManager(start) {
  const card = document.getElementById("signin");
  const form = card.querySelector("form");
  const error = card.querySelector(".error");
  const begin = () => {
    card.classList.add("hidden");
    document.querySelectorAll("[data-signed-in]").forEach((el) => el.classList.remove("hidden"));
    start(token()).catch(onError);
  };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      const r = await api("/api/manager/sign-in", { method: "POST",
        body: { manager_id: form.manager_id.value.trim(), password: form.password.value } });
      sessionStorage.setItem(KEY, r.token);
      begin();
    } catch (err) { error.textContent = err.message; }
  });
  document.getElementById("signout")?.addEventListener("click", signOut);
  if (token()) begin(); else card.classList.remove("hidden");
}

export function onError(err) {
  if (err.status === 401) { sessionStorage.removeItem(KEY); location.reload(); return; }
  const box = document.getElementById("message");
  box.textContent = err.message;
}

// A form the controller refused: its answer beside the field it is about (the error's `field`, or `fields`:
// error code -> field name), else at the foot of the form — where the person is looking, not at the top of
// the page. Cleared at the form's next submit.
export function formError(form, err, fields = {}) {
  if (err.status === 401) return onError(err);
  const name = fields[err.code] || (err.field && err.field.split(".").pop());
  const field = name && form.elements[name];
  if (field && field.type !== "hidden") return fieldError(field, err.message);
  const note = el("p", { class: "field-error form-error", role: "alert", text: err.message });
  form.querySelector(":scope > .form-error")?.remove();
  form.append(note);
}
document.addEventListener("submit", (e) => e.target.querySelector(":scope > .form-error")?.remove(), true);

export const call = (path, opts = {}) => api(path, { ...opts, token: token() });

export function fmt(iso) {
  if (!iso) return "—";
  const d = iso.slice(0, 16).replace("T", " ");
  return d.slice(5);
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}
