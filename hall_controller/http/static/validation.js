// Form checks in Chinese: the browser's own messages follow its UI language (English on most kiosks and
// counter PCs), so every page that has a form imports this once. `fieldError` puts a controller's answer
// beside the field it is about, where the person is looking, instead of at the top of the page.
const MESSAGES = [
  ["valueMissing", (e) => (e.type === "file" ? "请选择文件。" : e.tagName === "SELECT" ? "请选择一项。" : "请填写此项。")],
  ["typeMismatch", () => "格式不正确。"],
  ["patternMismatch", (e) => e.dataset.message || e.title || "格式不正确。"],
  ["tooLong", (e) => `不能超过 ${e.maxLength} 个字。`],
  ["tooShort", (e) => `至少 ${e.minLength} 个字。`],
  ["rangeUnderflow", (e) => `不能小于 ${e.min}。`],
  ["rangeOverflow", (e) => `不能大于 ${e.max}。`],
  ["stepMismatch", () => "数值不符合要求。"],
  ["badInput", () => "请输入有效的值。"],
];

document.addEventListener("invalid", (event) => {
  const field = event.target;
  field.setCustomValidity("");
  const found = MESSAGES.find(([flag]) => field.validity[flag]);
  if (found) field.setCustomValidity(found[1](field));
}, true);
document.addEventListener("input", (event) => {
  const field = event.target;
  if (field.setCustomValidity) field.setCustomValidity("");
  if (field.getAttribute && field.getAttribute("aria-invalid") === "true") clearFieldError(field);
}, true);

// Shows `message` under `field` (marked aria-invalid, focused); cleared when the field is edited.
export function fieldError(field, message) {
  clearFieldError(field);
  const note = document.createElement("p");
  note.className = "field-error";
  note.id = `${field.name || field.id}-error`;
  note.setAttribute("role", "alert");
  note.textContent = message;
  field.setAttribute("aria-invalid", "true");
  field.setAttribute("aria-describedby", note.id);
  (field.closest("label") || field).after(note);
  field.focus();
}

export function clearFieldError(field) {
  field.removeAttribute("aria-invalid");
  const id = field.getAttribute("aria-describedby");
  if (id) document.getElementById(id)?.remove();
  field.removeAttribute("aria-describedby");
}
