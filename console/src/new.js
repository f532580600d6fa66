// A new campaign: channel, provider account and template (each list read from the API
// for the chosen channel), department, how long replies are waited for, the hours it
// may send in, its metadata columns, the report email, and the consent box. Created in
// `awaiting_file`; its page then offers the sheet and the upload.

import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api, problemsOf } from "./api.js";
import { t } from "./i18n.js";
import { Field, Refusal, errorFor } from "./form.js";

const html = htm.bind(h);

export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const zone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "America/Santiago";

export function NewCampaign({ me }) {
  const [channel, setChannel] = useState("whatsapp");
  const [accounts, setAccounts] = useState(null);
  const [templates, setTemplates] = useState([]);
  const [form, setForm] = useState({
    name: "", account_id: "", template_id: "", department: "", wait: "24",
    windowOn: false, timezone: zone(), days: ["mon", "tue", "wed", "thu", "fri"],
    from: "09:00", to: "20:00", report_email: "", consent: false,
    duplicates: false, skip: false, segments: "",
  });
  const [metadata, setMetadata] = useState([]);
  const [refusal, setRefusal] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setForm((f) => ({ ...f, [k]: e.target.type === "checkbox" ? e.target.checked : e.target.value }));
  // Each list is read for the current choice; an answer for an older one is dropped.
  useEffect(() => {
    let stale = false;
    api(`/accounts?channel=${channel}&enabled=true&limit=100`).then((r) => {
      if (stale) return;
      const items = r.status === 200 ? r.body.items : [];
      setAccounts(items);
      setForm((f) => ({ ...f, account_id: items[0]?.id ?? "" }));
    });
    return () => { stale = true; };
  }, [channel]);
  // WhatsApp templates are registered with one account; SMS ones with none.
  const registeredWith = channel === "whatsapp" ? form.account_id : "";
  useEffect(() => {
    if (!registeredWith && channel === "whatsapp") return setTemplates([]);
    const q = registeredWith ? `&account_id=${encodeURIComponent(registeredWith)}` : "";
    let stale = false;
    api(`/templates?channel=${channel}${q}&limit=100`).then((r) => {
      if (stale) return;
      const items = r.status === 200 ? r.body.items : [];
      setTemplates(items);
      setForm((f) => ({
        ...f,
        template_id: items.some((x) => x.id === f.template_id)
          ? f.template_id
          : channel === "whatsapp" ? (items[0]?.id ?? "") : "",
      }));
    });
    return () => { stale = true; };
  }, [channel, registeredWith]);
  const template = templates.find((x) => x.id === form.template_id);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    const body = {
      name: form.name.trim(),
      channel,
      account_id: form.account_id,
      template_id: form.template_id || null,
      department: form.department.trim() || null,
      wait_for_reply_hours: form.wait === "" ? null : Number(form.wait),
      consent_confirmed: form.consent,
      report_email: form.report_email.trim() || null,
      allow_duplicates: form.duplicates,
      on_invalid_rows: form.skip ? "skip" : "reject",
      max_sms_segments: channel === "sms" && form.segments !== "" ? Number(form.segments) : null,
      metadata: metadata.filter((m) => m.name.trim()).map((m) => ({ name: m.name.trim(), type: m.type })),
      send_window: form.windowOn
        ? { timezone: form.timezone.trim(), days: form.days, from: form.from, to: form.to }
        : null,
    };
    const r = await api("/campaigns", { method: "POST", body });
    setBusy(false);
    if (r.status !== 201) return setRefusal(problemsOf(r));
    location.hash = `#/campaigns/${encodeURIComponent(r.body.id)}`;
  };
  const err = (name) => errorFor(refusal?.fields, name);
  const can = me.scopes.includes("campaigns:write");
  const toggleDay = (d) => setForm((f) => ({
    ...f, days: f.days.includes(d) ? f.days.filter((x) => x !== d) : DAYS.filter((x) => x === d || f.days.includes(x)),
  }));
  return html`
    <section aria-labelledby="new-title">
      <p><a href="#/campaigns">${t("detail.back")}</a></p>
      <h1 id="new-title">${t("new.title")}</h1>
      <${Refusal} refusal=${refusal} />
      <form onSubmit=${submit} class="stack" novalidate>
        <${Field} id="c-name" label=${t("new.name")} error=${err("name")}>
          <input required maxlength="200" value=${form.name} onInput=${set("name")} />
        <//>
        <fieldset>
          <legend>${t("col.channel")}</legend>
          ${["whatsapp", "sms"].map((c) => html`
            <label class="inline"><input type="radio" name="channel" value=${c} checked=${channel === c}
              onChange=${() => setChannel(c)} /> ${c === "sms" ? "SMS" : "WhatsApp"}</label>`)}
        </fieldset>
        <${Field} id="c-account" label=${t("new.account")} error=${err("account_id")}
          help=${accounts && accounts.length === 0 ? t("new.no_accounts") : undefined}>
          <select value=${form.account_id} onChange=${set("account_id")}>
            ${(accounts ?? []).map((a) => html`<option value=${a.id}>${a.name ? `${a.name} · ${a.sender}` : a.sender} (${a.provider})</option>`)}
          </select>
        <//>
        <${Field} id="c-template" label=${t("new.template")} error=${err("template_id")}
          help=${channel === "sms" ? t("new.sms_no_template") : templates.length === 0 ? t("new.no_templates") : undefined}>
          <select value=${form.template_id} onChange=${set("template_id")}>
            ${channel === "sms" && html`<option value="">${t("new.message_column")}</option>`}
            ${templates.map((x) => html`<option value=${x.id}>${x.name} · ${t(`tstatus.${x.status}`)}</option>`)}
          </select>
        <//>
        ${template && html`<p class="template-body" data-testid="template-body">${template.body}</p>`}
        <${Field} id="c-department" label=${t("new.department")} error=${err("department")}
          help=${t("new.department_help")}>
          <input value=${form.department} onInput=${set("department")} placeholder=${template?.department ?? ""} />
        <//>
        <${Field} id="c-wait" label=${t("new.wait")} error=${err("wait_for_reply_hours")} help=${t("new.wait_help")}>
          <input type="number" min="0" max="24" value=${form.wait} onInput=${set("wait")} />
        <//>
        <fieldset>
          <legend>${t("new.window")}</legend>
          <label class="inline"><input type="checkbox" checked=${form.windowOn} onChange=${set("windowOn")} /> ${t("new.window_on")}</label>
          ${form.windowOn && html`
            <div class="grid">
              <${Field} id="w-tz" label=${t("new.timezone")} error=${err("send_window.timezone")}>
                <input value=${form.timezone} onInput=${set("timezone")} />
              <//>
              <${Field} id="w-from" label=${t("new.from")} error=${err("send_window.from")}>
                <input type="time" value=${form.from} onInput=${set("from")} />
              <//>
              <${Field} id="w-to" label=${t("new.to")} error=${err("send_window.to")}>
                <input type="time" value=${form.to} onInput=${set("to")} />
              <//>
            </div>
            <div class="row" role="group" aria-label=${t("new.days")}>
              ${DAYS.map((d) => html`<label class="inline"><input type="checkbox" checked=${form.days.includes(d)}
                onChange=${() => toggleDay(d)} /> ${t(`day.${d}`)}</label>`)}
            </div>
            ${err("send_window.days") && html`<p class="error">${err("send_window.days")}</p>`}`}
        </fieldset>
        <fieldset>
          <legend>${t("new.metadata")}</legend>
          <p class="help">${t("new.metadata_help")}</p>
          ${metadata.map((m, i) => html`
            <div class="row" key=${i}>
              <${Field} id=${`m-name-${i}`} label=${t("new.field_name", { n: i + 1 })} error=${err(`metadata[${i}]`)}>
                <input value=${m.name} onInput=${(e) => setMetadata((ms) => ms.map((x, j) => (j === i ? { ...x, name: e.target.value } : x)))} />
              <//>
              <${Field} id=${`m-type-${i}`} label=${t("new.field_type")}>
                <select value=${m.type} onChange=${(e) => setMetadata((ms) => ms.map((x, j) => (j === i ? { ...x, type: e.target.value } : x)))}>
                  ${["text", "paragraph", "yes_no"].map((k) => html`<option value=${k}>${t(`mtype.${k}`)}</option>`)}
                </select>
              <//>
              <button type="button" onClick=${() => setMetadata((ms) => ms.filter((_, j) => j !== i))}>${t("new.field_remove")}</button>
            </div>`)}
          <button type="button" onClick=${() => setMetadata((ms) => [...ms, { name: "", type: "text" }])}>${t("new.field_add")}</button>
        </fieldset>
        <fieldset>
          <legend>${t("new.options")}</legend>
          <label class="inline"><input type="checkbox" checked=${form.skip} onChange=${set("skip")} /> ${t("new.skip")}</label>
          <label class="inline"><input type="checkbox" checked=${form.duplicates} onChange=${set("duplicates")} /> ${t("new.duplicates")}</label>
          ${channel === "sms" && html`
            <${Field} id="c-segments" label=${t("new.segments")} help=${t("new.segments_help")} error=${err("max_sms_segments")}>
              <input type="number" min="1" max="10" value=${form.segments} onInput=${set("segments")} placeholder="3" />
            <//>`}
        </fieldset>
        <${Field} id="c-report" label=${t("new.report_email")} error=${err("report_email")} help=${t("new.report_help")}>
          <input type="email" value=${form.report_email} onInput=${set("report_email")} />
        <//>
        <div class=${`field${err("consent_confirmed") ? " has-error" : ""}`}>
          <label class="inline"><input id="c-consent" type="checkbox" checked=${form.consent} onChange=${set("consent")}
            aria-describedby=${err("consent_confirmed") ? "c-consent-error" : undefined} /> ${t("new.consent")}</label>
          ${err("consent_confirmed") && html`<p id="c-consent-error" class="error field-error">${err("consent_confirmed")}</p>`}
        </div>
        <div class="row">
          <button type="submit" class="primary" disabled=${busy || !can}
            title=${can ? undefined : t("scope.missing", { scope: "campaigns:write" })}>${t("new.create")}</button>
        </div>
      </form>
    </section>`;
}
