// Provider accounts: the list (enabled or not), one created with the provider's own
// credentials (stored in Secrets Manager; the API never shows them again) and the
// webhook URL to paste into the provider's console, enabled/disabled, deleted. Changes
// need `settings:write`.

import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api, problemsOf } from "./api.js";
import { t, date } from "./i18n.js";
import { AskFirst, Field, Refusal, errorFor } from "./form.js";

const html = htm.bind(h);

/// Each provider's credentials (SPEC §9) and the channels it sends.
const PROVIDERS = {
  meta: { channels: ["whatsapp"], credentials: ["access_token", "app_secret", "verify_token", "phone_number_id", "waba_id"] },
  twilio: { channels: ["sms", "whatsapp"], credentials: ["account_sid", "auth_token"] },
  gupshup: { channels: ["whatsapp"], credentials: ["api_key", "app_name", "app_id", "partner_token"] },
  sms_gateway: { channels: ["sms"], credentials: ["url", "user", "password"] },
};
/// Credentials that are identifiers, shown as typed; the rest are secrets.
const PLAIN = ["phone_number_id", "waba_id", "account_sid", "app_name", "app_id", "url", "user"];

export function Accounts({ me }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  const [creating, setCreating] = useState(false);
  const [made, setMade] = useState(null);
  const load = async () => {
    const r = await api("/accounts?limit=100");
    if (r.status !== 200) return setError(r.body?.message ?? String(r.status));
    setItems(r.body.items);
  };
  useEffect(() => {
    load();
  }, []);
  const can = me.scopes.includes("settings:write");
  const why = can ? undefined : t("scope.missing", { scope: "settings:write" });
  const change = async (a, method, body) => {
    const r = await api(`/accounts/${encodeURIComponent(a.id)}`, { method, body });
    if (r.status >= 300) return setError(r.body?.message ?? String(r.status));
    setError(null);
    load();
  };
  return html`
    <section aria-labelledby="accounts-title">
      <div class="title-row">
        <h1 id="accounts-title">${t("accounts.title")}</h1>
        <button type="button" class="primary" disabled=${!can} title=${why}
          onClick=${() => { setCreating(true); setMade(null); }}>${t("accounts.new")}</button>
      </div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${made && html`
        <div class="notice" role="status" data-testid="account-made">
          <p>${t("accounts.made", { sender: made.sender })}</p>
          ${made.webhook_url
            ? html`<p>${t("accounts.webhook")}</p><p><code class="copy">${made.webhook_url}</code></p>`
            : html`<p class="muted">${t("accounts.no_webhook")}</p>`}
        </div>`}
      ${creating && html`<${NewAccount} onDone=${(a) => { setCreating(false); setMade(a); load(); }}
        onCancel=${() => setCreating(false)} />`}
      ${items !== null && items.length === 0 && !creating && html`<p class="empty">${t("accounts.empty")}</p>`}
      ${items && items.length > 0 && html`
        <div class="table-wrap">
          <table>
            <thead><tr>
              <th scope="col">${t("accounts.sender")}</th>
              <th scope="col">${t("accounts.provider")}</th>
              <th scope="col">${t("col.channel")}</th>
              <th scope="col" class="num">${t("accounts.rate")}</th>
              <th scope="col">${t("col.status")}</th>
              <th scope="col"><span class="sr-only">${t("accounts.actions")}</span></th>
            </tr></thead>
            <tbody>
              ${items.map((a) => html`
                <tr key=${a.id} data-id=${a.id}>
                  <td>${a.name ? html`<strong>${a.name}</strong><br />` : ""}${a.sender}</td>
                  <td>${t(`provider.${a.provider}`)}</td>
                  <td>${a.channel === "sms" ? "SMS" : "WhatsApp"}</td>
                  <td class="num">${a.rate}/s</td>
                  <td><span class=${`badge ${a.enabled === false ? "error" : "loaded"}`}>
                    ${a.enabled === false ? t("accounts.disabled", { at: date(a.disabled_at) }) : t("accounts.enabled")}</span></td>
                  <td><div class="actions">
                    <button type="button" disabled=${!can} title=${why}
                      onClick=${() => change(a, "PATCH", { enabled: a.enabled === false })}>
                      ${a.enabled === false ? t("accounts.enable") : t("accounts.disable")}</button>
                    <${AskFirst} label=${t("accounts.delete")} question=${t("accounts.confirm_delete")}
                      disabled=${!can} title=${why} onYes=${() => change(a, "DELETE")} />
                  </div></td>
                </tr>`)}
            </tbody>
          </table>
        </div>`}
    </section>`;
}

