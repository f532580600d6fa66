#!/usr/bin/env bash
# The demo: run by `make demo` against a fresh local stack (PREGON_STACK_FILE set).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
pregon="$root/target/debug/pregon"
fixtures="$root/shared/tests/data"
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "The operator makes the tenant (with the operator key); its first API key is shown this once"
ten=$("$pregon" admin tenant create --name "Demo Cobranzas")
echo "$ten" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({**d, "key": d["key"][:12] + "…"}, indent=2, ensure_ascii=False))'
PREGON_API_KEY=$(echo "$ten" | field '["key"]')
export PREGON_API_KEY

say "A narrower key for a supervisor (read, campaigns, send: no accounts, no keys)"
sup=$("$pregon" key create --name "supervisora Ana" --scope read --scope campaigns:write --scope send)
echo "$sup" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({k: d[k] for k in ("id","name","scopes")}, ensure_ascii=False))'
PREGON_API_KEY=$(echo "$sup" | field '["key"]') "$pregon" account list > /dev/null \
  && echo "account list with the supervisor's key: allowed (read)"
PREGON_API_KEY=$(echo "$sup" | field '["key"]') "$pregon" key list > /dev/null 2>&1 \
  || echo "key list with the supervisor's key: refused (403 insufficient_scope: keys:admin)"

say "A provider account (credentials go to Secrets Manager, never shown again)"
acc=$("$pregon" account create --provider meta --channel whatsapp --sender 15550001111 \
      --default-country CL --rate 50 \
      --credentials '{"access_token":"demo-token","app_secret":"demo-secret","verify_token":"demo-verify","phone_number_id":"15550001111","waba_id":"demo-waba"}')
echo "$acc"; acc_id=$(echo "$acc" | field '["id"]')
# The simulator calls the account's webhook_url with each message's statuses, signed
# with the app secret, as Meta does once the URL is set in its console.
sim=$(python3 -c "import json; print(json.load(open('$PREGON_STACK_FILE'))['simulator_url'])")
hook=$(echo "$acc" | field '["webhook_url"]')
curl -s -X POST "$sim/_sim/webhooks" -H 'content-type: application/json' \
  -d "{\"provider\":\"meta\",\"sender\":\"15550001111\",\"url\":\"$hook\",\"app_secret\":\"demo-secret\"}" > /dev/null
echo "webhook_url: $hook (registered with the simulator)"

say "A WhatsApp template with two parameters, registered at the provider (the simulator approves it in about a second)"
tpl=$("$pregon" template create --name aviso_cobranza --language es --category UTILITY --account "$acc_id" \
      --body 'Hola {{1}}, tu cuota de {{2}} vence mañana.')
echo "$tpl"; tpl_id=$(echo "$tpl" | field '["id"]')
for _ in $(seq 1 40); do
  st=$("$pregon" template show "$tpl_id" | field '["status"]')
  [ "$st" = approved ] && break
  sleep 0.5
done
echo "template status: $st"

say "A campaign, awaiting its spreadsheet"
cmp=$("$pregon" campaign create --name "Cobranza noviembre" --account "$acc_id" --template "$tpl_id" \
      --department cobranza --metadata Segmento:text --metadata "Cliente VIP:yes_no" --consent-confirmed)
echo "$cmp" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({k: d[k] for k in ("id","name","status","channel","department","metadata")}, indent=2, ensure_ascii=False))'
cmp_id=$(echo "$cmp" | field '["id"]')

say "Upload whatsapp_ok.xlsx (through an upload URL signed for its size) → the ingest function validates it"
"$pregon" campaign upload "$cmp_id" "$fixtures/whatsapp_ok.xlsx" --wait \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print("status:", d["status"], "| format:", d["format"], "| counts:", json.dumps(d["counts"]))'

say "A second campaign, and a spreadsheet with mistakes"
cmp2=$("$pregon" campaign create --name "Cobranza con errores" --account "$acc_id" --template "$tpl_id" --consent-confirmed | field '["id"]')
"$pregon" campaign upload "$cmp2" "$fixtures/with_errors.csv" --wait \
  | python3 -c '
import json,sys
d=json.load(sys.stdin)
print("status:", d["status"], "| counts:", json.dumps(d["counts"]))
for p in d["problems"]:
    print("  row %s, column %s: %s — %s" % (p["row"], p["column"], p["code"], p["message"]))
print("full report:", d["report_url"][:80] + "…")'

