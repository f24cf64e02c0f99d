//! Slowloris and idle connections against both TCP listeners (issue 15 point 3), on loopback with
//! short limits: connections past the cap are closed at once, a request that never completes and
//! a connection that stays silent are closed after their timeouts, the refusals show in
//! `/metrics`, a malformed HTTP request gets 400, and the engine goes on serving meanwhile.
//! Bounded: a few hundred connections, a few seconds.

use crate::admin_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use admin_support::{Server, ANA};
use outdial::limits::ConnLimits;
use outdial::sip::driver::spawn_with;
use outdial::sip::trunk::TrunkSet;
use outdial::sip::{CallerId, EndpointConfig, Event, PlaceCall, TrunksConfig, E164};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CAP: usize = 20;
const OVER: usize = 50;
// Long enough that the cap stays full while the extra connections knock, on a loaded machine.
const HEADER: Duration = Duration::from_millis(1000);
const IDLE: Duration = Duration::from_millis(1500);

fn limits() -> ConnLimits {
    ConnLimits {
        max_connections: CAP,
        header_timeout: HEADER,
        idle_timeout: IDLE,
    }
}

/// Reads until the peer closes (or `within` passes); returns what was read, or `None` if the
/// connection was still open at the end.
async fn closed_within(s: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Opens `CAP` connections that each send `partial`, then `OVER` more; the extra ones must be
/// closed at once. Returns the `CAP` admitted ones.
async fn flood(addr: SocketAddr, partial: &[u8]) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..CAP {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(partial).await.unwrap();
        held.push(s);
    }
    // Let the listener admit them before the next ones knock.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 0..OVER {
        let mut s = TcpStream::connect(addr).await.unwrap();
        // Writing may fail once the listener has closed it: that is the expected outcome.
        let _ = s.write_all(partial).await;
        assert!(
            closed_within(&mut s, Duration::from_secs(1))
                .await
                .is_some(),
            "connection {i} past the cap of {CAP} was kept open"
        );
    }
    held
}

/// Every held connection is closed by the listener after the header timeout, none before.
async fn all_closed_after(held: Vec<TcpStream>, started: Instant, timeout: Duration) {
    for mut s in held {
        let got = closed_within(&mut s, timeout + Duration::from_secs(2)).await;
        assert!(got.is_some(), "a slow connection outlived its timeout");
    }
    assert!(
        started.elapsed() >= timeout - Duration::from_millis(50),
        "closed before the timeout: {:?}",
        started.elapsed()
    );
}

async fn next(rx: &mut tokio::sync::mpsc::Receiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("event within 5 s")
        .expect("driver alive")
}

fn refusals(metrics: &str, listener: &str, reason: &str) -> f64 {
    let key =
        format!("outdial_listener_refusals_total{{listener=\"{listener}\",reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn the_admin_listener_caps_connections_and_closes_slow_and_idle_ones() {
    let srv = Server::start_with(limits()).await;
    let addr: SocketAddr = srv.url.trim_start_matches("http://").parse().unwrap();
    let started = Instant::now();
    let held = flood(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
    // A client over the cap is told why.
    let mut late = TcpStream::connect(addr).await.unwrap();
    let got = closed_within(&mut late, Duration::from_secs(1))
        .await
        .expect("closed");
    let got = String::from_utf8(got).unwrap();
    assert!(got.starts_with("HTTP/1.1 503"), "{got}");
    all_closed_after(held, started, HEADER).await;

    // Served again once the slow ones are gone.
    let text = srv.client(ANA).metrics().await.unwrap();
    assert!(refusals(&text, "admin", "cap") >= OVER as f64, "{text}");
    assert!(
        refusals(&text, "admin", "header_timeout") >= CAP as f64,
        "{text}"
    );

    // A connection that never says anything waits for a request header: 408 when its time is up.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let t = Instant::now();
    let got = closed_within(&mut silent, HEADER + Duration::from_secs(2)).await;
    let got = String::from_utf8(got.expect("closed")).unwrap();
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(
        t.elapsed() >= HEADER - Duration::from_millis(50),
        "{:?}",
        t.elapsed()
    );

    // A request whose body stalls: nothing moves for the idle timeout, the connection goes.
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /agents/a1/pause HTTP/1.1\r\nHost: x\r\nauthorization: Bearer {ANA}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"reason\""
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    let t = Instant::now();
    assert!(closed_within(&mut stalled, IDLE + Duration::from_secs(2))
        .await
        .is_some());
    let took = t.elapsed();
    assert!(took >= IDLE - Duration::from_millis(50), "{took:?}");
    let text = srv.client(ANA).metrics().await.unwrap();
    assert!(refusals(&text, "admin", "idle_timeout") >= 1.0, "{text}");
    srv.stop().await;
}

#[tokio::test]
async fn a_malformed_http_request_gets_400_and_an_unfinished_one_408() {
    let srv = Server::start_with(limits()).await;
    let addr: SocketAddr = srv.url.trim_start_matches("http://").parse().unwrap();
    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(bad).await.unwrap();
        let got = closed_within(&mut s, Duration::from_secs(2))
            .await
            .expect("answered and closed");
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 400"), "{bad:?} got {text:?}");
    }
    // Requests that stop half-way are answered when their header time is up.
    for unfinished in [&b"GET / HTTP/1.1\r\n"[..], b"G", b"\r\n\r\n"] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(unfinished).await.unwrap();
        let got = closed_within(&mut s, HEADER + Duration::from_secs(2))
            .await
            .expect("answered and closed");
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.starts_with("HTTP/1.1 408"),
            "{unfinished:?} got {text:?}"
        );
    }
    srv.stop().await;
}

