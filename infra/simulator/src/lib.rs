//! The provider simulator: one HTTP server on 127.0.0.1 that speaks Meta's
//! WhatsApp Cloud API, Twilio's Messaging and Content APIs, Gupshup's
//! messaging and partner APIs and a Dinstar-style SMS gateway under their real
//! paths, as /work/shared/providers.md documents them, plus `/_sim/…` control
//! endpoints (rules, stats, messages, reset, senders, webhooks, inbound
//! messages, templates) that let a test prove "exactly once" and "never over
//! the rate" from outside, and play a customer's reply to our webhooks. It imports no Pregón crate: both sides meet only in the
//! documented payloads. Each provider has its folder under `providers/`;
//! what they share (the state and verdicts in `sim`, status callbacks,
//! inbound messages, the template registry, rules and rates) is here once.
//! This file only assembles the rooms.

pub mod callbacks;
pub mod conn;
pub mod control;
pub mod delivery;
pub mod ids;
pub mod inbound;
pub mod message;
pub mod phone;
pub mod providers;
pub mod rate;
pub mod rules;
pub mod signing;
pub mod sim;
pub mod templates;
pub mod wire;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::net::TcpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use sim::Sim;

/// The providers the simulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Meta,
    Twilio,
    Gupshup,
    Gateway,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Messages per second per sender unless `/_sim/senders` says otherwise.
    pub default_rate: u32,
    /// How long a submitted template stays `PENDING` without a rule.
    pub approve_after_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 0,
            default_rate: 1000,
            approve_after_ms: 1000,
        }
    }
}

/// Every route the simulator answers.
pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .merge(providers::routes())
        .merge(control::routes())
        .with_state(sim)
}

/// A running simulator; `stop` (or dropping it) ends it.
pub struct Running {
    pub addr: SocketAddr,
    pub base_url: String,
    pub sim: Arc<Sim>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting and waits for the server task to end.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.await.unwrap_or(Ok(()))
    }
}

/// Binds 127.0.0.1 (never another interface) and serves in the background.
pub async fn start(config: Config) -> std::io::Result<Running> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, config.port)))?;
    // Bursts of hundreds of concurrent connections are the point; the default
    // backlog (128) would make some wait for SYN retries.
    let listener = socket.listen(1024)?;
    let addr = listener.local_addr()?;
    let sim = Sim::new(config);
    let app = router(sim.clone()).into_make_service_with_connect_info::<conn::DropHandle>();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(conn::SimListener(listener), app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    Ok(Running {
        addr,
        base_url: format!("http://{addr}"),
        sim,
        shutdown: Some(tx),
        task,
    })
}

/// Milliseconds since the unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// RFC 3339 text of a unix time in milliseconds.
pub fn rfc3339(ms: u64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}
