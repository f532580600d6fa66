// The tenant's settings: opt-out words, when a replied conversation closes by itself,
// the report emails' sender, the country for national numbers, and how long records
// are kept. Saved with `settings:write`; each refused field named next to its input.

import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api, problemsOf } from "./api.js";
import { t } from "./i18n.js";
import { Field, Refusal, errorFor } from "./form.js";

const html = htm.bind(h);

export function Settings({ me }) {
  const [f, setF] = useState(null);
  const [refusal, setRefusal] = useState(null);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState(null);
  const fill = (s) => setF({
    idle_close_hours: String(s.idle_close_hours),
    opt_out_words: (s.opt_out_words ?? []).join("\n"),
    report_sender: s.report_sender ?? "",
    default_country: s.default_country ?? "",
    retention_days: String(s.retention_days),
  });
  useEffect(() => {
    api("/settings").then((r) => (r.status === 200 ? fill(r.body) : setError(r.body?.message ?? String(r.status))));
  }, []);
  const can = me.scopes.includes("settings:write");
  const set = (k) => (e) => { setSaved(false); setF((x) => ({ ...x, [k]: e.target.value })); };
  const err = (name) => errorFor(refusal?.fields, name);
  const submit = async (e) => {
    e.preventDefault();
    const body = {
      idle_close_hours: Number(f.idle_close_hours),
      opt_out_words: f.opt_out_words.split("\n").map((w) => w.trim()).filter(Boolean),
      report_sender: f.report_sender.trim() || null,
      default_country: f.default_country.trim() || null,
      retention_days: Number(f.retention_days),
    };
    const r = await api("/settings", { method: "PATCH", body });
    if (r.status !== 200) {
      setSaved(false);
      return setRefusal(problemsOf(r));
    }
    setRefusal(null);
    fill(r.body);
    setSaved(true);
  };
  if (!f) {
    return error ? html`<p class="error" role="alert">${error}</p>` : html`<p class="loading">${t("loading")}</p>`;
  }
  return html`
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">${t("settings.title")}</h1>
      <${Refusal} refusal=${refusal} />
      <form class="stack" onSubmit=${submit} novalidate>
        <${Field} id="s-words" label=${t("settings.opt_out_words")} help=${t("settings.opt_out_help")} error=${err("opt_out_words")}>
          <textarea rows="5" value=${f.opt_out_words} onInput=${set("opt_out_words")} disabled=${!can}></textarea>
        <//>
        <${Field} id="s-idle" label=${t("settings.idle_close_hours")} help=${t("settings.idle_help")} error=${err("idle_close_hours")}>
          <input type="number" min="1" max="168" value=${f.idle_close_hours} onInput=${set("idle_close_hours")} disabled=${!can} />
        <//>
        <${Field} id="s-sender" label=${t("settings.report_sender")} help=${t("settings.report_sender_help")} error=${err("report_sender")}>
          <input type="email" value=${f.report_sender} onInput=${set("report_sender")} disabled=${!can} />
        <//>
        <${Field} id="s-country" label=${t("settings.default_country")} help=${t("settings.country_help")} error=${err("default_country")}>
          <input value=${f.default_country} onInput=${set("default_country")} maxlength="2" disabled=${!can} />
        <//>
        <${Field} id="s-retention" label=${t("settings.retention_days")} help=${t("settings.retention_help")} error=${err("retention_days")}>
          <input type="number" min="30" max="3650" value=${f.retention_days} onInput=${set("retention_days")} disabled=${!can} />
        <//>
        <div class="row">
          <button type="submit" class="primary" disabled=${!can}
            title=${can ? undefined : t("scope.missing", { scope: "settings:write" })}>${t("settings.save")}</button>
          ${saved && html`<span role="status" class="good">${t("settings.saved")}</span>`}
        </div>
      </form>
    </section>`;
}
