// The tickets inbox: open or closed tickets, filtered by campaign or department, and a
// ticket's conversation with its media links, where an agent replies (the 24-hour
// window shown), attends and closes. Actions are greyed out without `tickets:write`.

import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api, problemsOf } from "./api.js";
import { Field, Refusal, errorFor } from "./form.js";
import { t, date } from "./i18n.js";

const html = htm.bind(h);

export function Inbox() {
  const [status, setStatus] = useState("open");
  const [campaign, setCampaign] = useState("");
  const [phone, setPhone] = useState("");
  const [department, setDepartment] = useState("");
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  const load = async () => {
    const q = new URLSearchParams();
    if (status) q.set("status", status);
    if (campaign.trim()) q.set("campaign_id", campaign.trim());
    if (department.trim()) q.set("department", department.trim());
    const r = await api(`/tickets${q.size ? `?${q}` : ""}`);
    if (r.status !== 200) return setError(r.body?.message ?? String(r.status));
    setError(null);
    setItems(r.body.items);
  };
  useEffect(() => {
    load();
  }, [status, campaign, department]);
  const needle = phone.replace(/\s/g, "");
  const shown = (items ?? []).filter((k) => !needle || k.phone.includes(needle));
  return html`
    <section aria-labelledby="inbox-title">
      <h1 id="inbox-title">${t("inbox.title")}</h1>
      <div class="filters">
        <label>${t("inbox.status")}
          <select value=${status} onChange=${(e) => setStatus(e.target.value)}>
            <option value="open">${t("inbox.open")}</option>
            <option value="closed">${t("inbox.closed")}</option>
            <option value="">${t("campaigns.filter.all")}</option>
          </select>
        </label>
        <label>${t("inbox.campaign")}
          <input value=${campaign} onChange=${(e) => setCampaign(e.target.value)} placeholder="cmp_…" />
        </label>
        <label>${t("new.department")}
          <input value=${department} onChange=${(e) => setDepartment(e.target.value)} />
        </label>
        <label>${t("inbox.phone")}
          <input type="search" value=${phone} onInput=${(e) => setPhone(e.target.value)} />
        </label>
      </div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${items === null && !error && html`<p class="loading">${t("loading")}</p>`}
      ${items !== null && shown.length === 0 && html`<p class="empty">${t("inbox.empty")}</p>`}
      ${shown.length > 0 && html`
        <ul class="tickets">
          ${shown.map((k) => html`
            <li key=${k.id}>
              <a href=${`#/tickets/${encodeURIComponent(k.id)}`}>${k.phone}</a>
              <span class=${`badge ${k.status}`}>${t(`inbox.${k.status}`)}</span>
              <span class="muted">${k.replied_at ? t("inbox.replied_at", { at: date(k.replied_at) }) : t("inbox.no_reply")}</span>
            </li>`)}
        </ul>`}
    </section>`;
}

/// Whether WhatsApp's 24-hour customer-service window is still open for a reply.
function windowOpen(ticket) {
  const last = [...ticket.conversation].reverse().find((e) => e.direction === "in");
  if (!last) return { open: false };
  const until = new Date(new Date(last.at).getTime() + 24 * 3600 * 1000);
  return { open: until > new Date(), until };
}

export function Ticket({ me, id }) {
  const [k, setK] = useState(null);
  const [channel, setChannel] = useState(null);
  const [text, setText] = useState("");
  const [error, setError] = useState(null);
  const [note, setNote] = useState(null);
  const load = async () => {
    const r = await api(`/tickets/${encodeURIComponent(id)}`);
    if (r.status !== 200) return setError(r.body?.message ?? String(r.status));
    setK(r.body);
    if (!channel) {
      const a = await api(`/accounts/${encodeURIComponent(r.body.account_id)}`);
      setChannel(a.status === 200 ? a.body.channel : "whatsapp");
    }
  };
  useEffect(() => {
    load();
  }, [id]);
  const can = me.scopes.includes("tickets:write");
  const why = can ? undefined : t("scope.missing", { scope: "tickets:write" });
  const act = async (path, body) => {
    const r = await api(`/tickets/${encodeURIComponent(id)}/${path}`, { method: "POST", body });
    if (r.status >= 300) {
      setError(r.body?.message ?? String(r.status));
      return false;
    }
    setError(null);
    await load();
    return true;
  };
  const send = async (e) => {
    e.preventDefault();
    if (await act("reply", { text })) {
      setText("");
      setNote(t("inbox.sent"));
    }
  };
  if (!k) {
    return error
      ? html`<p class="error" role="alert">${error}</p>`
      : html`<p class="loading">${t("loading")}</p>`;
  }
  // Only WhatsApp has the 24-hour window: an SMS can always be answered.
  const w = channel === "sms" ? { open: true, sms: true } : windowOpen(k);
  const closed = k.status === "closed";
  return html`
    <section aria-labelledby="ticket-title">
      <p><a href="#/tickets">${t("inbox.back")}</a></p>
      <div class="title-row">
        <h1 id="ticket-title">${k.phone}</h1>
        <span class=${`badge ${k.status}`}>${t(`inbox.${k.status}`)}</span>
      </div>
      <p class="muted">${k.campaign_id ? t("inbox.from_campaign", { id: k.campaign_id }) : t("inbox.inbound")}
        ${k.attended_by ? ` · ${t("inbox.attended_by", { who: k.attended_by })}` : ""}</p>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <ol class="conversation" aria-label=${t("inbox.conversation")}>
        ${k.conversation.map((e) => html`
          <li class=${e.direction}>
            <span class="who">${e.direction === "in" ? t("inbox.customer") : (e.author ?? t("inbox.agent"))}</span>
            <span class="text">${e.text ?? e.button_payload ?? ""}</span>
            ${e.media && html`<a href=${e.media.url ?? "#"}>${t("inbox.media")}</a>`}
            <time datetime=${e.at}>${date(e.at)}</time>
          </li>`)}
      </ol>
      ${!closed && channel && html`
        <p class="muted" data-testid="window">${w.sms ? t("inbox.sms_any_time") : w.open
          ? t("inbox.window_open", { until: date(w.until.toISOString()) })
          : t("inbox.window_closed")}</p>
        ${!w.open && html`<${TemplateSend} me=${me} ticket=${k}
          onSent=${async () => { setNote(t("inbox.template_sent")); await load(); }} />`}
        <form onSubmit=${send} class="reply">
          <label for="reply-text">${t("inbox.reply")}</label>
          <textarea id="reply-text" rows="3" required value=${text}
            onInput=${(e) => setText(e.target.value)} disabled=${!can || !w.open}></textarea>
          <div class="row">
            <button type="submit" class="primary" disabled=${!can || !w.open} title=${why}>${t("inbox.send")}</button>
            ${!k.attended_at && html`<button type="button" disabled=${!can} title=${why}
              onClick=${() => act("attend", {})}>${t("inbox.attend")}</button>`}
            <button type="button" disabled=${!can} title=${why}
              onClick=${() => act("close", {})}>${t("inbox.close")}</button>
          </div>
          ${note && html`<p role="status">${note}</p>`}
        </form>`}
      ${closed && channel === "whatsapp" && k.close_reason !== "opted_out" && html`<${TemplateSend} me=${me} ticket=${k}
        onSent=${(r) => { location.hash = `#/tickets/${encodeURIComponent(r.ticket_id)}`; }} />`}
      ${k.reopened_from && html`<p class="muted">${t("inbox.reopened_from")}
        <a href=${`#/tickets/${encodeURIComponent(k.reopened_from)}`}>${k.reopened_from}</a></p>`}
    </section>`;
}

/// Once WhatsApp's window has closed only an approved template reaches the customer:
/// one of the ticket's account, its parameters filled in, sent on the ticket (and
/// recorded in its conversation); on a closed ticket it opens a new one, shown next.
function TemplateSend({ me, ticket, onSent }) {
  const [templates, setTemplates] = useState([]);
  const [chosen, setChosen] = useState("");
  const [params, setParams] = useState([]);
  const [refusal, setRefusal] = useState(null);
  const [busy, setBusy] = useState(false);
  const pick = (x) => {
    setChosen(x.id);
    setParams(Array.from({ length: x.params }, () => ""));
  };
  useEffect(() => {
    const q = new URLSearchParams({ channel: "whatsapp", status: "approved", account_id: ticket.account_id, limit: "100" });
    api(`/templates?${q}`).then((r) => {
      const items = r.status === 200 ? r.body.items : [];
      setTemplates(items);
      if (items[0]) pick(items[0]);
    });
  }, [ticket.account_id]);
  const can = me.scopes.includes("tickets:write");
  const send = async (e) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    const r = await api(`/tickets/${encodeURIComponent(ticket.id)}/template`, {
      method: "POST", body: { template_id: chosen, params },
    });
    setBusy(false);
    if (r.status !== 202) return setRefusal(problemsOf(r));
    setRefusal(null);
    onSent(r.body);
  };
  const template = templates.find((x) => x.id === chosen);
  if (templates.length === 0) return html`<p class="empty">${t("inbox.no_templates")}</p>`;
  return html`
    <form class="reply panel" onSubmit=${send} aria-labelledby="template-send-title">
      <h2 id="template-send-title">${t(ticket.status === "closed" ? "inbox.reopen_title" : "inbox.template_title")}</h2>
      <${Refusal} refusal=${refusal} />
      <${Field} id="ts-template" label=${t("new.template")}>
        <select value=${chosen} onChange=${(e) => pick(templates.find((x) => x.id === e.target.value))}>
          ${templates.map((x) => html`<option value=${x.id}>${x.name}</option>`)}
        </select>
      <//>
      ${template && html`<p class="template-body">${template.body}</p>`}
      ${params.map((v, i) => html`
        <${Field} id=${`ts-param-${i}`} label=${`{{${i + 1}}}`} error=${errorFor(refusal?.fields, `params[${i}]`)}>
          <input value=${v} required onInput=${(e) => setParams((ps) => ps.map((x, j) => (j === i ? e.target.value : x)))} />
        <//>`)}
      <div class="row">
        <button type="submit" class="primary" disabled=${!can || busy}
          title=${can ? undefined : t("scope.missing", { scope: "tickets:write" })}>${t("inbox.template_send")}</button>
      </div>
    </form>`;
}
