// Pregón's console: log in with an API key, then the screens the key's scopes allow.
// Preact with htm (no build-time JSX), one hash route per screen.

import { h, render } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api, forget, key, setKey } from "./api.js";
import { lang, setLang, t, date, STATUSES } from "./i18n.js";
import { Detail } from "./detail.js";
import { Inbox, Ticket } from "./inbox.js";
import { Dnc } from "./dnc.js";
import { NewCampaign } from "./new.js";
import { Accounts } from "./accounts.js";
import { Templates } from "./templates.js";
import { Settings } from "./settings.js";
import { Analytics } from "./analytics.js";

const html = htm.bind(h);

/// Who the key is: `{tenant_id, key_name, scopes}` (GET /v1/me).
async function whoAmI() {
  const r = await api("/me");
  return r.status === 200 ? { ok: true, me: r.body } : { ok: false, error: r.body };
}

function App() {
  const [me, setMe] = useState(null);
  const [checked, setChecked] = useState(!key());
  const [, setLangState] = useState(lang());
  useEffect(() => {
    document.documentElement.lang = lang();
    if (!key()) return;
    whoAmI().then((r) => {
      if (r.ok) setMe(r.me);
      else forget();
      setChecked(true);
    });
  }, []);
  const switchLang = () => {
    const next = lang() === "es" ? "en" : "es";
    setLang(next);
    setLangState(next);
  };
  if (!checked) return html`<p class="loading">${t("loading")}</p>`;
  if (!me) return html`<${Login} onIn=${setMe} onLang=${switchLang} />`;
  return html`<${Shell} me=${me} onLang=${switchLang} onOut=${() => { forget(); setMe(null); }} />`;
}

function Login({ onIn, onLang }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setKey(value.trim());
    const r = await whoAmI();
    setBusy(false);
    if (r.ok) return onIn(r.me);
    forget();
    setError(t("login.bad", { message: r.error?.message ?? "?" }));
  };
  return html`
    <main class="login">
      <form onSubmit=${submit} aria-labelledby="login-title">
        <h1 id="login-title">${t("login.title")}</h1>
        <label for="api-key">${t("login.key")}</label>
        <input id="api-key" name="api-key" type="password" autocomplete="off" required
          value=${value} onInput=${(e) => setValue(e.target.value)}
          aria-describedby="api-key-help${error ? " api-key-error" : ""}" />
        <p id="api-key-help" class="help">${t("login.help")}</p>
        ${error && html`<p id="api-key-error" class="error" role="alert">${error}</p>`}
        <div class="row">
          <button type="submit" class="primary" disabled=${busy}>${t("login.submit")}</button>
          <button type="button" class="link" onClick=${onLang}>${t("lang.switch")}</button>
        </div>
      </form>
    </main>`;
}

/// The screen the location's hash names: `#/campaigns` or `#/campaigns/{id}`.
function useRoute() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  const [, screen = "campaigns", id] = hash.match(/^#\/([a-z]+)(?:\/([^/]+))?$/) ?? [];
  return { screen, id: id && decodeURIComponent(id) };
}

/// The screen for a route (the campaigns list for anything unknown).
function screenFor(route, me) {
  switch (route.screen) {
    case "campaigns":
      return route.id ? html`<${Detail} key=${route.id} me=${me} id=${route.id} />` : html`<${Campaigns} me=${me} />`;
    case "tickets":
      // Keyed: another ticket is a fresh page (its own channel, window and form).
      return route.id ? html`<${Ticket} key=${route.id} me=${me} id=${route.id} />` : html`<${Inbox} me=${me} />`;
    case "dnc":
      return html`<${Dnc} me=${me} />`;
    case "new":
      return html`<${NewCampaign} me=${me} />`;
    case "accounts":
      return html`<${Accounts} me=${me} />`;
    case "templates":
      return html`<${Templates} me=${me} />`;
    case "settings":
      return html`<${Settings} me=${me} />`;
    case "analytics":
      return html`<${Analytics} me=${me} />`;
    default:
      return html`<${Campaigns} me=${me} />`;
  }
}

