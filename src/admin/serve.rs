//! Running the admin router on a socket, shaped like mini-redis's `server::run`: the caller binds
//! (so tests can use port 0 and read the address back) and passes a shutdown future.
//! Owns only the accept loop; routes live in `http`.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use axum::Router;
use tokio::net::TcpListener;

/// Default admin address: loopback only, port 8089 (the CLI's default `--engine`).
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8089));

/// Binds the admin listener. A non-loopback address is allowed (the config asked for it) but
/// logged as a warning: the API can change pacing and only a bearer token protects it, over plain
/// HTTP.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "admin API listening beyond loopback, over plain HTTP");
    }
    TcpListener::bind(addr).await
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and lets
/// requests in progress finish before returning.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "admin API listening");
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
