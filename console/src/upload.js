// A campaign's spreadsheet: its empty sheet to download (XLSX or CSV, with the
// template's parameters and the metadata columns), the file dropped or chosen, sent
// straight to storage over the pre-signed PUT with a real progress bar, then the
// validation followed until the campaign is `loaded` or `invalid`; and what validation
// found: counts, the problems by row, column and code with the report CSV, and for SMS
// the encodings and segments.

import { h } from "preact";
import { useState } from "preact/hooks";
import htm from "htm";
import { api, download, put } from "./api.js";
import { t } from "./i18n.js";

const html = htm.bind(h);

/// The drop zone and file picker; `onSent()` once the file is stored.
export function Upload({ me, c, onSent }) {
  const [over, setOver] = useState(false);
  const [state, setState] = useState(null);
  const can = me.scopes.includes("campaigns:write");
  const why = can ? undefined : t("scope.missing", { scope: "campaigns:write" });
  const send = async (file) => {
    if (!file || !can) return;
    setState({ phase: "granting", name: file.name, sent: 0, total: file.size });
    const g = await api(`/campaigns/${encodeURIComponent(c.id)}/upload`, { method: "POST", body: { size: file.size } });
    if (g.status !== 200) {
      return setState({ phase: "error", name: file.name, message: g.body?.message ?? String(g.status) });
    }
    setState({ phase: "sending", name: file.name, sent: 0, total: file.size });
    const status = await put(g.body.upload_url, file, (sent, total) =>
      setState({ phase: "sending", name: file.name, sent, total }));
    if (status < 200 || status >= 300) {
      return setState({ phase: "error", name: file.name, message: t("upload.put_failed", { status }) });
    }
    setState({ phase: "sent", name: file.name, sent: file.size, total: file.size });
    onSent();
  };
  const pct = state?.total ? Math.round((100 * state.sent) / state.total) : 0;
  const sheet = (format) =>
    download(`/campaigns/${encodeURIComponent(c.id)}/sheet?format=${format}`, `${c.name}.${format}`);
  return html`
    <h2>${t("upload.title")}</h2>
    <p class="help">${t("upload.help")}</p>
    <div class="row">
      ${["xlsx", "csv"].map((f) => html`<button type="button" onClick=${() => sheet(f)}>
        ${t("upload.sheet", { format: f.toUpperCase() })}</button>`)}
    </div>
    <div class=${`drop${over ? " over" : ""}${can ? "" : " off"}`} title=${why}
      onDragOver=${(e) => { e.preventDefault(); setOver(true); }}
      onDragLeave=${() => setOver(false)}
      onDrop=${(e) => { e.preventDefault(); setOver(false); send(e.dataTransfer.files[0]); }}>
      <p>${t("upload.drop")}</p>
      <label for="sheet-file" class="button-like">${t("upload.choose")}</label>
      <input id="sheet-file" type="file" class="file-hidden" disabled=${!can}
        accept=".csv,.xlsx,.xls,.ods,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        onChange=${(e) => send(e.target.files[0])} />
    </div>
    ${state && state.phase !== "error" && html`
      <div class="upload-state">
        <p>${state.name}: ${t(`upload.${state.phase}`)}</p>
        <div class="progress" role="progressbar" aria-label=${t("upload.progress")}
          aria-valuemin="0" aria-valuemax="100" aria-valuenow=${pct} data-testid="upload-progress">
          <div style=${`width:${pct}%`}></div>
        </div>
        <p class="muted">${t("upload.bytes", { sent: state.sent.toLocaleString(), total: state.total.toLocaleString(), pct })}</p>
      </div>`}
    ${state?.phase === "error" && html`<p class="error" role="alert">${state.message}</p>`}`;
}

/// What validation found: counts, SMS encodings, and the problems table.
export function Validation({ c }) {
  const n = c.counts;
  if (!n || !c.validated_at) return null;
  const shown = c.problems ?? [];
  return html`
    <h2>${t("validation.title")}</h2>
    <dl class="counts">
      ${["rows", "valid_rows", "invalid_rows", "blank_rows", "unique_phones", "errors", "warnings"].map((k) =>
        html`<div><dt>${t(`vcount.${k}`)}</dt><dd data-vcount=${k}>${n[k] ?? 0}</dd></div>`)}
    </dl>
    ${c.sms && html`<${Sms} sms=${c.sms} />`}
    ${shown.length === 0 && html`<p class="good" role="status">${t("validation.clean")}</p>`}
    ${shown.length > 0 && html`
      <h3 id="problems-title">${t("validation.problems", { total: c.problems_total })}</h3>
      ${c.report_url && html`<p><a href=${c.report_url} data-testid="report-link">${t("validation.report")}</a>
        ${c.problems_total > shown.length ? ` · ${t("validation.first", { shown: shown.length })}` : ""}</p>`}
      <div class="table-wrap">
        <table aria-labelledby="problems-title" data-testid="problems">
          <thead><tr>
            <th scope="col" class="num">${t("problem.row")}</th>
            <th scope="col">${t("problem.column")}</th>
            <th scope="col">${t("problem.code")}</th>
            <th scope="col">${t("problem.message")}</th>
          </tr></thead>
          <tbody>
            ${shown.map((p) => html`
              <tr class=${`sev-${p.severity}`}>
                <td class="num">${p.row ?? t("problem.file")}</td>
                <td>${p.column ?? ""}</td>
                <td><code>${p.code}</code> <span class=${`badge ${p.severity === "error" ? "error" : "warning"}`}>${t(`severity.${p.severity}`)}</span></td>
                <td>${p.message}${hint(p.code) && html`<br /><span class="hint">${hint(p.code)}</span>`}</td>
              </tr>`)}
          </tbody>
        </table>
      </div>`}`;
}

/// How to fix a problem of this code, in the reader's language ("" when none is known).
function hint(code) {
  const text = t(`hint.${code}`);
  return text === `hint.${code}` ? "" : text;
}

function Sms({ sms }) {
  return html`
    <p data-testid="sms-summary">${t("validation.sms", {
      gsm7: sms.messages?.gsm7 ?? 0, ucs2: sms.messages?.ucs2 ?? 0,
      segments: sms.total_segments ?? 0, most: sms.max_segments_in_a_message ?? 0,
    })}
    ${sms.ucs2_chars?.length > 0 ? ` ${t("validation.ucs2_chars", { chars: sms.ucs2_chars.join(" ") })}` : ""}</p>`;
}
