//! Test harness: the simulator in-process on 127.0.0.1:0, a reqwest client,
//! a callback receiver, and a time bound on every test.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use pregon_simulator::{start, Config, Running};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

/// Runs a test body, failing it if it takes longer than 30 s.
pub async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), test)
        .await
        .expect("the test did not finish within 30 s")
}

pub struct TestSim {
    pub base: String,
    pub http: reqwest::Client,
    running: Option<Running>,
}

pub async fn sim() -> TestSim {
    sim_with(Config::default()).await
}

pub async fn sim_with(config: Config) -> TestSim {
    let running = start(config).await.expect("the simulator starts");
    assert!(running.addr.ip().is_loopback());
    TestSim {
        base: running.base_url.clone(),
        http: client(),
        running: Some(running),
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

impl TestSim {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.http.post(self.url(path))
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(self.url(path))
    }

    /// Posts a control request and returns its JSON, asserting success.
    pub async fn control(&self, path: &str, body: Value) -> Value {
        let response = self.post(path).json(&body).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    pub async fn rule(&self, rule: Value) -> Value {
        self.control("/_sim/rules", rule).await
    }

    pub async fn json(&self, path: &str) -> Value {
        self.get(path).send().await.unwrap().json().await.unwrap()
    }

    pub async fn stats(&self) -> Value {
        self.json("/_sim/stats").await
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.unwrap();
        }
    }
}

/// Status and JSON body (Null when the body is not JSON).
pub async fn answer(request: RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("an HTTP response");
    let status = response.status();
    let bytes = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Sleeps until just after the next unix second begins, so a burst lands
/// in one calendar second.
pub async fn at_start_of_a_second() {
    let ms = pregon_simulator::now_ms() % 1000;
    tokio::time::sleep(Duration::from_millis(1000 - ms + 5)).await;
}

/// Fires `n` requests at once and returns their statuses and bodies.
pub async fn burst(n: usize, make: impl Fn(usize) -> RequestBuilder) -> Vec<(StatusCode, Value)> {
    let requests: Vec<_> = (0..n).map(|i| answer(make(i))).collect();
    futures::future::join_all(requests).await
}

/// A request a callback receiver got.
#[derive(Clone, Debug)]
pub struct Hit {
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).unwrap().to_str().unwrap()
    }
}

/// An HTTP server on 127.0.0.1 that records every request and answers 200.
pub struct Receiver {
    pub base: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

pub async fn receiver() -> Receiver {
    let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
    let recorded = hits.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let recorded = recorded.clone();
        async move {
            recorded.lock().unwrap().push(Hit { uri, headers, body });
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { base, hits }
}

impl Receiver {
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Waits (up to 5 s) until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Hit> {
        for _ in 0..100 {
            let hits = self.hits();
            if hits.len() >= n {
                return hits;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} callbacks, got {}", self.hits().len());
    }
}
