//! The API against an outside tester (issue 19 item 14): Schemathesis (pinned in
//! `infra/local/requirements-fuzz.txt`, installed by `make setup` into
//! `.cache/fuzz-venv`) reads `GET /v1/openapi.json` from the local stack and sends what
//! it generates from it — the documented examples, the coverage phase's edge values
//! (lengths, patterns and enums at and past their bounds), random fuzzing, and the
//! stateful phase that follows the document's `links` from the operations that create
//! ids (accounts, templates, campaigns, messages, do-not-contact entries) to those
//! that use them. Every answer is checked as the document says: no 5xx, only
//! documented status codes, content types and headers, bodies matching their schema,
//! schema-invalid input refused, schema-valid input accepted, a deleted resource gone,
//! and no route answering without its key. A tenant key runs the tenant routes, the
//! operator key the admin routes. Bounded: a fixed seed, a cap of examples per
//! operation, and a time limit on the whole run.
//!
//! Part of `make test`; `make fuzz` runs it alone on a fresh local stack, and
//! `PREGON_FUZZ_SEED=n make fuzz` tries another seed. `tests/fuzz/schemathesis.toml`
//! names the operations whose schema-valid input a rule the document cannot state in
//! a schema may refuse (400), each with the rule.

use pregon_tests::Stack;
use std::path::PathBuf;
use std::time::Duration;

/// Runs Schemathesis with `args` after the common ones; panics with its report when it
/// finds a failure.
async fn schemathesis(stack: &Stack, key: &str, args: &[&str]) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = root.join(".cache/fuzz-venv/bin/schemathesis");
    assert!(
        bin.exists(),
        "{} is missing: `make setup` installs it",
        bin.display()
    );
    let api = stack.api("");
    let report = tempfile::tempdir().unwrap();
    let fuzz = root.join("tests/fuzz");
    // A fixed seed, so a run is repeatable; `PREGON_FUZZ_SEED` tries another.
    let seed = std::env::var("PREGON_FUZZ_SEED").unwrap_or_else(|_| "19".into());
    let mut cmd = tokio::process::Command::new(&bin);
    cmd.arg("--config-file")
        .arg(fuzz.join("schemathesis.toml"))
        .arg("run")
        .arg(format!("{api}/v1/openapi.json"))
        .args(["--url", &api])
        .args(["-H", &format!("Authorization: Bearer {key}")])
        .args(["--checks", "all"])
        .args(["--seed", &seed])
        .args(["--workers", "2"])
        .args(["--request-timeout", "30"])
        .args(["--generation-database", "none"])
        .args(["--report-dir"])
        .arg(report.path())
        .args(["--no-color", "--output-truncate", "false"])
        .args(args)
        // Its own settings only (tests/fuzz/schemathesis.toml: the operations whose
        // schema-valid input may be refused by a rule the document cannot state),
        // and its hooks (tests/fuzz/hooks.py: a CPython 3.11.7 workaround).
        .current_dir(report.path())
        .env("SCHEMATHESIS_HOOKS", fuzz.join("hooks.py"))
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(900), cmd.output())
        .await
        .expect("schemathesis finished within 15 minutes")
        .expect("schemathesis ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The summary, always: what was covered.
    let summary: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.contains("SUMMARY"))
        .collect();
    println!("{}", summary.join("\n"));
    assert!(
        out.status.success(),
        "Schemathesis found failures ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

#[tokio::test]
async fn every_generated_request_to_the_tenant_api_is_answered_as_the_document_says() {
    let stack = Stack::connect().await;
    let t = stack.tenant().await;
    schemathesis(
        &stack,
        &t.key,
        &[
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            "15",
            "--exclude-path-regex",
            "^/v1/admin/",
        ],
    )
    .await;
}

#[tokio::test]
async fn every_generated_request_to_the_operator_routes_is_answered_as_the_document_says() {
    let stack = Stack::connect().await;
    let key = stack.info["admin_key"]
        .as_str()
        .expect("the stack's operator key")
        .to_string();
    schemathesis(
        &stack,
        &key,
        &[
            // No stateful phase: the operator routes create no ids to follow.
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "25",
            "--include-path-regex",
            "^/v1/admin/",
        ],
    )
    .await;
}
