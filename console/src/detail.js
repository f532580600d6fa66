// One campaign: its progress while it sends (polled every 2 s, no reload), its send
// controls (greyed out without the `send` scope; sending and cancelling asked twice)
// and its KPIs (SPEC §6), with the messages by status drawn as bars.

import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api } from "./api.js";
import { t, date } from "./i18n.js";
import { Upload, Validation } from "./upload.js";
import { Chart } from "./chart.js";

const html = htm.bind(h);

const LIVE = ["validating", "scheduled", "sending", "paused"];
/// The states a spreadsheet may be uploaded in (again).
const UPLOADABLE = ["awaiting_file", "invalid", "loaded"];
/// The states whose results can be downloaded (SPEC §7).
const ENDED = ["completed", "completed_with_errors", "cancelled", "error"];
const COUNTS = ["queued", "sent", "failed", "blocked", "skipped", "unknown"];

function percent(rate) {
  return rate === null || rate === undefined
    ? t("detail.no_rate")
    : t("detail.rate", { value: (rate * 100).toFixed(1) });
}

export function Detail({ me, id }) {
  const [c, setC] = useState(null);
  const [stats, setStats] = useState(null);
  const [error, setError] = useState(null);
  const [asking, setAsking] = useState(null);
  const [at, setAt] = useState("");
  // After an upload: the validation it replaces (`validated_at` then), followed until a
  // newer one ends in `loaded` or `invalid`.
  const [watching, setWatching] = useState(null);
  const refresh = async () => {
    const r = await api(`/campaigns/${encodeURIComponent(id)}`);
    if (r.status !== 200) return setError(r.body?.message ?? String(r.status));
    setC(r.body);
    setWatching((w) => (w && ["loaded", "invalid"].includes(r.body.status) &&
      r.body.validated_at && r.body.validated_at !== w.before ? null : w));
    const s = await api(`/campaigns/${encodeURIComponent(id)}/stats`);
    if (s.status === 200) setStats(s.body);
  };
  useEffect(() => {
    refresh();
  }, [id]);
  useEffect(() => {
    if (!c || (!LIVE.includes(c.status) && !watching)) return undefined;
    const timer = setInterval(refresh, watching ? 1000 : 2000);
    return () => clearInterval(timer);
  }, [c?.status, watching]);
  const act = async (action, body = {}) => {
    setAsking(null);
    const r = await api(`/campaigns/${encodeURIComponent(id)}/${action}`, { method: "POST", body });
    if (r.status !== 200) return setError(r.body?.message ?? String(r.status));
    setError(null);
    setC(r.body);
  };
  if (!c) {
    return error
      ? html`<p class="error" role="alert">${error}</p>`
      : html`<p class="loading">${t("loading")}</p>`;
  }
  const p = c.progress ?? {};
  const total = c.counts?.valid_rows ?? 0;
  const done = (p.sent ?? 0) + (p.failed ?? 0) + (p.blocked ?? 0) + (p.skipped ?? 0);
  const can = me.scopes.includes("send");
  const why = can ? undefined : t("scope.missing", { scope: "send" });
  const controls = [
    ["loaded", "send", "detail.send", "primary", true],
    ["scheduled", "send", "detail.send", "primary", true],
    ["scheduled", "unschedule", "detail.unschedule", "", false],
    ["sending", "pause", "detail.pause", "", false],
    ["paused", "resume", "detail.resume", "primary", false],
  ].filter(([status]) => c.status === status);
  /// A new campaign with these settings, awaiting its file: shown next.
  const cloneIt = async () => {
    const r = await api(`/campaigns/${encodeURIComponent(id)}/clone`, { method: "POST", body: {} });
    if (r.status !== 201) return setError(r.body?.message ?? String(r.status));
    location.hash = `#/campaigns/${encodeURIComponent(r.body.id)}`;
  };
  const schedule = (e) => {
    e.preventDefault();
    const when = new Date(at);
    if (Number.isNaN(when.getTime())) return setError(t("detail.bad_time"));
    act("send", { send_at: when.toISOString() });
  };
  const cancellable = ["loaded", "scheduled", "sending", "paused"].includes(c.status);
  return html`
    <section aria-labelledby="detail-title">
      <p><a href="#/campaigns">${t("detail.back")}</a></p>
      <div class="title-row">
        <h1 id="detail-title">${c.name}</h1>
        <span class=${`badge ${c.status}`} data-testid="status">${t(`status.${c.status}`)}</span>
      </div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <p class="muted">${c.channel === "sms" ? "SMS" : "WhatsApp"}${c.department ? ` · ${c.department}` : ""}
        ${c.created_by ? ` · ${t("detail.created_by", { who: c.created_by })}` : ""}
        ${c.status === "scheduled" && c.send_at ? html` · <strong data-testid="send-at">${t("detail.scheduled_for", { at: date(c.send_at) })}</strong>` : ""}</p>
      <div class="row controls">
        ${controls.map(([, action, label, kind, confirm]) => html`
          <button type="button" class=${kind} disabled=${!can} title=${why}
            onClick=${() => (confirm ? setAsking(action) : act(action))}>${t(label)}</button>`)}
        ${cancellable && html`<button type="button" disabled=${!can} title=${why}
            onClick=${() => setAsking("cancel")}>${t("detail.cancel")}</button>`}
        <button type="button" disabled=${!me.scopes.includes("campaigns:write")}
          title=${me.scopes.includes("campaigns:write") ? t("detail.clone_help") : t("scope.missing", { scope: "campaigns:write" })}
          onClick=${cloneIt}>${t("detail.clone")}</button>
      </div>
      ${["loaded", "scheduled"].includes(c.status) && html`
        <form class="row schedule" onSubmit=${schedule}>
          <label>${t("detail.send_at")}
            <input type="datetime-local" value=${at} onInput=${(e) => setAt(e.target.value)} required disabled=${!can} />
          </label>
          <button type="submit" disabled=${!can} title=${why}>${t("detail.schedule")}</button>
        </form>`}
      ${asking && html`
        <div class="confirm" role="alertdialog" aria-labelledby="confirm-text">
          <p id="confirm-text">${asking === "cancel"
            ? t("detail.confirm_cancel") : t("detail.confirm_send", { total })}</p>
          <div class="row">
            <button type="button" class="primary"
              onClick=${() => act(asking, asking === "send" ? { send_at: null } : {})}>${t("detail.yes")}</button>
            <button type="button" onClick=${() => setAsking(null)}>${t("detail.no")}</button>
          </div>
        </div>`}
      ${(watching || c.status === "validating") && html`<p role="status" class="validating">${t("upload.validating")}</p>`}
      ${(UPLOADABLE.includes(c.status) || watching) && (c.status === "loaded" && !watching
        ? html`<details><summary>${t("upload.replace")}</summary>
            <${Upload} me=${me} c=${c} onSent=${() => setWatching({ before: c.validated_at })} /></details>`
        : html`<${Upload} me=${me} c=${c} onSent=${() => setWatching({ before: c.validated_at })} />`)}
      ${!watching && html`<${Validation} c=${c} />`}
      ${!UPLOADABLE.includes(c.status) && c.status !== "validating" && html`
      <h2>${t("detail.progress")}</h2>
      <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax=${total}
        aria-valuenow=${done} aria-label=${t("detail.progress")}>
        <div style=${`width:${total ? (100 * done) / total : 0}%`}></div>
      </div>
      <p data-testid="progress-text">${t("detail.of", { done, total })}${stats?.messages_per_second
        ? ` · ${t("detail.per_second", { rate: stats.messages_per_second.toFixed(1) })}` : ""}</p>
      <dl class="counts">
        ${COUNTS.map((k) => html`<div><dt>${t(`count.${k}`)}</dt><dd data-count=${k}>${p[k] ?? 0}</dd></div>`)}
      </dl>`}
      ${stats && c.sending_started_at && html`<${Kpis} stats=${stats} />`}
      ${c.sending_started_at && html`<${Timeline} id=${id} />`}
      ${ENDED.includes(c.status) && html`<${Results} id=${id} />`}
    </section>`;
}

