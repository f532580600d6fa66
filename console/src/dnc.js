// The do-not-contact list: its entries, one added by hand, one removed, and a
// contact-centre dialer's export (`phone;campaign` lines) uploaded: refused lines are
// listed by line, and the valid ones applied on request. Greyed out without
// `campaigns:write`.

import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api, problemsOf } from "./api.js";
import { t, date } from "./i18n.js";

const html = htm.bind(h);

export function Dnc({ me }) {
  const [items, setItems] = useState(null);
  const [phone, setPhone] = useState("");
  const [errors, setErrors] = useState(null);
  const load = async () => {
    const r = await api("/dnc");
    if (r.status === 200) setItems(r.body.items);
  };
  useEffect(() => {
    load();
  }, []);
  const can = me.scopes.includes("campaigns:write");
  const why = can ? undefined : t("scope.missing", { scope: "campaigns:write" });
  const add = async (e) => {
    e.preventDefault();
    const r = await api("/dnc", { method: "POST", body: { phones: [phone.trim()] } });
    if (r.status >= 300) {
      const fields = r.body?.fields?.map((f) => f.message).join("; ");
      return setErrors(fields || r.body?.message || String(r.status));
    }
    setErrors(null);
    setPhone("");
    load();
  };
  const [file, setFile] = useState(null);
  const [imported, setImported] = useState(null);
  /// Sends the dialer's file as it is; with `skip`, only its valid lines.
  const upload = async (text, skip) => {
    const r = await api(`/dnc${skip ? "?on_invalid_rows=skip" : ""}`, { method: "POST", raw: text, type: "text/csv" });
    if (r.status === 201) {
      setImported({ added: r.body.added, skipped: r.body.skipped ?? [] });
      setFile(null);
      return load();
    }
    setImported({ refusal: problemsOf(r) });
  };
  const pick = async (e) => {
    const f = e.target.files[0];
    if (!f) return;
    const text = await f.text();
    setFile({ name: f.name, text });
    upload(text, false);
  };
  /// Removes one entry: tenant-wide, or the one for its campaign.
  const remove = async (d) => {
    const only = d.campaign_id ? `?campaign_id=${encodeURIComponent(d.campaign_id)}` : "";
    await api(`/dnc/${encodeURIComponent(d.phone)}${only}`, { method: "DELETE" });
    load();
  };
  return html`
    <section aria-labelledby="dnc-title">
      <h1 id="dnc-title">${t("dnc.title")}</h1>
      <form onSubmit=${add} class="row">
        <label>${t("dnc.phone")}
          <input value=${phone} onInput=${(e) => setPhone(e.target.value)} required
            placeholder="+56912345678" aria-invalid=${errors ? "true" : "false"}
            aria-describedby=${errors ? "dnc-error" : undefined} disabled=${!can} />
        </label>
        <button type="submit" class="primary" disabled=${!can} title=${why}>${t("dnc.add")}</button>
      </form>
      ${errors && html`<p id="dnc-error" class="error" role="alert">${errors}</p>`}
      <div class="panel">
        <label for="dnc-file">${t("dnc.file")}</label>
        <p class="help" id="dnc-file-help">${t("dnc.file_help")}</p>
        <input id="dnc-file" type="file" accept=".csv,.txt,text/csv,text/plain" onChange=${pick}
          disabled=${!can} aria-describedby="dnc-file-help" />
        ${imported?.added !== undefined && html`<p role="status" class="good" data-testid="dnc-imported">
          ${t("dnc.imported", { added: imported.added })}${imported.skipped.length
            ? ` ${t("dnc.skipped", { skipped: imported.skipped.length })}` : ""}</p>`}
        ${imported?.refusal && html`
          <div class="refusal" role="alert" data-testid="dnc-refused">
            <p class="error">${t("dnc.refused", { message: imported.refusal.message })}</p>
            <ul>${Object.entries(imported.refusal.fields).map(([f, m]) => html`<li><strong>${f}</strong>: ${m}</li>`)}</ul>
            ${file && html`<button type="button" class="primary" onClick=${() => upload(file.text, true)}>
              ${t("dnc.apply_valid")}</button>`}
          </div>`}
      </div>
      ${items !== null && items.length === 0 && html`<p class="empty">${t("dnc.empty")}</p>`}
      ${items && items.length > 0 && html`
        <div class="table-wrap">
          <table>
            <thead><tr>
              <th scope="col">${t("dnc.phone")}</th>
              <th scope="col">${t("dnc.scope")}</th>
              <th scope="col">${t("col.created")}</th>
              <th scope="col"><span class="sr-only">${t("dnc.remove")}</span></th>
            </tr></thead>
            <tbody>
              ${items.map((d) => html`
                <tr key=${`${d.phone}#${d.campaign_id ?? ""}`}>
                  <td>${d.phone}</td>
                  <td>${d.campaign_id ?? t("dnc.everywhere")}</td>
                  <td>${date(d.created_at)}</td>
                  <td><button type="button" disabled=${!can} title=${why}
                    onClick=${() => remove(d)}>${t("dnc.remove")}</button></td>
                </tr>`)}
            </tbody>
          </table>
        </div>`}
    </section>`;
}