function NewAccount({ onDone, onCancel }) {
  const [provider, setProvider] = useState("meta");
  const [f, setF] = useState({ channel: "whatsapp", sender: "", name: "", default_country: "CL", rate: "20", ports: "" });
  const [creds, setCreds] = useState({});
  const [refusal, setRefusal] = useState(null);
  const [busy, setBusy] = useState(false);
  const p = PROVIDERS[provider];
  const set = (k) => (e) => setF((x) => ({ ...x, [k]: e.target.value }));
  const pick = (e) => {
    const next = e.target.value;
    setProvider(next);
    setCreds({});
    setF((x) => ({ ...x, channel: PROVIDERS[next].channels[0] }));
  };
  const err = (name) => errorFor(refusal?.fields, name);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    const body = {
      provider, channel: f.channel, sender: f.sender.trim(),
      default_country: f.default_country.trim() || null,
      rate: f.rate === "" ? null : Number(f.rate),
      credentials: Object.fromEntries(p.credentials.map((k) => [k, (creds[k] ?? "").trim()]).filter(([, v]) => v)),
    };
    if (provider === "sms_gateway" && f.ports.trim()) body.ports = f.ports.trim();
    const r = await api("/accounts", { method: "POST", body });
    if (r.status !== 201) {
      setBusy(false);
      return setRefusal(problemsOf(r));
    }
    let account = r.body;
    if (f.name.trim()) {
      const named = await api(`/accounts/${encodeURIComponent(account.id)}`, { method: "PATCH", body: { name: f.name.trim() } });
      if (named.status === 200) account = { ...named.body, webhook_url: account.webhook_url };
    }
    setBusy(false);
    onDone(account);
  };
  return html`
    <form onSubmit=${submit} class="stack panel" aria-labelledby="new-account-title" novalidate>
      <h2 id="new-account-title">${t("accounts.new")}</h2>
      <${Refusal} refusal=${refusal} />
      <${Field} id="a-provider" label=${t("accounts.provider")} error=${err("provider")}>
        <select value=${provider} onChange=${pick}>
          ${Object.keys(PROVIDERS).map((k) => html`<option value=${k}>${t(`provider.${k}`)}</option>`)}
        </select>
      <//>
      ${p.channels.length > 1 && html`
        <${Field} id="a-channel" label=${t("col.channel")} error=${err("channel")}>
          <select value=${f.channel} onChange=${set("channel")}>
            ${p.channels.map((c) => html`<option value=${c}>${c === "sms" ? "SMS" : "WhatsApp"}</option>`)}
          </select>
        <//>`}
      <${Field} id="a-sender" label=${t("accounts.sender")} help=${t("accounts.sender_help")} error=${err("sender")}>
        <input value=${f.sender} onInput=${set("sender")} required />
      <//>
      <${Field} id="a-name" label=${t("accounts.name")}>
        <input value=${f.name} onInput=${set("name")} maxlength="100" />
      <//>
      <div class="grid">
        <${Field} id="a-country" label=${t("accounts.country")} error=${err("default_country")}>
          <input value=${f.default_country} onInput=${set("default_country")} maxlength="2" />
        <//>
        <${Field} id="a-rate" label=${t("accounts.rate")} error=${err("rate")}>
          <input type="number" min="1" max="1000" value=${f.rate} onInput=${set("rate")} />
        <//>
        ${provider === "sms_gateway" && html`
          <${Field} id="a-ports" label=${t("accounts.ports")} error=${err("ports")}>
            <input value=${f.ports} onInput=${set("ports")} placeholder="0-3" />
          <//>`}
      </div>
      <fieldset>
        <legend>${t("accounts.credentials")}</legend>
        <p class="help">${t("accounts.credentials_help")}</p>
        ${p.credentials.map((k) => html`
          <${Field} id=${`cred-${k}`} label=${k} error=${err(`credentials.${k}`)}>
            <input type=${PLAIN.includes(k) ? "text" : "password"} autocomplete="off" value=${creds[k] ?? ""}
              onInput=${(e) => setCreds((c) => ({ ...c, [k]: e.target.value }))} />
          <//>`)}
      </fieldset>
      <div class="row">
        <button type="submit" class="primary" disabled=${busy}>${t("accounts.create")}</button>
        <button type="button" onClick=${onCancel}>${t("form.cancel")}</button>
      </div>
    </form>`;
}
