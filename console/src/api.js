// The public tenant API, from the console's own origin (the key in this tab's
// session storage, never a cookie or the URL).

const KEY = "pregon.key";

export const key = () => sessionStorage.getItem(KEY);
export const setKey = (k) => sessionStorage.setItem(KEY, k);
export const forget = () => sessionStorage.removeItem(KEY);

/// `{status, body}` of one call; a network failure is status 0 with its message.
export async function api(path, { method = "GET", body, as } = {}) {
  const headers = { authorization: `Bearer ${key() ?? ""}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  let r;
  try {
    r = await fetch(`/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
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