say "The same file checked offline, before uploading"
"$pregon" validate "$fixtures/with_errors.csv" --params 2 --default-country CL || true

say "Campaigns, newest first"
"$pregon" campaign list | python3 -c 'import json,sys; [print("  %s  %-22s %s" % (c["id"], c["name"], c["status"])) for c in json.load(sys.stdin)["items"]]'

say "Send a campaign of 300 recipients at the account's 50 messages/s, two of them on the do-not-contact list; each ticket waits 2 hours for a reply"
big="$(mktemp -d)/cobranza_300.csv"
python3 -c '
print("phone,nombre,monto")
for i in range(300):
    print("+5696210%04d,Cliente %d,$%d.000" % (i, i, 10 + i % 90))' > "$big"
cmp3=$("$pregon" campaign create --name "Cobranza masiva" --account "$acc_id" --template "$tpl_id" \
       --department cobranza --wait-for-reply-hours 2 --report-email supervisora@empresa.example \
       --consent-confirmed | field '["id"]')
"$pregon" campaign upload "$cmp3" "$big" --wait | python3 -c 'import json,sys; d=json.load(sys.stdin); print("status:", d["status"], "| valid rows:", d["counts"]["valid_rows"])'
"$pregon" dnc add +56962100007 +56962100042 > /dev/null
"$pregon" campaign send "$cmp3" | python3 -c 'import json,sys; print("status:", json.load(sys.stdin)["status"])'
"$pregon" campaign watch "$cmp3"
"$pregon" campaign show "$cmp3" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("status:", d["status"], "| progress:", json.dumps(d["progress"]))'
"$pregon" campaign messages "$cmp3" --status blocked | python3 -c 'import json,sys; [print("  blocked:", m["phone"]) for m in json.load(sys.stdin)["items"]]'
echo "the simulator's count of what it accepted:"
curl -s "$sim/_sim/stats" | python3 -c 'import json,sys; d=json.load(sys.stdin); r=d["accepted_by_recipient"]; print("  accepted:", d["accepted"], "| throttled:", d["throttled"], "| recipients sent more than once:", sum(1 for v in r.values() if v > 1), "| busiest second:", d["max_accepted_in_any_second"])'

say "Delivery and read statuses, as the provider called them back (signed) to the webhook"
sleep 3
"$pregon" campaign messages "$cmp3" --limit 500 | python3 -c '
import json,sys,collections
d=json.load(sys.stdin); c=collections.Counter(m["status"] for m in d["items"])
print("  first 500 messages by status:", dict(sorted(c.items())))'

