//! The pieces of a request the command groups share: the optional fields of a JSON body,
//! a percent-encoded path segment, the query string of the parameters that are set, a
//! local file read for upload, and the wait for a resource to reach a state.

use crate::client::{Client, Failure};
use reqwest::Method;
use serde_json::{Map, Value};
use std::path::Path;
use std::time::Duration;

/// Sets `k` in the body only when the flag was given (an absent flag is no field at all).
pub(super) fn put(obj: &mut Map<String, Value>, k: &str, v: Option<impl Into<Value>>) {
    if let Some(v) = v {
        obj.insert(k.into(), v.into());
    }
}

/// One path segment, percent-encoded.
pub(super) fn seg(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `?k=v&…` of the parameters that are set, percent-encoded; empty when none is.
pub(super) fn query(pairs: &[(&str, Option<String>)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in pairs {
        if let Some(v) = v {
            q.append_pair(k, v);
            any = true;
        }
    }
    if any {
        format!("?{}", q.finish())
    } else {
        String::new()
    }
}

/// Downloads `path` into the file `out`; how many bytes were written.
pub(super) async fn download_to(c: &Client, path: &str, out: &Path) -> Result<usize, Failure> {
    let bytes = c.download(path).await?;
    std::fs::write(out, &bytes)
        .map_err(|e| Failure::Io(format!("cannot write {}: {e}", out.display())))?;
    Ok(bytes.len())
}

/// A page size as a query value.
pub(super) fn limit(l: Option<u32>) -> Option<String> {
    l.map(|l| l.to_string())
}

/// The bytes of a local file to upload; an unreadable file is an I/O failure naming it.
pub(super) async fn read_local(file: &Path) -> Result<Vec<u8>, Failure> {
    tokio::fs::read(file)
        .await
        .map_err(|e| Failure::Io(format!("cannot read {}: {e}", file.display())))
}

/// GETs `path` every half second, at most `tries` times, until `done` says the answer
/// is the one waited for, and returns it; `late` is the failure when it never comes.
pub(super) async fn poll(
    c: &Client,
    path: &str,
    tries: u32,
    late: &str,
    done: impl Fn(&Value) -> bool,
) -> Result<Value, Failure> {
    for _ in 0..tries {
        let v = c.call(Method::GET, path, None).await?;
        if done(&v) {
            return Ok(v);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(Failure::Io(late.into()))
}
