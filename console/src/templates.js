// Templates: the list with each one's approval state (brought up to date from the
// provider when read), one created (a WhatsApp template registered at once with its
// account's provider, with a sample value per parameter for the provider's review),
// previewed exactly as a recipient reads it (SMS: encoding and segments), deleted.
// Changes need `settings:write`.

import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api, problemsOf } from "./api.js";
import { t } from "./i18n.js";
import { AskFirst, Field, Refusal, errorFor } from "./form.js";

const html = htm.bind(h);

/// How many parameters a body has: its highest `{{n}}`.
const paramsIn = (body) => Math.max(0, ...[...body.matchAll(/\{\{(\d+)\}\}/g)].map((m) => Number(m[1])));

export function Templates({ me }) {
  const [status, setStatus] = useState("");
  const [channel, setChannel] = useState("");
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  const [creating, setCreating] = useState(false);
  const [open, setOpen] = useState(null);
  const load = async () => {
    const q = new URLSearchParams({ limit: "100" });
    if (status) q.set("status", status);
    if (channel) q.set("channel", channel);
    const r = await api(`/templates?${q}`);
    if (r.status !== 200) return setError(r.body?.message ?? String(r.status));
    setItems(r.body.items);
  };
  useEffect(() => {
    load();
  }, [status, channel]);
  const can = me.scopes.includes("settings:write");
  const why = can ? undefined : t("scope.missing", { scope: "settings:write" });
  /// Reads one again: the API brings its approval state up to date from the provider.
  const refresh = async (x) => {
    const r = await api(`/templates/${encodeURIComponent(x.id)}`);
    if (r.status === 200) setItems((list) => list.map((y) => (y.id === x.id ? r.body : y)));
  };
  const remove = async (x) => {
    const r = await api(`/templates/${encodeURIComponent(x.id)}`, { method: "DELETE" });
    if (r.status >= 300) return setError(r.body?.message ?? String(r.status));
    setError(null);
    load();
  };
  return html`
    <section aria-labelledby="templates-title">
      <div class="title-row">
        <h1 id="templates-title">${t("templates.title")}</h1>
        <button type="button" class="primary" disabled=${!can} title=${why}
          onClick=${() => setCreating(true)}>${t("templates.new")}</button>
      </div>
      <div class="filters">
        <label>${t("col.status")}
          <select value=${status} onChange=${(e) => setStatus(e.target.value)}>
            <option value="">${t("campaigns.filter.all")}</option>
            ${["pending", "approved", "rejected", "paused"].map((s) => html`<option value=${s}>${t(`tstatus.${s}`)}</option>`)}
          </select>
        </label>
        <label>${t("col.channel")}
          <select value=${channel} onChange=${(e) => setChannel(e.target.value)}>
            <option value="">${t("campaigns.filter.all")}</option>
            <option value="whatsapp">WhatsApp</option>
            <option value="sms">SMS</option>
          </select>
        </label>
      </div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${creating && html`<${NewTemplate} onDone=${() => { setCreating(false); load(); }}
        onCancel=${() => setCreating(false)} />`}
      ${items !== null && items.length === 0 && html`<p class="empty">${t("templates.empty")}</p>`}
      ${items && items.length > 0 && html`
        <ul class="cards">
          ${items.map((x) => html`
            <li key=${x.id} data-name=${x.name}>
              <div class="title-row">
                <h2>${x.name} <span class="muted">· ${x.channel === "sms" ? "SMS" : "WhatsApp"} · ${x.language}</span></h2>
                <span class=${`badge t-${x.status}`} data-testid="template-status">${t(`tstatus.${x.status}`)}</span>
              </div>
              ${x.rejected_reason && html`<p class="error">${t("templates.rejected", { reason: x.rejected_reason })}</p>`}
              <p class="template-body">${x.body}</p>
              <p class="muted">${[x.category, x.department].filter(Boolean).join(" · ")}</p>
              <div class="row">
                <button type="button" onClick=${() => setOpen(open === x.id ? null : x.id)}
                  aria-expanded=${open === x.id ? "true" : "false"}>${t("templates.preview")}</button>
                ${x.channel === "whatsapp" && html`<button type="button" onClick=${() => refresh(x)}>${t("templates.refresh")}</button>`}
                <${AskFirst} label=${t("templates.delete")} question=${t("templates.confirm_delete")}
                  disabled=${!can} title=${why} onYes=${() => remove(x)} />
              </div>
              ${open === x.id && html`<${Preview} template=${x} />`}
            </li>`)}
        </ul>`}
    </section>`;
}

