// Form pieces shared by the screens that create things: a labelled input whose API
// error sits next to it (named by `aria-describedby`, `aria-invalid` set), the error
// summary at the top of a form, and a destructive button that asks first.

import { cloneElement, h } from "preact";
import { useState } from "preact/hooks";
import htm from "htm";
import { t } from "./i18n.js";

const html = htm.bind(h);

/// The messages for a field and everything under it (`send_window` takes
/// `send_window.timezone`, `metadata` takes `metadata[2].name`).
export function errorFor(fields, name) {
  return Object.entries(fields ?? {})
    .filter(([f]) => f === name || f.startsWith(`${name}.`) || f.startsWith(`${name}[`))
    .map(([f, m]) => (f === name ? m : `${f}: ${m}`))
    .join(" · ");
}

/// A label, its control (the child, given `id`) and, under it, help and the error.
export function Field({ id, label, help, error, children }) {
  const described = [help && `${id}-help`, error && `${id}-error`].filter(Boolean).join(" ");
  const control = cloneElement(children, {
    id,
    "aria-invalid": error ? "true" : undefined,
    "aria-describedby": described || undefined,
  });
  return html`
    <div class=${`field${error ? " has-error" : ""}`}>
      <label for=${id}>${label}</label>
      ${control}
      ${help && html`<p id=${`${id}-help`} class="help">${help}</p>`}
      ${error && html`<p id=${`${id}-error`} class="error field-error">${error}</p>`}
    </div>`;
}

/// The API's refusal at the top of a form: its message, and each bad field.
export function Refusal({ refusal }) {
  if (!refusal) return null;
  const list = Object.entries(refusal.fields ?? {});
  return html`
    <div class="refusal" role="alert">
      <p class="error">${t("form.refused", { message: refusal.message })}</p>
      ${list.length > 0 && html`<ul>${list.map(([f, m]) => html`<li><code>${f}</code>: ${m}</li>`)}</ul>`}
    </div>`;
}

/// A button for something that cannot be undone: pressed, it asks `question` in place
/// with yes and no; `onYes` runs only after yes.
export function AskFirst({ label, question, onYes, disabled, title }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return html`<button type="button" disabled=${disabled} title=${title}
      onClick=${() => setAsking(true)}>${label}</button>`;
  }
  return html`
    <span role="alertdialog" aria-label=${question} class="inline-confirm">
      ${question}
      <button type="button" class="primary" onClick=${() => { setAsking(false); onYes(); }}>${t("detail.yes")}</button>
      <button type="button" onClick=${() => setAsking(false)}>${t("detail.no")}</button>
    </span>`;
}