say "Customers answer (the simulator plays their WhatsApp messages to the webhook, signed as Meta signs)"
pmid() { "$pregon" campaign messages "$cmp3" --limit 500 | python3 -c "import json,sys; print([m['provider_message_id'] for m in json.load(sys.stdin)['items'] if m['phone']=='$1'][0])"; }
inbound() { curl -s -X POST "$sim/_sim/inbound" -H 'content-type: application/json' -d "$1" | field '["status"]'; }
echo "  +56962100001 answers the message: webhook $(inbound "{\"provider\":\"meta\",\"sender\":\"15550001111\",\"from\":\"+56962100001\",\"text\":\"Hola, ya pagué ayer\",\"reply_to\":\"$(pmid +56962100001)\"}")"
echo "  +56962100002 writes BAJA:           webhook $(inbound '{"provider":"meta","sender":"15550001111","from":"+56962100002","text":"BAJA"}')"
echo "  +56962100003 taps a button:         webhook $(inbound '{"provider":"meta","sender":"15550001111","from":"+56962100003","button":{"text":"Pagaré mañana","payload":"PAY_TOMORROW"}}')"
echo "  +56968887777 (never contacted):     webhook $(inbound '{"provider":"meta","sender":"15550001111","from":"+56968887777","text":"Hola, ¿quién es?"}')"
sleep 1
tickets() { "$pregon" ticket list "$@" --limit 500 | python3 -c '
import json,sys,collections
items=json.load(sys.stdin)["items"]
c=collections.Counter((k["status"], k.get("close_reason") or "-") for k in items)
print("  tickets:", ", ".join("%s/%s: %d" % (s, r, n) for (s, r), n in sorted(c.items())))'; }
tickets --campaign "$cmp3"
first=$("$pregon" ticket list --campaign "$cmp3" --limit 500 | python3 -c 'import json,sys; print([k["id"] for k in json.load(sys.stdin)["items"] if k["phone"]=="+56962100001"][0])')
"$pregon" ticket show "$first" | python3 -c '
import json,sys
d=json.load(sys.stdin)
print("  %s  %s  %s  deadline %s" % (d["id"], d["phone"], d["status"], d["deadline"]))
for e in d["conversation"]: print("    %-3s %s" % (e["direction"], e.get("text")))'
echo "  do-not-contact now holds +56962100002: $("$pregon" dnc list | python3 -c 'import json,sys; print(any(e["phone"]=="+56962100002" for e in json.load(sys.stdin)["items"]))')"

say "An agent takes the replied ticket and answers inside WhatsApp's 24-hour window"
"$pregon" ticket attend "$first" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("  attended_at:", d["attended_at"])'
"$pregon" ticket reply "$first" "Gracias, ya lo vemos reflejado" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("  reply message:", d["message_id"], d["status"])'
quiet=$("$pregon" ticket list --campaign "$cmp3" --status open --limit 500 | python3 -c 'import json,sys; print([k["id"] for k in json.load(sys.stdin)["items"] if k["replied_at"] is None][0])')
{ "$pregon" ticket reply "$quiet" "¿Sigue ahí?" 2>/dev/null || true; } \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print("  to a customer who never wrote: %s — %s" % (d["error"], d["message"]))'

say "The scheduled closer, played 2 hours ahead (its clock is the schedule event's time): unanswered tickets close as no_reply"
later=$(python3 -c 'import datetime; print((datetime.datetime.now(datetime.timezone.utc)+datetime.timedelta(hours=2, minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
api=$(python3 -c "import json; print(json.load(open('$PREGON_STACK_FILE'))['api_url'])")
curl -s -X POST "$api/_local/schedules/CloserFunction" -H 'content-type: application/json' -d "{\"time\":\"$later\"}" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print("  closer at %s: %d closed no_reply, %d idle" % (d["now"], d["no_reply"], d["idle"]))'
tickets --campaign "$cmp3"

say "The campaign's KPIs (served from counters kept as statuses changed)"
"$pregon" campaign stats "$cmp3"

say "Its results, built by the results function (CSV; --format xlsx for Excel)"
out="$(mktemp -d)/cobranza_masiva.csv"
"$pregon" campaign results "$cmp3" -o "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("  %s: %s rows, %s bytes" % (d["file"], d["rows"], d["bytes"]))'
head -3 "$out" | cut -c1-160 | sed 's/^/  /'

say "A day later the two replied tickets have gone idle; their close is the campaign's last, so the same closer run asks for the report email"
day=$(python3 -c 'import datetime; print((datetime.datetime.now(datetime.timezone.utc)+datetime.timedelta(hours=26)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
curl -s -X POST "$api/_local/schedules/CloserFunction" -H 'content-type: application/json' -d "{\"time\":\"$day\"}" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print("  closer at %s: %d closed idle, %d report email(s) asked" % (d["now"], d["idle"], d["reports"]))'
tickets --campaign "$cmp3"

say "The report email (SES v2): the stats and the results file, attached"
for _ in $(seq 1 60); do
  st=$("$pregon" campaign show "$cmp3" | field '.get("report_email_status")')
  [ "$st" = "sent" ] || [ "$st" = "failed" ] && break
  sleep 0.5
done
echo "  report_email_status: $st"
ses=$(python3 -c "import json; print(json.load(open('$PREGON_STACK_FILE'))['endpoints']['ses'])")
curl -s "$ses/moto-api/data.json" | python3 -c '
import json,sys,email
msgs=[m for m in json.load(sys.stdin)["ses"]["RawMessage"] if "supervisora@empresa.example" in m["destinations"]]
m=email.message_from_string(msgs[-1]["raw_data"])
print("  to %s from %s: %s" % (m["To"], m["From"], str(email.header.make_header(email.header.decode_header(m["Subject"])))))
for part in m.walk():
    if part.get_filename(): print("  attached: %s (%d bytes)" % (part.get_filename(), len(part.get_payload(decode=True))))'

say "The web console: open it and paste the tenant's key"
console=$(python3 -c "import json; print(json.load(open('$PREGON_STACK_FILE'))['console_url'])")
echo "  console: $console"
echo "  key:     $(echo "$ten" | field '["key"]')"
if [ -t 0 ] && [ -z "${CI:-}" ]; then
  echo "  The stack stays up for the console until you press Enter (or Ctrl-C)."
  read -r _ || true
fi