/// The template filled with sample values, as the API renders it.
function Preview({ template }) {
  const [params, setParams] = useState(() =>
    Array.from({ length: template.params }, (_, i) => template.examples?.[i] ?? ""));
  const [shown, setShown] = useState(null);
  const [error, setError] = useState(null);
  const render = async (e) => {
    e?.preventDefault();
    const r = await api(`/templates/${encodeURIComponent(template.id)}/preview`, { method: "POST", body: { params } });
    if (r.status !== 200) return setError(problemsOf(r));
    setError(null);
    setShown(r.body);
  };
  useEffect(() => {
    render();
  }, []);
  return html`
    <form class="preview" onSubmit=${render}>
      ${params.map((v, i) => html`
        <${Field} id=${`p-${template.id}-${i}`} label=${`{{${i + 1}}}`} error=${errorFor(error?.fields, `params[${i}]`)}>
          <input value=${v} onInput=${(e) => setParams((ps) => ps.map((x, j) => (j === i ? e.target.value : x)))} />
        <//>`)}
      ${params.length > 0 && html`<button type="submit">${t("templates.render")}</button>`}
      ${error && !Object.keys(error.fields).length && html`<p class="error" role="alert">${error.message}</p>`}
      ${shown && html`
        <div class="bubble" data-testid="preview">
          ${shown.header?.type === "text" && html`<strong>${shown.header.text}</strong>`}
          ${shown.header?.type === "image" && html`<span class="muted">[${t("templates.image")}]</span>`}
          <span>${shown.text}</span>
        </div>
        ${shown.channel === "sms" && html`<p class="muted" data-testid="preview-sms">${t("templates.sms", {
          encoding: shown.encoding === "gsm7" ? "GSM-7" : "UCS-2", segments: shown.segments, characters: shown.characters })}</p>`}`}
    </form>`;
}

function NewTemplate({ onDone, onCancel }) {
  const [f, setF] = useState({ name: "", channel: "whatsapp", account_id: "", language: "es", category: "UTILITY",
    body: "", header: "", department: "" });
  const [examples, setExamples] = useState([]);
  const [accounts, setAccounts] = useState([]);
  const [refusal, setRefusal] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setF((x) => ({ ...x, [k]: e.target.value }));
  const n = paramsIn(f.body);
  useEffect(() => {
    api("/accounts?channel=whatsapp&enabled=true&limit=100").then((r) => {
      const items = r.status === 200 ? r.body.items : [];
      setAccounts(items);
      setF((x) => ({ ...x, account_id: x.account_id || (items[0]?.id ?? "") }));
    });
  }, []);
  const err = (name) => errorFor(refusal?.fields, name);
  const whatsapp = f.channel === "whatsapp";
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    const body = {
      name: f.name.trim(), channel: f.channel, body: f.body,
      department: f.department.trim() || null,
    };
    if (whatsapp) {
      Object.assign(body, {
        account_id: f.account_id || null, language: f.language.trim() || null, category: f.category,
        header: f.header.trim() ? { type: "text", text: f.header.trim() } : null,
        examples: n > 0 ? Array.from({ length: n }, (_, i) => (examples[i] ?? "").trim()) : null,
      });
    }
    const r = await api("/templates", { method: "POST", body });
    setBusy(false);
    if (r.status !== 201) return setRefusal(problemsOf(r));
    onDone(r.body);
  };
  return html`
    <form onSubmit=${submit} class="stack panel" aria-labelledby="new-template-title" novalidate>
      <h2 id="new-template-title">${t("templates.new")}</h2>
      <${Refusal} refusal=${refusal} />
      <${Field} id="t-name" label=${t("templates.name")} help=${t("templates.name_help")} error=${err("name")}>
        <input value=${f.name} onInput=${set("name")} required />
      <//>
      <${Field} id="t-channel" label=${t("col.channel")} error=${err("channel")}>
        <select value=${f.channel} onChange=${set("channel")}>
          <option value="whatsapp">WhatsApp</option>
          <option value="sms">SMS</option>
        </select>
      <//>
      ${whatsapp && html`
        <${Field} id="t-account" label=${t("new.account")} help=${t("templates.account_help")} error=${err("account_id")}>
          <select value=${f.account_id} onChange=${set("account_id")}>
            ${accounts.map((a) => html`<option value=${a.id}>${a.name ? `${a.name} · ${a.sender}` : a.sender} (${a.provider})</option>`)}
          </select>
        <//>
        <div class="grid">
          <${Field} id="t-language" label=${t("templates.language")} error=${err("language")}>
            <input value=${f.language} onInput=${set("language")} />
          <//>
          <${Field} id="t-category" label=${t("templates.category")} error=${err("category")}>
            <select value=${f.category} onChange=${set("category")}>
              ${["UTILITY", "MARKETING", "AUTHENTICATION"].map((c) => html`<option value=${c}>${c}</option>`)}
            </select>
          <//>
        </div>
        <${Field} id="t-header" label=${t("templates.header")} error=${err("header")}>
          <input value=${f.header} onInput=${set("header")} maxlength="60" />
        <//>`}
      <${Field} id="t-body" label=${t("templates.body")} help=${t("templates.body_help")} error=${err("body")}>
        <textarea rows="4" value=${f.body} onInput=${set("body")} required></textarea>
      <//>
      ${whatsapp && n > 0 && html`
        <fieldset>
          <legend>${t("templates.examples")}</legend>
          <p class="help">${t("templates.examples_help")}</p>
          ${Array.from({ length: n }, (_, i) => html`
            <${Field} id=${`t-example-${i}`} label=${t("templates.example", { n: i + 1 })} error=${err(`examples[${i}]`)}>
              <input value=${examples[i] ?? ""} onInput=${(e) => setExamples((xs) => {
                const next = [...xs];
                next[i] = e.target.value;
                return next;
              })} />
            <//>`)}
        </fieldset>`}
      <${Field} id="t-department" label=${t("new.department")} error=${err("department")}>
        <input value=${f.department} onInput=${set("department")} />
      <//>
      <div class="row">
        <button type="submit" class="primary" disabled=${busy}>${t("templates.create")}</button>
        <button type="button" onClick=${onCancel}>${t("form.cancel")}</button>
      </div>
    </form>`;
}
