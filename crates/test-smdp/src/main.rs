//! `simdesk-test-smdp`: writes test certificates, or serves ES2+ as a test SM-DP+.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use simdesk_test_smdp::{certs, server, store};

#[derive(Parser)]
#[command(
    version,
    about = "A test SM-DP+ speaking GSMA SGP.22 ES2+ (not for production)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a test CA, the SM-DP+'s certificate and the operator's client certificate into DIR.
    Certs {
        /// Directory to write the PEM files into (created if missing).
        dir: PathBuf,
    },
    /// Serve ES2+ and the /test control API over HTTPS, requiring a client certificate signed
    /// by the test CA.
    Serve(Box<ServeArgs>),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free one (the chosen address is printed).
    #[arg(long)]
    listen: SocketAddr,
    /// The directory `certs` wrote.
    #[arg(long)]
    certs: PathBuf,
    /// The profiles: a JSON list of {"iccid", "profileType"}, or lines ICCID,PROFILE_TYPE.
    #[arg(long)]
    profiles: PathBuf,
    /// The operator's endpoint for HandleDownloadProgressInfo; a URL without a path gets
    /// /gsma/rsp2/es2plus/handleDownloadProgressInfo. Without it nothing is sent.
    #[arg(long)]
    notify_url: Option<String>,
    /// Sent as `Authorization: Bearer TOKEN` with every notification.
    #[arg(long, env = "SIMDESK_TEST_SMDP_NOTIFY_TOKEN", hide_env_values = true)]
    notify_token: Option<String>,
    /// A CA (PEM) to trust for an https notification URL, besides the test CA.
    #[arg(long)]
    notify_ca: Vec<PathBuf>,
    /// The SM-DP+ address ConfirmOrder returns (the middle of the activation code).
    #[arg(long, default_value = "rsp.simdesk-test.example")]
    smdp_address: String,
    /// The functionRequesterIdentifier of the SM-DP+'s notifications.
    #[arg(long, default_value = "simdesk-test-smdp")]
    requester_id: String,
    /// Keep profiles and answered calls in this JSON file across restarts.
    #[arg(long)]
    state: Option<PathBuf>,
    /// First wait before a notification is sent again; it doubles each time.
    #[arg(long, default_value_t = 200)]
    notify_backoff_ms: u64,
    /// Longest wait between two tries of a notification.
    #[arg(long, default_value_t = 30_000)]
    notify_max_backoff_ms: u64,
    /// How long to wait for the operator to answer a notification.
    #[arg(long, default_value_t = 10_000)]
    notify_timeout_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: demo and test scripts keep this log in files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Certs { dir } => {
            let paths = certs::write(&dir)?;
            println!("test certificates written to {}", paths.dir.display());
            Ok(())
        }
        Command::Serve(args) => {
            let ServeArgs {
                listen,
                certs,
                profiles,
                notify_url,
                notify_token,
                notify_ca,
                smdp_address,
                requester_id,
                state,
                notify_backoff_ms,
                notify_max_backoff_ms,
                notify_timeout_ms,
            } = *args;
            let profiles = store::load_profiles(&profiles)?;
            let mut options = server::ServeOptions::new(listen, certs, profiles);
            options.notify_url = notify_url;
            options.notify_token = notify_token;
            options.notify_ca = notify_ca;
            options.smdp_address = smdp_address;
            options.requester_id = requester_id;
            options.state_file = state;
            options.notify_first_backoff = Duration::from_millis(notify_backoff_ms.max(1));
            options.notify_max_backoff = Duration::from_millis(notify_max_backoff_ms.max(1));
            options.notify_timeout = Duration::from_millis(notify_timeout_ms.max(1));
            let mut running = server::start(options)
                .await
                .context("starting the server")?;
            // On stdout, alone on its line, so a script that asked for port 0 can read the port.
            println!("listening on https://{}", running.addr);
            tokio::select! {
                _ = running.wait() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            Ok(())
        }
    }
}
