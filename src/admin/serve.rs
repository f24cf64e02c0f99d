//! Running the admin router on a socket, shaped like mini-redis's `server::run`: the caller binds
//! (so tests can use port 0 and read the address back) and passes a shutdown future.
//! Owns only the accept loop and each connection's limits ([`ConnLimits`]: a cap on open
//! connections, hyper's header-read timeout, an idle timeout); routes live in `http`.
//!
//! HTTP/1.1 only (the API's clients are curl, the CLI and agent desktops): hyper's HTTP/1 server
//! answers a malformed request with 400 and closes, where the HTTP/1-or-2 sniffing of
//! `axum::serve` waited in silence for more bytes.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::limits::{ConnCap, ConnLimits, Refusal};

/// Default admin address: loopback only, port 8089 (the CLI's default `--engine`).
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8089));

/// Default limits of the admin listener (the engine config's `admin.*` defaults).
pub const DEFAULT_LIMITS: ConnLimits = ConnLimits {
    max_connections: 64,
    header_timeout: Duration::from_secs(5),
    idle_timeout: Duration::from_secs(30),
};

/// The `listener` label of the admin listener's refusals in `/metrics`.
const LISTENER: &str = "admin";

/// Binds the admin listener. A non-loopback address is allowed (the config asked for it) but
/// logged as a warning: the API can change pacing and only a bearer token protects it, over plain
/// HTTP.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "admin API listening beyond loopback, over plain HTTP");
    }
    TcpListener::bind(addr).await
}

/// Serves `router` on `listener` with the default limits until `shutdown` completes (see
/// [`serve_with`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, DEFAULT_LIMITS, shutdown).await
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting, lets requests
/// in progress finish and closes idle connections before returning. A connection past
/// `limits.max_connections` gets 503 and is closed at accept. hyper times each request header from the moment
/// it waits for one (connection opened, previous answer sent): past `header_timeout` the client
/// gets 408 and the connection closes, which also ends silent keep-alive connections. A
/// connection on which no byte moves for `idle_timeout` (a stalled body, an answer not read) is
/// closed. Each is counted in `outdial_listener_refusals_total{listener="admin"}`.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, ?limits, "admin API listening");
    }
    let cap = ConnCap::new(limits.max_connections);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(permit) = cap.try_admit() else {
            crate::admin::metrics::listener_refused(LISTENER, Refusal::Cap);
            // One non-blocking write, so a real client learns why; then close.
            if let Err(e) = stream.try_write(BUSY) {
                tracing::debug!(%peer, error = %e, "cannot send 503");
            }
            tracing::debug!(%peer, "admin connection over the cap: closed");
            continue;
        };
        let router = router.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            serve_conn(stream, router, limits, stop).await;
            drop(permit);
        });
    }
    // Connections finish their request in progress and close; serving ends when all have.
    if stop_tx.send(true).is_err() {
        // No connection holds a receiver: nothing to tell.
    }
    cap.drained().await;
    Ok(())
}

async fn serve_conn(
    stream: TcpStream,
    router: Router,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
        start,
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut conn = builder.serve_connection(io, TowerToHyperService::new(router));
    let mut stopping = false;
    loop {
        let last = Duration::from_millis(activity.load(Ordering::Relaxed));
        let idle_at = start + last + limits.idle_timeout;
        tokio::select! {
            r = &mut conn => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "admin connection ended");
                    if e.is_timeout() {
                        crate::admin::metrics::listener_refused(LISTENER, Refusal::HeaderTimeout);
                        // hyper closes in silence; the client is owed a reason (RFC 9110 15.5.9).
                        let mut io = conn.into_parts().io.into_inner().inner;
                        let answer = tokio::time::timeout(
                            Duration::from_secs(1),
                            io.write_all(REQUEST_TIMEOUT),
                        );
                        if let Ok(Err(e)) = answer.await {
                            tracing::debug!(error = %e, "cannot send 408");
                        }
                    }
                }
                return;
            }
            _ = tokio::time::sleep_until(idle_at) => {
                let now = Duration::from_millis(activity.load(Ordering::Relaxed));
                if now == last {
                    crate::admin::metrics::listener_refused(LISTENER, Refusal::IdleTimeout);
                    return;
                }
            }
            c = stop.changed(), if !stopping => {
                stopping = true;
                if c.is_ok() {
                    Pin::new(&mut conn).graceful_shutdown();
                }
            }
        }
    }
}

/// The answer on a connection over the cap, written before closing it.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\n\
      content-length: 0\r\n\r\n";

/// The answer to a request whose header did not arrive in time.
const REQUEST_TIMEOUT: &[u8] =
    b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

/// A TCP stream that notes, in milliseconds since `start`, when bytes last moved either way.
struct Tracked {
    inner: TcpStream,
    activity: Arc<AtomicU64>,
    start: Instant,
}

impl Tracked {
    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.activity.store(ms, Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
