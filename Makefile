# Pregón — the two commands a newcomer needs: `make demo` and `make test`.
# Everything they need (moto, cfn-lint, DynamoDB Local) is installed into .cache/
# on first use by infra/local/setup.sh.

CARGO ?= cargo
VENV := .cache/venv

.PHONY: console demo test unit integration lint-template lint-openapi lint setup build up bench bench-ingest bench-send bench-requests bench-dispatch bench-fairness bench-webhook bench-webhook-flood bench-crash bench-closer bench-results test-crash fuzz package deploy-console clean

setup:
	@bash infra/local/setup.sh

build:
	$(CARGO) build --workspace --locked

## The web console (console/): its npm packages and its build into console/dist.
console: setup
	cd console && node build.mjs

## The local stack in the foreground (Ctrl-C stops it); `pregon` commands use it.
up: setup build
	./target/debug/pregon-local up

## A tenant creates a campaign, uploads spreadsheets, gets `loaded` and `invalid`.
demo: setup build
	PREGON_API_PORT=0 bash infra/local/with-stack.sh bash infra/local/demo.sh

## Every test: cfn-lint and the OpenAPI validator, then every test of the workspace (unit
## and integration) in one cargo run on the local stack, so dependencies are compiled once,
## as `build` did.
test: setup build lint-template lint-openapi integration
	$(CARGO) fmt --all --check

## Unit tests only (no servers).
unit:
	$(CARGO) test --workspace --locked --exclude pregon-tests

lint-template: setup
	$(VENV)/bin/cfn-lint template.yaml

## The API's OpenAPI document (served at GET /v1/openapi.json) against the OpenAPI 3.1
## schema; tests/openapi.rs of the api crate keeps it equal to the code.
lint-openapi: setup
	$(VENV)/bin/openapi-spec-validator functions/api/openapi.json

## Clippy with warnings as errors, and formatting.
lint:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) fmt --all --check

## (A provider is given 15 s, not 120, to report a message whose send answer was lost.)
integration: setup build
	PREGON_PARAMETER_UnreportedWaitSeconds=15 bash infra/local/with-stack.sh $(CARGO) test --workspace --locked

## Benchmark (not a test): validation speed and memory against bare csv/calamine reads.
bench:
	$(CARGO) build --release --locked -p pregon-cli -p pregon-bench
	./target/release/pregon-bench

clean:
	rm -rf .cache/local target

## Not a test: every function of template.yaml built for arm64 as a deploy builds it
## (`sam build --beta-features`, cargo-lambda + zig, no Docker) into .aws-sam/, then a
## table of each function's binary and bootstrap size, and the build time.
package:
	@bash infra/package/build.sh

## After `sam deploy`: the built console into the stack's bucket, behind its CloudFront.
deploy-console: console
	@bash infra/deploy/console.sh $(STACK)

## Benchmark: a 1,000,000-row upload through the ingest function on the local stack.
bench-ingest: setup
	$(CARGO) build --release --locked --workspace
	PREGON_PROFILE=release bash infra/local/with-stack.sh ./target/release/pregon-bench ingest

## Benchmark: a campaign sent through the simulator (ROWS at RATE/s, LATENCY ms at the provider).
ROWS ?= 20000
RATE ?= 200
LATENCY ?= 100
bench-send: setup build
	PREGON_API_PORT=0 bash infra/local/with-stack.sh ./target/debug/pregon-bench send $(ROWS) $(RATE) $(LATENCY)

## Benchmark: AWS requests and DynamoDB write units per 1,000 recipients, counted by
## proxies in front of the stack's AWS servers (5,000 recipients at 500/s by default).
bench-requests: setup build
	PREGON_COUNT_AWS=1 PREGON_API_PORT=0 bash infra/local/with-stack.sh ./target/debug/pregon-bench send $(or $(REQ_ROWS),5000) $(or $(REQ_RATE),500) 50

## Benchmark: fairness. Tenant A's 20,000-row campaign crawls at 2 msg/s while tenants B
## and C send 200 single messages each, one a second: their latency from the API to the
## provider (p50/p95/max). FAIR_ROWS, FAIR_MESSAGES change the sizes.
bench-fairness: setup build
	PREGON_API_PORT=0 bash infra/local/with-stack.sh ./target/debug/pregon-bench fairness $(or $(FAIR_ROWS),20000) $(or $(FAIR_MESSAGES),200)

