#!/usr/bin/env bash
# The demo: run by `make demo` against a fresh local stack (PREGON_STACK_FILE set).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
pregon="$root/target/debug/pregon"
fixtures="$root/shared/tests/data"
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "A provider account (credentials go to Secrets Manager, never shown again)"
acc=$("$pregon" account create --provider meta --channel whatsapp --sender 15550001111 \
      --default-country CL --rate 80 --credentials '{"access_token":"demo-token"}')
echo "$acc"; acc_id=$(echo "$acc" | field '["id"]')

say "A WhatsApp template with two parameters"
tpl=$("$pregon" template create --name aviso_cobranza --language es --category UTILITY \
      --body 'Hola {{1}}, tu cuota de {{2}} vence mañana.')
echo "$tpl"; tpl_id=$(echo "$tpl" | field '["id"]')

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
