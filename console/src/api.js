// The public tenant API, from the console's own origin (the key in this tab's
// session storage, never a cookie or the URL).

const KEY = "pregon.key";

export const key = () => sessionStorage.getItem(KEY);
export const setKey = (k) => sessionStorage.setItem(KEY, k);
export const forget = () => sessionStorage.removeItem(KEY);

/// `{status, body}` of one call; a network failure is status 0 with its message.
/// `raw` sends a body as it is (a do-not-contact CSV) with its `type`.
export async function api(path, { method = "GET", body, raw, type, as } = {}) {
  const headers = { authorization: `Bearer ${key() ?? ""}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (raw !== undefined) headers["content-type"] = type ?? "text/plain";
  let r;
  try {
    r = await fetch(`/v1${path}`, {
      method,
      headers,
      body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    return { status: 0, body: { error: "network", message: String(e.message ?? e) } };
  }
  if (as === "blob") return { status: r.status, body: await r.blob() };
  const text = await r.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { error: "not_json", message: text.slice(0, 200) };
  }
  return { status: r.status, body: parsed };
}

/// Saves what a GET answers (a spreadsheet) as a file named by the answer, through a
/// link the page clicks (the key travels in the header, never in a URL).
export async function download(path, fallbackName) {
  const r = await api(path, { as: "blob" });
  if (r.status !== 200) return { ok: false, status: r.status };
  const a = document.createElement("a");
  a.href = URL.createObjectURL(r.body);
  a.download = fallbackName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  return { ok: true };
}

/// PUTs a file to a pre-signed URL, reporting `(sent, total)` as it goes: resolves
/// with the HTTP status (0 when the connection failed).
export function put(url, file, onProgress) {
  return new Promise((done) => {
    const x = new XMLHttpRequest();
    x.open("PUT", url);
    x.upload.onprogress = (e) => onProgress(e.loaded, e.total || file.size);
    x.onload = () => done(x.status);
    x.onerror = () => done(0);
    x.send(file);
  });
}

/// The 400's bad fields as `{field: message}`, and the API's message.
export function problemsOf(r) {
  const fields = {};
  for (const f of r.body?.fields ?? []) fields[f.field] = f.message;
  return { message: r.body?.message ?? String(r.status), fields };
}