/// The results file (CSV or XLSX): asked for, built by the results function (202 while
/// it builds, polled each second), then a link to it.
function Results({ id }) {
  const [state, setState] = useState(null);
  const prepare = async (format) => {
    setState({ format, status: "building" });
    for (let i = 0; i < 120; i += 1) {
      const r = await api(`/campaigns/${encodeURIComponent(id)}/results?format=${format}`);
      if (r.status === 200) {
        return setState({ format, status: "ready", url: r.body.url, rows: r.body.rows });
      }
      if (r.status !== 202) {
        return setState({ format, status: "error", message: r.body?.message ?? String(r.status) });
      }
      await new Promise((done) => setTimeout(done, 1000));
    }
    return setState({ format, status: "error", message: t("detail.results_building") });
  };
  return html`
    <h2>${t("detail.results")}</h2>
    <div class="row">
      ${["csv", "xlsx"].map((f) => html`<button type="button" onClick=${() => prepare(f)}
        disabled=${state?.status === "building"}>${t("detail.results_as", { format: f.toUpperCase() })}</button>`)}
    </div>
    ${state?.status === "building" && html`<p role="status">${t("detail.results_building")}</p>`}
    ${state?.status === "error" && html`<p class="error" role="alert">${state.message}</p>`}
    ${state?.status === "ready" && html`
      <p role="status">${t("detail.results_ready", { rows: state.rows })}
        ${" "}<a href=${state.url} data-testid="results-link">${t("detail.results_link", { format: state.format.toUpperCase() })}</a></p>`}`;
}

