//! `pregon-sim`: the provider simulator on 127.0.0.1 (see README.md and
//! /work/shared/providers.md). Parses flags, starts the server, announces
//! the base URL on stdout and in `--ready-file`, serves until Ctrl-C.

use clap::Parser;
use pregon_simulator::{start, Config};

#[derive(Parser)]
#[command(
    name = "pregon-sim",
    about = "Meta, Twilio, Gupshup and an SMS gateway on one local port"
)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Write the base URL here once listening.
    #[arg(long)]
    ready_file: Option<std::path::PathBuf>,
    /// Messages per second per sender unless `POST /_sim/senders` says otherwise.
    #[arg(long, default_value_t = 1000)]
    default_rate: u32,
    /// Milliseconds a submitted template stays PENDING before APPROVED.
    #[arg(long, default_value_t = 1000)]
    approve_after_ms: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let running = start(Config {
        port: args.port,
        default_rate: args.default_rate,
        approve_after_ms: args.approve_after_ms,
    })
    .await?;
    println!("pregon-sim listening on {}", running.base_url);
    if let Some(path) = &args.ready_file {
        std::fs::write(path, &running.base_url)?;
    }
    tokio::signal::ctrl_c().await?;
    running.stop().await
}
