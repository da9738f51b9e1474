//! `simdesk serve`: the HTTP server, with due work beside it, until Ctrl-C or SIGTERM.

use super::Cli;
use crate::app::{self, App, Shutdown};
use std::net::SocketAddr;

/// Serves on `--listen`, else the `listen` setting. The server keeps the real time: `--now`
/// moves the time of one command, not of a running server.
pub(super) async fn run(cli: &Cli, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let app = App::build(cli.settings()?).await?;
    let addr = listen.unwrap_or(app.settings.listen);
    serve(app, addr, |_| Ok(())).await
}

/// Binds `addr`, says where simdesk serves (and whatever `describe` adds for that address), then
/// runs the app until stopped.
pub(super) async fn serve(
    app: App,
    addr: SocketAddr,
    describe: impl FnOnce(SocketAddr) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let listener = app::bind(addr).await?;
    let local = listener.local_addr()?;
    out!("simdesk is serving on http://{local}");
    describe(local)?;
    out!("press Ctrl-C to stop");
    app.run_on(listener, Shutdown::on_signals()).await
}
