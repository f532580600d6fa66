// The console's words in Spanish (the default: the seeds' users write Spanish) and
// English. `t(key, vars)` reads the current language; `{name}` in a text is replaced.

const words = {
  es: {
    "app.name": "Pregón",
    "login.title": "Entrar a Pregón",
    "login.key": "Clave de API",
    "login.help": "Pega la clave que te dio tu administrador (pgn_…). Se guarda solo en esta pestaña.",
    "login.submit": "Entrar",
    "login.bad": "La clave no sirve: {message}",
    "logout": "Salir",
    "lang.switch": "English",
    "nav.campaigns": "Campañas",
    "nav.main": "Principal",
    "scope.missing": "Tu clave no tiene el permiso {scope}",
    "campaigns.title": "Campañas",
    "campaigns.new": "Nueva campaña",
    "campaigns.filter.status": "Estado",
    "campaigns.filter.all": "Todos",
    "campaigns.search": "Buscar por nombre",
    "campaigns.empty": "Aún no hay campañas. Crea una con «Nueva campaña», descarga su planilla y súbela.",
    "campaigns.none_match": "Ninguna campaña coincide con el filtro.",
    "campaigns.more": "Ver más",
    "col.name": "Nombre",
    "col.channel": "Canal",
    "col.status": "Estado",
    "col.rows": "Filas válidas",
    "col.created": "Creada",
    "loading": "Cargando…",
    "error.network": "No se pudo llegar a la API: {message}",
    "status.awaiting_file": "Esperando archivo",
    "status.validating": "Validando",
    "status.invalid": "Con errores",
    "status.loaded": "Cargada",
    "status.scheduled": "Programada",
    "status.sending": "Enviando",
    "status.paused": "En pausa",
    "status.completed": "Completada",
    "status.completed_with_errors": "Completada con errores",
    "status.cancelled": "Cancelada",
    "status.error": "Error",
  },
  en: {
    "app.name": "Pregón",
    "login.title": "Sign in to Pregón",
    "login.key": "API key",
    "login.help": "Paste the key your administrator gave you (pgn_…). It is kept in this tab only.",
    "login.submit": "Sign in",
    "login.bad": "That key does not work: {message}",
    "logout": "Sign out",
    "lang.switch": "Español",
    "nav.campaigns": "Campaigns",
    "nav.main": "Main",
    "scope.missing": "Your key lacks the {scope} permission",
    "campaigns.title": "Campaigns",
    "campaigns.new": "New campaign",
    "campaigns.filter.status": "Status",
    "campaigns.filter.all": "All",
    "campaigns.search": "Search by name",
    "campaigns.empty": "No campaigns yet. Create one with “New campaign”, download its sheet and upload it.",
    "campaigns.none_match": "No campaign matches the filter.",
    "campaigns.more": "Show more",
    "col.name": "Name",
    "col.channel": "Channel",
    "col.status": "Status",
    "col.rows": "Valid rows",
    "col.created": "Created",
    "loading": "Loading…",
    "error.network": "Could not reach the API: {message}",
    "status.awaiting_file": "Awaiting file",
    "status.validating": "Validating",
    "status.invalid": "Invalid",
    "status.loaded": "Loaded",
    "status.scheduled": "Scheduled",
    "status.sending": "Sending",
    "status.paused": "Paused",
    "status.completed": "Completed",
    "status.completed_with_errors": "Completed with errors",
    "status.cancelled": "Cancelled",
    "status.error": "Error",
  },
};

export const STATUSES = [
  "awaiting_file", "validating", "invalid", "loaded", "scheduled", "sending",
  "paused", "completed", "completed_with_errors", "cancelled", "error",
];

export function lang() {
  const l = localStorage.getItem("pregon.lang");
  return l === "en" ? "en" : "es";
}

export function setLang(l) {
  localStorage.setItem("pregon.lang", l);
  document.documentElement.lang = l;
}

export function t(key, vars = {}) {
  const text = words[lang()][key] ?? words.es[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

export function date(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString(lang() === "en" ? "en-GB" : "es-CL", {
    dateStyle: "medium",
    timeStyle: "short",
  });
}
