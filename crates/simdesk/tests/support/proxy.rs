//! A TCP proxy between simdesk and its database that a test cuts and restores, as a network would.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards every connection to `upstream` until cut.
pub struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    /// Bumped by every cut: each forwarding task ends when it changes.
    cuts: watch::Sender<u64>,
    /// Connections forwarded so far, and those refused while cut.
    forwarded: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cuts.send_modify(|n| *n += 1);
    }
}

impl Proxy {
    /// Listens on 127.0.0.1 (a free port) and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let forwarded = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let upstream = upstream.to_string();
        let accept = tokio::spawn({
            let (open, cuts, forwarded, refused) = (
                open.clone(),
                cuts.clone(),
                forwarded.clone(),
                refused.clone(),
            );
            async move {
                loop {
                    let Ok((mut client, _)) = listener.accept().await else {
                        continue;
                    };
                    if !open.load(Ordering::SeqCst) {
                        // Cut: the connection is closed at once, as an unreachable server's is.
                        refused.fetch_add(1, Ordering::Relaxed);
                        let _ = client.shutdown().await;
                        continue;
                    }
                    forwarded.fetch_add(1, Ordering::Relaxed);
                    let mut cut = cuts.subscribe();
                    let (upstream, open) = (upstream.clone(), open.clone());
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(&upstream).await else {
                            return;
                        };
                        if !open.load(Ordering::SeqCst) {
                            return;
                        }
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.changed() => {}
                        }
                        // Both sockets drop here: each side sees its connection end.
                    });
                }
            }
        });
        Proxy {
            addr,
            open,
            cuts,
            forwarded,
            refused,
            accept,
        }
    }

    /// Where to connect instead of the database.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` (`postgres://user@host:port/db?…`) pointed at the proxy instead.
    pub fn url_for(&self, url: &str) -> String {
        let scheme_end = url.find("://").map(|i| i + 3).expect("a URL");
        let rest = &url[scheme_end..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let user = authority
            .rfind('@')
            .map(|at| &authority[..=at])
            .unwrap_or("");
        format!(
            "{}{user}{}{}",
            &url[..scheme_end],
            self.addr,
            &rest[authority_end..]
        )
    }

    /// Closes every open connection and refuses new ones until `restore`.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Accepts and forwards connections again.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }

    /// Connections refused while cut.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Connections forwarded.
    pub fn forwarded(&self) -> u64 {
        self.forwarded.load(Ordering::Relaxed)
    }
}

/// `host:port` of a `postgres://…` URL (port 5432 when it names none).
pub fn upstream_of(url: &str) -> String {
    let rest = &url[url.find("://").map(|i| i + 3).expect("a URL")..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host = authority
        .rfind('@')
        .map(|at| &authority[at + 1..])
        .unwrap_or(authority);
    if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:5432")
    }
}