function Kpis({ stats }) {
  const bars = ["sent", "delivered", "read", "replied", "bounced"];
  const most = Math.max(1, ...bars.map((k) => stats[k] ?? 0));
  const r = stats.rates ?? {};
  return html`
    <h2>${t("detail.kpis")}</h2>
    <dl class="counts kpis">
      ${["delivery_rate", "read_rate", "reply_rate", "bounce_rate"].map((k) =>
        html`<div><dt>${t(`kpi.${k}`)}</dt><dd data-kpi=${k}>${percent(r[k])}</dd></div>`)}
    </dl>
    <figure class="bars" aria-labelledby="bars-title">
      <figcaption id="bars-title">${t("detail.by_status")}</figcaption>
      ${bars.map((k) => html`
        <div class="bar">
          <span class="bar-label">${t(k === "sent" ? "count.sent" : `kpi.${k}`)}</span>
          <span class="bar-track"><span class="bar-fill" style=${`width:${(100 * (stats[k] ?? 0)) / most}%`}></span></span>
          <span class="bar-value" data-kpi-count=${k}>${stats[k] ?? 0}</span>
        </div>`)}
    </figure>`;
}

/// Messages read per page, and the most read for a timeline.
const PAGE = 500;
const MOST = 10_000;
const STEPS = ["sent_at", "delivered_at", "read_at", "replied_at"];

/// The campaign over time: how many messages were sent, delivered, read and replied
/// by each moment, read from the messages themselves (the first 10,000; said so).
function Timeline({ id }) {
  const [data, setData] = useState(null);
  const load = async () => {
    setData({ loading: true });
    const times = Object.fromEntries(STEPS.map((k) => [k, []]));
    let cursor = null;
    let read = 0;
    do {
      const q = new URLSearchParams({ limit: String(PAGE) });
      if (cursor) q.set("cursor", cursor);
      const r = await api(`/campaigns/${encodeURIComponent(id)}/messages?${q}`);
      if (r.status !== 200) return setData({ error: r.body?.message ?? String(r.status) });
      for (const m of r.body.items) {
        for (const k of STEPS) if (m[k]) times[k].push(new Date(m[k]).getTime());
      }
      read += r.body.items.length;
      cursor = r.body.next_cursor;
    } while (cursor && read < MOST);
    setData({ times, read, capped: Boolean(cursor) });
  };
  if (!data) {
    return html`<h2>${t("timeline.title")}</h2>
      <button type="button" onClick=${load}>${t("timeline.show")}</button>`;
  }
  if (data.loading) return html`<h2>${t("timeline.title")}</h2><p class="loading">${t("loading")}</p>`;
  if (data.error) return html`<h2>${t("timeline.title")}</h2><p class="error" role="alert">${data.error}</p>`;
  const every = STEPS.flatMap((k) => data.times[k]);
  if (every.length === 0) return html`<h2>${t("timeline.title")}</h2><p class="empty">${t("chart.empty")}</p>`;
  const start = Math.min(...every);
  const end = Math.max(...every, start + 1000);
  const buckets = 40;
  const series = STEPS.map((k) => {
    const sorted = [...data.times[k]].sort((a, b) => a - b);
    let n = 0;
    const points = [];
    for (let b = 0; b <= buckets; b += 1) {
      const until = start + ((end - start) * b) / buckets;
      while (n < sorted.length && sorted[n] <= until) n += 1;
      points.push([new Date(until), n]);
    }
    return { label: t(`timeline.${k}`), points, total: sorted.length };
  });
  return html`
    <h2>${t("timeline.title")}</h2>
    ${data.capped && html`<p class="muted">${t("timeline.capped", { read: data.read.toLocaleString() })}</p>`}
    <${Chart} title=${t("timeline.caption")} series=${series} testid="timeline" />`;
}