#[tokio::test]
async fn the_sip_tcp_listener_caps_connections_closes_slow_ones_and_still_places_calls() {
    // The engine installs the recorder before it binds SIP; so does this test.
    let recorder = outdial::admin::metrics::install().unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let empty =
        TrunkSet::new(&TrunksConfig::from_yaml("t.yaml", "trunks: []\ngroups: []\n").unwrap())
            .unwrap();
    let (trunk, mut trunk_ev, _t) = spawn_with(any, EndpointConfig::new(any), empty, limits())
        .await
        .unwrap();
    let yaml = format!(
        "trunks:\n  - {{ name: t0, address: \"{}\", max_channels: 5, max_cps: 5, ping_interval: 0s }}\ngroups:\n  - {{ name: g, trunks: [t0] }}\n",
        trunk.local_addr()
    );
    let set = TrunkSet::new(&TrunksConfig::from_yaml("t.yaml", &yaml).unwrap()).unwrap();
    let (dialer, mut ev, _d) = spawn_with(any, EndpointConfig::new(any), set, limits())
        .await
        .unwrap();
    let addr = dialer.local_addr();

    let started = Instant::now();
    let held = flood(
        addr,
        b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKslow\r\n",
    )
    .await;

    // Meanwhile a call goes out and is answered (UDP to the trunk).
    let call = dialer
        .place_call(PlaceCall {
            group: "g".into(),
            number: E164::new("+33612345678").unwrap(),
            caller_id: CallerId::new("+33100000000").unwrap(),
            headers: vec![],
            ring_timeout: Duration::from_secs(20),
            offer: None,
        })
        .await
        .unwrap()
        .unwrap();
    let Event::InboundCall { call: tc, .. } = next(&mut trunk_ev).await else {
        panic!("no call at the trunk")
    };
    trunk
        .answer(tc, Some("v=0\r\n".into()), vec![])
        .await
        .unwrap()
        .unwrap();
    loop {
        match next(&mut ev).await {
            Event::Answered { call: c, .. } if c == call => break,
            Event::Ringing { .. } => {}
            other => panic!("{other:?}"),
        }
    }

    all_closed_after(held, started, HEADER).await;

    // A silent connection is closed after the idle timeout (not before; within 2 s after), a
    // CRLF keep-alive notwithstanding.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let t = Instant::now();
    silent.write_all(b"\r\n\r\n").await.unwrap();
    tokio::time::sleep(IDLE / 2).await;
    silent.write_all(b"\r\n\r\n").await.unwrap();
    assert!(closed_within(&mut silent, IDLE + Duration::from_secs(2))
        .await
        .is_some());
    let took = t.elapsed();
    assert!(took >= IDLE - Duration::from_millis(50), "{took:?}");

    // A peer that has sent a whole message keeps its connection while quiet (calls over it
    // send their BYEs back on it).
    let mut peer = TcpStream::connect(addr).await.unwrap();
    peer.write_all(
        b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKpeer\r\n\
          From: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: peer-1\r\n\
          CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    )
    .await
    .unwrap();
    assert!(
        closed_within(&mut peer, IDLE + Duration::from_millis(500))
            .await
            .is_none(),
        "a peer's quiet connection was closed"
    );

    let text = recorder.render();
    assert!(refusals(&text, "sip_tcp", "cap") >= OVER as f64, "{text}");
    assert!(
        refusals(&text, "sip_tcp", "header_timeout") >= CAP as f64,
        "{text}"
    );
    assert!(refusals(&text, "sip_tcp", "idle_timeout") >= 1.0, "{text}");
}