## Benchmark: the dispatch function alone on a 100,000-recipient campaign (senders idle).
bench-dispatch: setup build
	PREGON_PARAMETER_DispatchSliceSeconds=1000000 PREGON_API_PORT=0 bash infra/local/with-stack.sh ./target/debug/pregon-bench dispatch $(or $(DISPATCH_ROWS),100000)

## Schemathesis (pinned, .cache/fuzz-venv) against GET /v1/openapi.json on a fresh local
## stack: examples, coverage, fuzzing and stateful phases, every check (tests/tests/fuzz.rs,
## also part of `test`); PREGON_FUZZ_SEED=n tries another seed than 19.
fuzz: setup build
	bash infra/local/with-stack.sh $(CARGO) test --locked -p pregon-tests --test fuzz -- --test-threads 1 --nocapture

## Benchmark (issue 19): CLOSER_TICKETS (default 200,000) unanswered tickets due in one
## hour, closed by closer runs played after their deadline: each run, the total time and
## the closer's peak memory.
bench-closer: setup build
	PREGON_API_PORT=0 bash infra/local/with-stack.sh ./target/debug/pregon-bench closer $(or $(CLOSER_TICKETS),200000)

## Benchmark (issue 18's fault run): a 3,000-recipient Twilio campaign at 150 msg/s whose
## sender processes are all killed six times, 3 s apart: reached twice (0), unknown
## outcomes and how many of those Twilio had taken. Twilio gets 15 s (not 120) to report
## a lost answer, as in `make test`.
bench-crash: setup build
	PREGON_PARAMETER_UnreportedWaitSeconds=15 PREGON_API_PORT=0 bash infra/local/with-stack.sh ./target/debug/pregon-bench crash $(or $(CRASH_ROWS),3000) $(or $(CRASH_RATE),150) $(or $(CRASH_KILLS),6)

## Benchmark (issue 19): unsigned requests flood one account's webhook URL for
## FLOOD_SECONDS while another account's campaign gets the simulator's signed callbacks
## (about 3 × FLOOD_LEGIT_RATE/s): the flood's rate, the share of legitimate callbacks
## answered 2xx and applied.
bench-webhook-flood: setup build
	PREGON_API_PORT=0 bash infra/local/with-stack.sh ./target/debug/pregon-bench webhook-flood $(or $(FLOOD_SECONDS),20) $(or $(FLOOD_CONCURRENCY),32) $(or $(FLOOD_LEGIT_RATE),70)

## Benchmark: signed status callbacks through the webhook beside its own conditional
## write alone and a minimal UpdateItem, and a 10,000-message campaign's time from
## completed to all read (release build, like bench-ingest).
bench-webhook: setup
	$(CARGO) build --release --locked --workspace
	PREGON_PROFILE=release PREGON_API_PORT=0 bash infra/local/with-stack.sh $(or $(CARGO_TARGET_DIR),target)/release/pregon-bench webhook $(or $(HOOK_MESSAGES),2000) $(or $(HOOK_CONCURRENCY),16) $(or $(HOOK_CAMPAIGN),10000)

## Benchmark: an ended campaign's results downloads (CSV, then XLSX) through the API —
## time to ready, file size, the results function's peak RSS — and its stats endpoint
## beside a 10-message campaign's (RESULTS_ROWS messages, default 1,000,000; release
## build, like bench-ingest; cargo's CARGO_TARGET_DIR is honoured).
bench-results: setup
	$(CARGO) build --release --locked --workspace
	PREGON_PROFILE=release bash infra/local/with-stack.sh $(or $(CARGO_TARGET_DIR),target)/release/pregon-bench results $(or $(RESULTS_ROWS),1000000)

## The fault test alone (it is in `make test` too): every Twilio sender process killed mid-campaign.
test-crash: setup build
	PREGON_PARAMETER_UnreportedWaitSeconds=15 bash infra/local/with-stack.sh $(CARGO) test --locked -p pregon-tests --test resilience -- senders_killed
