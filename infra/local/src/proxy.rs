//! The one loopback forwarder under the counting proxies (`count.rs`) and the DynamoDB
//! fault switch (`faults.rs`): a request passed on unchanged to the server behind, and
//! its answer passed back.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// Serves `app` on a free 127.0.0.1 port in the background; its URL.
pub async fn serve(app: axum::Router) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

/// A client for forwarding: many idle connections kept, as many callers share it.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
}

/// The answer of the server behind.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Passes the request on to `target` (its path and query kept, its headers but `host`
/// and `content-length`); a server that cannot be reached is a 502.
pub async fn forward(
    http: &reqwest::Client,
    target: &str,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Answer, Response> {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut req = http.request(method, format!("{target}{path}")).body(body);
    for (k, v) in headers.iter() {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    let answer = req
        .send()
        .await
        .map_err(|e| (StatusCode::BAD_GATEWAY, e.to_string()).into_response())?;
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = answer.headers().clone();
    let body = answer.bytes().await.unwrap_or_default();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut out = Response::builder().status(self.status);
        for (k, v) in self.headers.iter() {
            if k != "content-length" && k != "transfer-encoding" && k != "connection" {
                out = out.header(k, v);
            }
        }
        out.body(axum::body::Body::from(self.body))
            .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
    }
}
