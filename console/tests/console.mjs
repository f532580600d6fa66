// The console in a real browser (headless Chromium, driven by playwright-core) against
// the local stack: `node tests/console.mjs`, with PREGON_CONSOLE_URL (the console's URL
// on the stack), PREGON_API_KEY (a key with every scope) and PREGON_READ_KEY (a key
// with `read` only), as tests/tests/console.rs runs it. Screenshots go to
// PREGON_SHOTS (default ../.cache/console). Exits 1 naming the first check that failed.

import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";

const url = need("PREGON_CONSOLE_URL");
const key = need("PREGON_API_KEY");
const readKey = need("PREGON_READ_KEY");
const shots = process.env.PREGON_SHOTS ?? new URL("../../.cache/console", import.meta.url).pathname;
const chromiumPath = process.env.PREGON_CHROMIUM ?? "/usr/bin/chromium";
const axeSource = readFileSync(new URL("../node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
mkdirSync(shots, { recursive: true });

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`console test: ${name} is not set`);
    process.exit(2);
  }
  return v;
}

let failed = false;
let page = null;
async function check(what, fn) {
  try {
    await fn();
    console.log(`ok   ${what}`);
  } catch (e) {
    failed = true;
    console.log(`FAIL ${what}: ${e.message.split("\n")[0]}`);
    // What the page showed then, for whoever reads the failure.
    const n = what.replace(/[^a-z0-9]+/gi, "-").slice(0, 40);
    await page?.screenshot({ path: `${shots}/failed-${n}.png`, fullPage: true }).catch(() => {});
  }
}
function expect(cond, message) {
  if (!cond) throw new Error(message);
}