function Shell({ me, onLang, onOut }) {
  const route = useRoute();
  return html`
    <div class="shell">
      <header>
        <span class="brand">${t("app.name")}</span>
        <nav aria-label=${t("nav.main")}>
          ${[["campaigns", "nav.campaigns"], ["tickets", "nav.tickets"], ["dnc", "nav.dnc"], ["analytics", "nav.analytics"],
            ["accounts", "nav.accounts"], ["templates", "nav.templates"], ["settings", "nav.settings"]].map(
            ([screen, label]) => html`<a href=${`#/${screen}`}
              aria-current=${route.screen === screen ? "page" : undefined}>${t(label)}</a>`)}
        </nav>
        <span class="who" title=${`${me.key_name} · ${me.tenant_id}`}>${me.key_name} · ${me.tenant_id}</span>
        <button type="button" class="link" onClick=${onLang}>${t("lang.switch")}</button>
        <button type="button" class="link" onClick=${onOut}>${t("logout")}</button>
      </header>
      <main id="main">${screenFor(route, me)}</main>
    </div>`;
}

/// A button the key's scopes may not allow: greyed out, saying which scope it needs.
function Allowed({ me, scope, children, ...rest }) {
  const ok = me.scopes.includes(scope);
  return html`<button type="button" ...${rest} disabled=${!ok}
    title=${ok ? undefined : t("scope.missing", { scope })}>${children}</button>`;
}

function Campaigns({ me }) {
  const [status, setStatus] = useState("");
  const [search, setSearch] = useState("");
  const [page, setPage] = useState({ items: [], next: null, loading: true, error: null });
  const load = async (cursor) => {
    const q = new URLSearchParams();
    if (status) q.set("status", status);
    if (cursor) q.set("cursor", cursor);
    const r = await api(`/campaigns${q.size ? `?${q}` : ""}`);
    if (r.status !== 200) {
      setPage((p) => ({ ...p, loading: false, error: r.body?.message ?? String(r.status) }));
      return;
    }
    setPage((p) => ({
      items: cursor ? [...p.items, ...r.body.items] : r.body.items,
      next: r.body.next_cursor,
      loading: false,
      error: null,
    }));
  };
  useEffect(() => {
    setPage({ items: [], next: null, loading: true, error: null });
    load(null);
  }, [status]);
  const needle = search.trim().toLowerCase();
  const shown = page.items.filter((c) => !needle || c.name.toLowerCase().includes(needle));
  return html`
    <section aria-labelledby="campaigns-title">
      <div class="title-row">
        <h1 id="campaigns-title">${t("campaigns.title")}</h1>
        <${Allowed} me=${me} scope="campaigns:write" class="primary"
          onClick=${() => { location.hash = "#/new"; }}>${t("campaigns.new")}<//>
      </div>
      <div class="filters">
        <label>${t("campaigns.filter.status")}
          <select value=${status} onChange=${(e) => setStatus(e.target.value)}>
            <option value="">${t("campaigns.filter.all")}</option>
            ${STATUSES.map((s) => html`<option value=${s}>${t(`status.${s}`)}</option>`)}
          </select>
        </label>
        <label>${t("campaigns.search")}
          <input type="search" value=${search} onInput=${(e) => setSearch(e.target.value)} />
        </label>
      </div>
      ${page.error && html`<p class="error" role="alert">${page.error}</p>`}
      ${page.loading && html`<p class="loading">${t("loading")}</p>`}
      ${!page.loading && !page.error && page.items.length === 0 && !status &&
        html`<p class="empty">${t("campaigns.empty")}</p>`}
      ${!page.loading && page.items.length > 0 && shown.length === 0 || (!page.loading && status && page.items.length === 0)
        ? html`<p class="empty">${t("campaigns.none_match")}</p>` : null}
      ${shown.length > 0 && html`
        <div class="table-wrap">
          <table>
            <thead><tr>
              <th scope="col">${t("col.name")}</th>
              <th scope="col">${t("col.channel")}</th>
              <th scope="col">${t("col.status")}</th>
              <th scope="col" class="num">${t("col.rows")}</th>
              <th scope="col">${t("col.created")}</th>
            </tr></thead>
            <tbody>
              ${shown.map((c) => html`
                <tr key=${c.id} data-id=${c.id}>
                  <td><a href=${`#/campaigns/${encodeURIComponent(c.id)}`}>${c.name}</a></td>
                  <td>${c.channel === "sms" ? "SMS" : "WhatsApp"}</td>
                  <td><span class=${`badge ${c.status}`}>${t(`status.${c.status}`)}</span></td>
                  <td class="num">${c.counts?.valid_rows ?? 0}</td>
                  <td>${date(c.created_at)}</td>
                </tr>`)}
            </tbody>
          </table>
        </div>`}
      ${page.next && html`<button type="button" onClick=${() => load(page.next)}>${t("campaigns.more")}</button>`}
    </section>`;
}

render(html`<${App} />`, document.getElementById("app"));
