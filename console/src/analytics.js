// Analytics across campaigns: a period (the API's presets, or all time), an account
// and a department; the SPEC §6 KPIs summed, the messages by day the campaigns
// started, and each campaign's numbers in a table.

import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api } from "./api.js";
import { t, date } from "./i18n.js";
import { Chart } from "./chart.js";

const html = htm.bind(h);

const PERIODS = ["last_7_days", "last_30_days", "previous_month", ""];
const RATES = ["delivery_rate", "read_rate", "reply_rate", "bounce_rate", "attended_rate"];
const SUMS = ["sent", "delivered", "read", "replied"];

const rate = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)} %`);

export function Analytics() {
  const [period, setPeriod] = useState("last_30_days");
  const [account, setAccount] = useState("");
  const [department, setDepartment] = useState("");
  const [accounts, setAccounts] = useState([]);
  const [a, setA] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("/accounts?limit=100").then((r) => r.status === 200 && setAccounts(r.body.items));
  }, []);
  useEffect(() => {
    const q = new URLSearchParams();
    if (period) q.set("period", period);
    if (account) q.set("account_id", account);
    if (department.trim()) q.set("department", department.trim());
    setA(null);
    let stale = false;
    api(`/analytics${q.size ? `?${q}` : ""}`).then((r) => {
      if (stale) return;
      if (r.status !== 200) return setError(r.body?.message ?? String(r.status));
      setError(null);
      setA(r.body);
    });
    return () => { stale = true; };
  }, [period, account, department]);
  return html`
    <section aria-labelledby="analytics-title">
      <h1 id="analytics-title">${t("analytics.title")}</h1>
      <div class="filters">
        <label>${t("analytics.period")}
          <select value=${period} onChange=${(e) => setPeriod(e.target.value)}>
            ${PERIODS.map((p) => html`<option value=${p}>${t(`period.${p || "all"}`)}</option>`)}
          </select>
        </label>
        <label>${t("new.account")}
          <select value=${account} onChange=${(e) => setAccount(e.target.value)}>
            <option value="">${t("campaigns.filter.all")}</option>
            ${accounts.map((x) => html`<option value=${x.id}>${x.name ? `${x.name} · ${x.sender}` : x.sender}</option>`)}
          </select>
        </label>
        <label>${t("new.department")}
          <input value=${department} onChange=${(e) => setDepartment(e.target.value)} />
        </label>
      </div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${!a && !error && html`<p class="loading">${t("loading")}</p>`}
      ${a && html`<${Report} a=${a} />`}
    </section>`;
}

function Report({ a }) {
  if (a.campaigns === 0) return html`<p class="empty">${t("analytics.empty")}</p>`;
  // Messages by the day each campaign started sending.
  const days = new Map();
  for (const c of a.items) {
    const day = (c.first_send_at ?? "").slice(0, 10);
    if (!day) continue;
    const d = days.get(day) ?? Object.fromEntries(SUMS.map((k) => [k, 0]));
    for (const k of SUMS) d[k] += c[k] ?? 0;
    days.set(day, d);
  }
  // Every day of the period (or from the first campaign's to today), none left out.
  const known = [...days.keys()].sort();
  const first = (a.from ?? `${known[0] ?? new Date().toISOString().slice(0, 10)}T00:00:00Z`).slice(0, 10);
  const last = a.to ? new Date(new Date(a.to).getTime() - 1).toISOString().slice(0, 10)
    : new Date().toISOString().slice(0, 10);
  const order = [];
  for (let d = new Date(`${first}T00:00:00Z`); d.toISOString().slice(0, 10) <= last && order.length < 400;
    d = new Date(d.getTime() + 86400000)) {
    order.push(d.toISOString().slice(0, 10));
  }
  for (const d of order) if (!days.has(d)) days.set(d, Object.fromEntries(SUMS.map((k) => [k, 0])));
  const series = SUMS.map((k) => ({
    label: t(k === "sent" ? "count.sent" : `kpi.${k}`),
    points: order.map((d) => [new Date(`${d}T12:00:00Z`), days.get(d)[k]]),
    total: a[k],
  }));
  return html`
    <p class="muted" data-testid="analytics-summary">${t("analytics.summary", {
      campaigns: a.campaigns, messages: a.messages.toLocaleString() })}${a.capped ? ` ${t("analytics.capped")}` : ""}</p>
    <dl class="counts">
      ${SUMS.concat(["bounced", "attended"]).map((k) => html`
        <div><dt>${t(k === "sent" ? "count.sent" : `kpi.${k}`)}</dt><dd data-total=${k}>${(a[k] ?? 0).toLocaleString()}</dd></div>`)}
    </dl>
    <dl class="counts kpis">
      ${RATES.map((k) => html`<div><dt>${t(`kpi.${k}`)}</dt><dd data-rate=${k}>${rate(a.rates?.[k])}</dd></div>`)}
    </dl>
    ${known.length > 0 && html`<${Chart} title=${t("analytics.by_day")} series=${series} testid="analytics-chart" />`}
    <div class="table-wrap">
      <table>
        <caption class="sr-only">${t("analytics.per_campaign")}</caption>
        <thead><tr>
          <th scope="col">${t("col.name")}</th>
          <th scope="col">${t("analytics.started")}</th>
          <th scope="col" class="num">${t("count.sent")}</th>
          ${["delivery_rate", "read_rate", "reply_rate"].map((k) => html`<th scope="col" class="num">${t(`kpi.${k}`)}</th>`)}
        </tr></thead>
        <tbody>
          ${a.items.map((c) => html`
            <tr key=${c.campaign_id}>
              <td><a href=${`#/campaigns/${encodeURIComponent(c.campaign_id)}`}>${c.name}</a></td>
              <td>${c.first_send_at ? date(c.first_send_at) : "—"}</td>
              <td class="num">${c.sent}</td>
              ${["delivery_rate", "read_rate", "reply_rate"].map((k) => html`<td class="num">${rate(c.rates?.[k])}</td>`)}
            </tr>`)}
        </tbody>
      </table>
    </div>
    ${a.inbound && html`<p class="muted">${t("analytics.inbound", { attended: a.inbound.attended })}</p>`}`;
}