/// Serious or critical accessibility violations on the page (axe-core), named.
async function axe(page) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => await window.axe.run(document));
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.nodes.length}): ${v.help}`);
}

async function logIn(page, k) {
  await page.goto(url);
  await page.getByLabel(/Clave de API|API key/).fill(k);
  await page.getByRole("button", { name: /Entrar|Sign in/ }).click();
  await page.getByRole("heading", { name: /Campañas|Campaigns/ }).waitFor({ timeout: 10000 });
}

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const timeout = setTimeout(() => {
  console.log("FAIL the browser tests took more than 180 s");
  process.exit(1);
}, 180_000);

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  await check("the login screen is in Spanish, the key field first in tab order", async () => {
    await page.goto(url);
    await page.getByRole("heading", { name: "Entrar a Pregón" }).waitFor({ timeout: 10000 });
    expect((await page.getAttribute("html", "lang")) === "es", "html lang is not es");
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => document.activeElement?.id);
    expect(focused === "api-key", `focus went to ${focused}`);
    await page.screenshot({ path: `${shots}/login.png` });
  });
  await check("the login screen has no serious accessibility violations", async () => {
    const v = await axe(page);
    expect(v.length === 0, v.join("; "));
  });
  await check("a wrong key is refused with the API's message, next to the field", async () => {
    // A key of the right shape that no tenant holds.
    const wrong = key.slice(0, -4) + (key.endsWith("aaaa") ? "bbbb" : "aaaa");
    await page.keyboard.type(wrong);
    await page.keyboard.press("Enter");
    const alert = page.getByRole("alert");
    await alert.waitFor({ timeout: 10000 });
    const text = await alert.textContent();
    expect(/unknown API key/.test(text), `the alert says: ${text}`);
  });
  await check("the right key logs in and lists the tenant's campaigns", async () => {
    await logIn(page, key);
    const row = page.getByRole("row", { name: /Cobranza diciembre/ });
    await row.waitFor({ timeout: 10000 });
    const text = await row.textContent();
    expect(/Esperando archivo/.test(text), `the row says: ${text}`);
    await page.screenshot({ path: `${shots}/campaigns.png` });
  });
  await check("the key lives in this tab's session storage, never a cookie or the URL", async () => {
    const stored = await page.evaluate(() => sessionStorage.getItem("pregon.key"));
    expect(stored === key, "not in session storage");
    expect((await context.cookies()).length === 0, "a cookie was set");
    expect(!page.url().includes(key), "the key is in the URL");
  });
  await check("the campaigns screen has no serious accessibility violations", async () => {
    const v = await axe(page);
    expect(v.length === 0, v.join("; "));
  });
  await check("filtering by a status with no campaign says so", async () => {
    await page.getByLabel("Estado").selectOption("paused");
    await page.getByText("Ninguna campaña coincide con el filtro.").waitFor({ timeout: 10000 });
    await page.getByLabel("Estado").selectOption("");
    await page.getByRole("row", { name: /Cobranza diciembre/ }).waitFor({ timeout: 10000 });
  });
  await check("searching by name narrows the list", async () => {
    await page.getByLabel("Buscar por nombre").fill("recordatorio");
    await page.getByRole("row", { name: /Recordatorio de pago/ }).waitFor({ timeout: 5000 });
    const rows = await page.locator("tbody tr").count();
    expect(rows === 1, `${rows} rows shown`);
    await page.getByLabel("Buscar por nombre").fill("");
  });
  await check("a provider account is refused a missing credential next to it, then created with its webhook URL", async () => {
    await page.getByRole("link", { name: "Cuentas" }).click();
    await page.getByRole("heading", { name: "Cuentas de proveedor" }).waitFor({ timeout: 5000 });
    await page.getByRole("button", { name: "Nueva cuenta" }).click();
    await page.getByLabel("Proveedor", { exact: true }).selectOption("twilio");
    await page.getByLabel("Canal", { exact: true }).selectOption("sms");
    await page.getByLabel("Remitente").fill("+15550009702");
    await page.getByLabel("Nombre (opcional)").fill("SMS cobranza");
    await page.getByLabel("account_sid").fill("AC_console_two");
    await page.getByRole("button", { name: "Crear cuenta" }).click();
    const missing = page.locator("#cred-auth_token-error");
    await missing.waitFor({ timeout: 5000 });
    await page.getByLabel("auth_token").fill("console-two-token");
    await page.getByRole("button", { name: "Crear cuenta" }).click();
    const made = page.getByTestId("account-made");
    await made.waitFor({ timeout: 10000 });
    expect(/\/v1\/webhooks\//.test(await made.textContent()), `the notice says: ${await made.textContent()}`);
    const row = page.getByRole("row", { name: /SMS cobranza/ });
    await row.waitFor({ timeout: 5000 });
    await row.getByRole("button", { name: "Desactivar" }).click();
    await row.getByText("Desactivada").waitFor({ timeout: 5000 });
    await row.getByRole("button", { name: "Activar" }).click();
    await row.getByText("Activa", { exact: true }).waitFor({ timeout: 5000 });
    await page.screenshot({ path: `${shots}/accounts.png`, fullPage: true });
    const v = await axe(page);
    expect(v.length === 0, v.join("; "));
  });
  await check("a WhatsApp template is registered at the provider, pending, then approved and previewed", async () => {
    await page.getByRole("button", { name: "Nueva cuenta" }).click();
    await page.getByLabel("Proveedor", { exact: true }).selectOption("meta");
    await page.getByLabel("Remitente").fill("15550009703");
    const creds = { access_token: "EAAconsole", app_secret: "console-secret", verify_token: "console-verify",
      phone_number_id: "15550009703", waba_id: "waba_console" };
    for (const [k, v] of Object.entries(creds)) await page.getByLabel(k, { exact: true }).fill(v);
    await page.getByRole("button", { name: "Crear cuenta" }).click();
    await page.getByTestId("account-made").filter({ hasText: "15550009703" }).waitFor({ timeout: 10000 });
    await page.getByRole("link", { name: "Plantillas" }).click();
    await page.getByRole("button", { name: "Nueva plantilla" }).click();
    await page.getByLabel("Nombre", { exact: true }).fill("recordatorio_enero");
    await page.getByLabel("Texto", { exact: true }).fill("Hola {{1}}, tu cuota de {{2}} vence mañana");
    await page.getByLabel("Ejemplo de {{1}}").fill("Ana");
    await page.getByLabel("Ejemplo de {{2}}").fill("$12.500");
    await page.getByRole("button", { name: "Crear plantilla" }).click();
    const card = page.locator('li[data-name="recordatorio_enero"]');
    await card.waitFor({ timeout: 10000 });
    const first = await card.getByTestId("template-status").textContent();
    expect(/en revisión|aprobada/.test(first), `its status: ${first}`);
    for (let i = 0; i < 20 && !/aprobada/.test(await card.getByTestId("template-status").textContent()); i += 1) {
      await new Promise((done) => setTimeout(done, 500));
      await card.getByRole("button", { name: "Actualizar estado" }).click();
    }
    await card.getByTestId("template-status").filter({ hasText: "aprobada" }).waitFor({ timeout: 5000 });
    await card.getByRole("button", { name: "Vista previa" }).click();
    await card.getByTestId("preview").filter({ hasText: "Hola Ana, tu cuota de $12.500 vence mañana" }).waitFor({ timeout: 5000 });
    await page.screenshot({ path: `${shots}/templates.png`, fullPage: true });
    const v = await axe(page);
    expect(v.length === 0, v.join("; "));
    // Deleted (at the provider too) only after the question is answered.
    await card.getByRole("button", { name: "Eliminar" }).click();
    await card.getByRole("alertdialog").waitFor({ timeout: 5000 });
    await card.getByRole("button", { name: "Sí" }).click();
    await card.waitFor({ state: "detached", timeout: 10000 });
  });
  await check("an SMS template is approved at once and previewed with its encoding and segments", async () => {
    await page.getByRole("button", { name: "Nueva plantilla" }).click();
    await page.getByLabel("Nombre", { exact: true }).fill("aviso_enero");
    await page.getByLabel("Canal", { exact: true }).last().selectOption("sms");
    await page.getByLabel("Texto", { exact: true }).fill("Hola {{1}}, su pedido salió");
    await page.getByRole("button", { name: "Crear plantilla" }).click();
    const card = page.locator('li[data-name="aviso_enero"]');
    await card.getByTestId("template-status").filter({ hasText: "aprobada" }).waitFor({ timeout: 10000 });
    await card.getByRole("button", { name: "Vista previa" }).click();
    await card.getByLabel("{{1}}").fill("Beto");
    await card.getByRole("button", { name: "Ver con estos valores" }).click();
    await card.getByTestId("preview").filter({ hasText: "Hola Beto, su pedido salió" }).waitFor({ timeout: 5000 });
    const sms = await card.getByTestId("preview-sms").textContent();
    expect(/UCS-2: 1 segmento/.test(sms), `the SMS line says: ${sms}`);
  });
  await check("settings refuse a bad value next to its field, then save", async () => {
    await page.getByRole("link", { name: "Ajustes" }).click();
    await page.getByRole("heading", { name: "Ajustes" }).waitFor({ timeout: 5000 });
    await page.getByLabel("Cierre por inactividad (horas)").fill("0");
    await page.getByRole("button", { name: "Guardar" }).click();
    await page.locator("#s-idle-error").waitFor({ timeout: 5000 });
    await page.getByLabel("Cierre por inactividad (horas)").fill("12");
    const words = page.getByLabel("Palabras de baja");
    await words.fill(`${await words.inputValue()}\nNO MOLESTAR`);
    await page.getByRole("button", { name: "Guardar" }).click();
    await page.getByRole("status").filter({ hasText: "Guardado." }).waitFor({ timeout: 5000 });
    expect(/NO MOLESTAR/.test(await words.inputValue()), "the saved words lost NO MOLESTAR");
    await page.screenshot({ path: `${shots}/settings.png`, fullPage: true });
    const v = await axe(page);
    expect(v.length === 0, v.join("; "));
    await page.getByRole("link", { name: "Campañas" }).click();
    await page.getByRole("heading", { name: "Campañas" }).waitFor({ timeout: 5000 });
  });
  await check("a new campaign refuses a missing consent next to its box, then is created", async () => {
    await page.getByRole("button", { name: "Nueva campaña" }).click();
    await page.getByRole("heading", { name: "Nueva campaña" }).waitFor({ timeout: 5000 });
    await page.getByLabel("Nombre de la campaña").fill("Cobranza enero");
    await page.getByRole("radio", { name: "SMS" }).check();
    await page.getByLabel("Cuenta del proveedor").selectOption({ label: "SMS cobranza · +15550009702 (twilio)" });
    await page.getByLabel("Plantilla").selectOption({ label: "aviso_enero · aprobada" });
    await page.getByTestId("template-body").filter({ hasText: "su pedido salió" }).waitFor({ timeout: 5000 });
    await page.getByRole("button", { name: "Agregar columna" }).click();
    await page.getByLabel("Nombre de la columna 1").fill("rut");
    await page.getByRole("button", { name: "Crear campaña" }).click();
    const refusal = page.locator("#c-consent-error");
    await refusal.waitFor({ timeout: 5000 });
    expect(/true/.test(await refusal.textContent()), `next to the box: ${await refusal.textContent()}`);
    const described = await page.getAttribute("#c-consent", "aria-describedby");
    expect(described === "c-consent-error", `the box is described by ${described}`);
    await page.screenshot({ path: `${shots}/new-campaign.png`, fullPage: true });
    const v = await axe(page);
    expect(v.length === 0, v.join("; "));
    await page.getByLabel("Confirmo que los destinatarios aceptaron ser contactados").check();
    await page.getByRole("button", { name: "Crear campaña" }).click();
    await page.getByRole("heading", { name: "Cobranza enero" }).waitFor({ timeout: 10000 });
    await page.getByTestId("status").filter({ hasText: "Esperando archivo" }).waitFor({ timeout: 5000 });
  });
  await check("its empty sheet downloads with the template's and the metadata columns", async () => {
    const [file] = await Promise.all([
      page.waitForEvent("download", { timeout: 10000 }),
      page.getByRole("button", { name: "Descargar planilla CSV" }).click(),
    ]);
    const text = readFileSync(await file.path(), "utf8").replace(/^\uFEFF/, "");
    expect(/^phone,param_1,rut\r?\n?$/.test(text), `the sheet is: ${JSON.stringify(text)}`);
  });
  await check("an XLSX with two bad rows uploads with progress and shows its problems by row, column and code", async () => {
    await page.locator("#sheet-file").setInputFiles(need("PREGON_BAD_XLSX"));
    await page.locator('[data-testid="upload-progress"][aria-valuenow="100"]').waitFor({ timeout: 30000 });
    await page.getByTestId("status").filter({ hasText: "Con errores" }).waitFor({ timeout: 60000 });
    const problems = page.getByTestId("problems");
    await problems.waitFor({ timeout: 10000 });
    const rows = await problems.locator("tbody tr").evaluateAll((trs) =>
      trs.map((tr) => [...tr.children].slice(0, 3).map((td) => td.textContent.trim().split(" ")[0]).join("|")));
    expect(rows.includes("3|phone|invalid_phone"), `the table says: ${rows.join(" / ")}`);
    expect(rows.includes("5|param_1|missing_parameter"), `the table says: ${rows.join(" / ")}`);
    expect((await page.locator('[data-vcount="invalid_rows"]').textContent()) === "2", "invalid rows is not 2");
    const report = await page.getByTestId("report-link").getAttribute("href");
    const csv = await (await page.request.get(report)).text();
    expect(/invalid_phone/.test(csv) && /missing_parameter/.test(csv), `the report: ${csv.slice(0, 300)}`);
    await page.screenshot({ path: `${shots}/problems.png`, fullPage: true });
    const v = await axe(page);
    expect(v.length === 0, v.join("; "));
  });
  await check("the fixed file dropped on the page is validated live to loaded, its SMS segments previewed", async () => {
    const b64 = readFileSync(need("PREGON_GOOD_XLSX")).toString("base64");
    const dropped = await page.evaluateHandle((data) => {
      const bin = atob(data);
      const bytes = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], "cobranza-enero-corregida.xlsx",
        { type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" }));
      return dt;
    }, b64);
    await page.dispatchEvent(".drop", "drop", { dataTransfer: dropped });
    await page.getByTestId("status").filter({ hasText: "Cargada" }).waitFor({ timeout: 60000 });
    await page.locator('[data-vcount="valid_rows"]').filter({ hasText: "5" }).waitFor({ timeout: 10000 });
    const sms = await page.getByTestId("sms-summary").textContent();
    expect(/5 en UCS-2/.test(sms) && /ó/.test(sms), `the SMS line says: ${sms}`);
  });
  await check("scheduled for later and unscheduled again", async () => {
    const later = new Date(Date.now() + 3 * 3600 * 1000);
    const local = new Date(later.getTime() - later.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    await page.getByLabel("Enviar el").fill(local);
    await page.getByRole("button", { name: "Programar" }).click();
    await page.getByTestId("status").filter({ hasText: "Programada" }).waitFor({ timeout: 10000 });
    await page.getByTestId("send-at").waitFor({ timeout: 5000 });
    await page.getByRole("button", { name: "Desprogramar" }).click();
    await page.getByTestId("status").filter({ hasText: "Cargada" }).waitFor({ timeout: 10000 });
  });
  await check("sent from its page: asked twice, live progress to completed, KPIs after the callbacks", async () => {
    await page.getByRole("button", { name: "Enviar ahora" }).click();
    const ask = page.getByRole("alertdialog");
    await ask.waitFor({ timeout: 5000 });
    expect(/5 destinatarios/.test(await ask.textContent()), "the question does not say how many");
    await page.getByRole("button", { name: "Sí" }).click();
    // Polled, never reloaded: the page reaches `completed` by itself.
    await page.getByTestId("status").filter({ hasText: "Completada" }).waitFor({ timeout: 60000 });
    await page.locator('[data-count="sent"]').filter({ hasText: "5" }).waitFor({ timeout: 10000 });
    const text = await page.getByTestId("progress-text").textContent();
    expect(/5 de 5/.test(text), `progress says: ${text}`);
    await page.locator('[data-kpi-count="delivered"]').filter({ hasText: "5" }).waitFor({ timeout: 30000 });
    await page.getByRole("button", { name: "Ver la campaña en el tiempo" }).click();
    const timeline = page.getByTestId("timeline");
    await timeline.waitFor({ timeout: 10000 });
    const legend = await timeline.locator(".legend").textContent();
    expect(/Enviados:\s*5/.test(legend) && /Entregados:\s*5/.test(legend), `the legend says: ${legend}`);
    await page.screenshot({ path: `${shots}/campaign.png`, fullPage: true });
    const v = await axe(page);
    expect(v.length === 0, v.join("; "));
  });
  await check("the ended campaign's results are built and downloaded as CSV", async () => {
    await page.getByRole("button", { name: "Preparar CSV" }).click();
    const link = page.getByTestId("results-link");
    await link.waitFor({ timeout: 60000 });
    const url = await link.getAttribute("href");
    const file = await (await page.request.get(url)).text();
    const lines = file.trim().split(/\r?\n/);
    expect(lines.length === 6, `${lines.length} lines: ${file.slice(0, 200)}`);
    expect(lines.slice(1).every((l) => /5696466000[1-5]/.test(l) && /\d\d\.\d{3}\.\d{3}-\d/.test(l)),
      `rows: ${lines.slice(1).join(" | ")}`);
    // Re-run: a clone with the same settings, awaiting the next file.
    await page.getByRole("button", { name: "Clonar campaña" }).click();
    await page.getByRole("heading", { name: "Cobranza enero (copia)" }).waitFor({ timeout: 10000 });
    await page.getByTestId("status").filter({ hasText: "Esperando archivo" }).waitFor({ timeout: 5000 });
    await page.getByRole("link", { name: "← Campañas" }).click();
    await page.getByRole("heading", { name: "Campañas" }).waitFor({ timeout: 5000 });
  });
  await check("analytics sum the period's campaigns, drawn by day; an empty period says what to do", async () => {
    await page.getByRole("link", { name: "Analítica" }).click();
    await page.getByRole("heading", { name: "Analítica" }).waitFor({ timeout: 5000 });
    // This campaign's 5 and the WhatsApp campaign's 1.
    await page.locator('[data-total="sent"]').filter({ hasText: "6" }).waitFor({ timeout: 10000 });
    await page.getByTestId("analytics-chart").waitFor({ timeout: 5000 });
    const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: "Cobranza enero", exact: true }) });
    await row.waitFor({ timeout: 5000 });
    const cells = await row.locator("td").allTextContents();
    expect(cells[2] === "5" && cells[3] === "100.0 %", `its row says: ${cells.join(" | ")}`);
    await page.screenshot({ path: `${shots}/analytics.png`, fullPage: true });
    const v = await axe(page);
    expect(v.length === 0, v.join("; "));
    await page.getByLabel("Período").selectOption("previous_month");
    await page.getByText("Ninguna campaña en este período").waitFor({ timeout: 10000 });
  });
  await check("a customer's message is answered, attended and closed from the inbox", async () => {
    await page.getByRole("link", { name: "Conversaciones", exact: true }).click();
    await page.getByRole("heading", { name: "Conversaciones" }).waitFor({ timeout: 5000 });
    await page.getByRole("link", { name: "+56964670001" }).click();
    await page.getByText("Hola, ¿cuánto debo?").waitFor({ timeout: 10000 });
    const windowText = await page.getByTestId("window").textContent();
    expect(/SMS: puedes responder en cualquier momento/.test(windowText), `the window line says: ${windowText}`);
    await page.getByRole("button", { name: "Atender" }).click();
    await page.getByText("atendida por first key").waitFor({ timeout: 10000 });
    await page.getByLabel("Respuesta").fill("Son $12.500, vence el viernes");
    await page.getByRole("button", { name: "Enviar respuesta" }).click();
    await page.getByRole("status").filter({ hasText: "Respuesta enviada." }).waitFor({ timeout: 10000 });
    await page.getByText("Son $12.500, vence el viernes").waitFor({ timeout: 10000 });
    await page.screenshot({ path: `${shots}/ticket.png`, fullPage: true });
    const v = await axe(page);
    expect(v.length === 0, v.join("; "));
    await page.getByRole("button", { name: "Cerrar conversación" }).click();
    await page.locator(".badge.closed").waitFor({ timeout: 10000 });
  });
  await check("a WhatsApp conversation whose window has closed offers the template send instead", async () => {
    await page.getByRole("link", { name: "Conversaciones", exact: true }).click();
    await page.getByLabel("Departamento").fill("cobranza");
    await page.getByLabel("Departamento").press("Enter");
    await page.getByLabel("Departamento").blur();
    await page.getByRole("link", { name: "+56964670006" }).click();
    const windowText = await page.getByTestId("window").textContent();
    expect(/24 horas está cerrada/.test(windowText), `the window line says: ${windowText}`);
    expect(await page.getByRole("button", { name: "Enviar respuesta" }).isDisabled(), "free text is still offered");
    await page.getByLabel("Plantilla", { exact: true }).selectOption({ label: "recordatorio_cuota" });
    await page.getByLabel("{{1}}").fill("Ana");
    await page.getByRole("button", { name: "Enviar plantilla" }).click();
    await page.getByRole("status").filter({ hasText: "Plantilla enviada" }).waitFor({ timeout: 10000 });
    await page.locator(".conversation").getByText("Hola Ana, tu cuota vence mañana").waitFor({ timeout: 10000 });
    const v = await axe(page);
    expect(v.length === 0, v.join("; "));
    // Closed, it is reactivated with a template: a new conversation, linked to this one.
    const before = page.url();
    await page.getByRole("button", { name: "Cerrar conversación" }).click();
    await page.getByRole("heading", { name: "Reactivar la conversación con una plantilla" }).waitFor({ timeout: 10000 });
    await page.getByLabel("{{1}}").fill("Ana");
    await page.getByRole("button", { name: "Enviar plantilla" }).click();
    await page.getByText("Reabre la conversación").waitFor({ timeout: 10000 });
    expect(page.url() !== before, "still on the closed conversation");
    await page.locator(".badge.open").waitFor({ timeout: 5000 });
  });
  await check("a number is put on the do-not-contact list and taken off, a bad one refused", async () => {
    await page.getByRole("link", { name: "No contactar" }).click();
    await page.getByRole("heading", { name: "No contactar" }).waitFor({ timeout: 5000 });
    await page.getByLabel("Teléfono").fill("12");
    await page.getByRole("button", { name: "Agregar" }).click();
    await page.getByRole("alert").waitFor({ timeout: 5000 });
    await page.getByLabel("Teléfono").fill("+56964670002");
    await page.getByRole("button", { name: "Agregar" }).click();
    const row = page.getByRole("row", { name: /\+56964670002/ });
    await row.waitFor({ timeout: 10000 });
    await page.screenshot({ path: `${shots}/dnc.png`, fullPage: true });
    const v = await axe(page);
    expect(v.length === 0, v.join("; "));
    await row.getByRole("button", { name: "Quitar" }).click();
    await row.waitFor({ state: "detached", timeout: 10000 });
    // The dialer's export, exactly its shape: refused whole for its bad line, then
    // its valid lines applied on request.
    const file = "964670004;Cobranza enero;\n+56964670005;;\nabc;;\n";
    await page.locator("#dnc-file").setInputFiles({ name: "lista-negra.csv", mimeType: "text/csv", buffer: Buffer.from(file) });
    const refused = page.getByTestId("dnc-refused");
    await refused.waitFor({ timeout: 10000 });
    expect(/line 3/.test(await refused.textContent()), `the refusal says: ${await refused.textContent()}`);
    await page.getByRole("button", { name: "Aplicar solo las líneas válidas" }).click();
    const done = page.getByTestId("dnc-imported");
    await done.waitFor({ timeout: 10000 });
    expect(/2 números agregados\. Líneas omitidas: 1/.test(await done.textContent()), `it says: ${await done.textContent()}`);
    await page.getByRole("row", { name: /\+56964670004/ }).waitFor({ timeout: 5000 });
    await page.getByRole("row", { name: /\+56964670005/ }).waitFor({ timeout: 5000 });
    await page.getByRole("link", { name: "Campañas" }).click();
    await page.getByRole("heading", { name: "Campañas" }).waitFor({ timeout: 5000 });
  });
  await check("English is one click away", async () => {
    await page.getByRole("button", { name: "English" }).click();
    await page.getByRole("heading", { name: "Campaigns" }).waitFor({ timeout: 5000 });
    expect((await page.getAttribute("html", "lang")) === "en", "html lang is not en");
    await page.getByRole("button", { name: "Español" }).click();
    await page.getByRole("heading", { name: "Campañas" }).waitFor({ timeout: 5000 });
  });
  await check("at 360 px wide the page does not scroll sideways", async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width <= 360, `the page is ${width} px wide`);
    await page.screenshot({ path: `${shots}/campaigns-360.png`, fullPage: true });
  });
  await check("a read-only key sees the list with 'New campaign' greyed out, saying why", async () => {
    const other = await (await browser.newContext()).newPage();
    await logIn(other, readKey);
    const button = other.getByRole("button", { name: "Nueva campaña" });
    expect(await button.isDisabled(), "the button is enabled");
    const why = await button.getAttribute("title");
    expect(/campaigns:write/.test(why ?? ""), `its title says: ${why}`);
  });
  await check("signing out forgets the key", async () => {
    await page.getByRole("button", { name: "Salir" }).click();
    await page.getByRole("heading", { name: "Entrar a Pregón" }).waitFor({ timeout: 5000 });
    const stored = await page.evaluate(() => sessionStorage.getItem("pregon.key"));
    expect(stored === null, "the key is still stored");
  });
} finally {
  clearTimeout(timeout);
  await browser.close();
}
if (failed) process.exit(1);
console.log(`console: every check passed; screenshots in ${shots}`);
