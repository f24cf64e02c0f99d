//! A store outage mid-run (issue 15, point 5): the engine reaches PostgreSQL through a TCP proxy
//! the test controls, which cuts every connection (reset) and refuses new ones — first a 2 s
//! blip, then an outage longer than `node_ttl`. The machine's PostgreSQL is never stopped. The
//! engine places no call while the store is unreachable, keeps the calls it has going, queues
//! what it owes the store (`outdial_store_backlog` in `/metrics` rises, part of it in the spool
//! file past a small memory bound), and when the store returns it lands every write, takes its
//! liveness row back (no other node reaped it) and dials again. Afterwards: every attempt
//! closed, every connected call with its agent's code, no lead dialled twice, and calls placed
//! after the outage. With `CI=true` an unreachable PostgreSQL fails the test.

use crate::engine_support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engine_support::*;
use outdial::store::{Db, Store};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A loopback TCP proxy to PostgreSQL that can be cut (every connection reset, new ones
/// closed at once) and restored.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let addr = listener.local_addr().expect("proxy addr");
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (up2, conns2) = (up.clone(), conns.clone());
        // Linger 0 (deprecated in tokio because a non-zero linger blocks on drop; zero never
        // does): a dropped socket sends a reset, as when a server dies.
        #[allow(deprecated)]
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                client.set_linger(Some(Duration::ZERO)).expect("linger");
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let task = tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    server.set_linger(Some(Duration::ZERO)).expect("linger");
                    let (mut c, mut s) = (client, server);
                    // Ends when either side closes; errors are the cut itself.
                    let _ = tokio::io::copy_bidirectional(&mut c, &mut s).await;
                });
                conns2.lock().expect("conns").push(task);
            }
        });
        Proxy {
            addr,
            up,
            conns,
            accept,
        }
    }

    /// Resets every connection and refuses new ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for t in self.conns.lock().expect("conns").drain(..) {
            t.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// The write backlog (memory, spool) in a `/metrics` text.
fn backlog(metrics: &str) -> (f64, f64) {
    let value = |place: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with("outdial_store_backlog{") && l.contains(place))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    (value("where=\"memory\""), value("where=\"spool\""))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Polls `/metrics` for `d`, returning the largest backlog (memory + spool) and spool seen.
async fn watch_backlog(client: &outdial::admin::Client, d: Duration) -> (f64, f64) {
    let end = Instant::now() + d;
    let (mut most, mut spool) = (0.0f64, 0.0f64);
    while Instant::now() < end {
        if let Ok(text) = client.metrics().await {
            let (m, s) = backlog(&text);
            most = most.max(m + s);
            spool = spool.max(s);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (most, spool)
}

/// `(lead, is_open, connected, agent_disposition, dial_ms)` of every attempt.
type Row = (i64, i64, i64, Option<String>, i64);

async fn rows(store: &Store) -> Vec<Row> {
    let q = "SELECT lead_id, CAST(is_open AS BIGINT), CAST(connected AS BIGINT), \
             agent_disposition, dial_ms FROM attempts ORDER BY lead_id";
    match store.db() {
        Db::Sqlite(p) => sqlx::query_as(q).fetch_all(p).await,
        Db::Postgres(p) => sqlx::query_as(q).fetch_all(p).await,
    }
    .expect("attempts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_longer_than_node_ttl_loses_nothing_and_dialling_resumes() {
    let url = pg_url();
    let Some((store, schema)) = isolated_pg(&url).await else {
        return;
    };
    let target: SocketAddr = "127.0.0.1:5432".parse().expect("addr");
    let proxy = Proxy::start(target).await;
    let via_proxy = url.replace("127.0.0.1:5432", &proxy.addr.to_string());
    assert_ne!(via_proxy, url, "OUTDIAL_TEST_PG must name 127.0.0.1:5432");
    let sep = if url.contains('?') { '&' } else { '?' };
    let db = format!("{via_proxy}{sep}options=-c%20search_path%3D{schema}");

    let l = Lab::new("outage", Some(db.clone()), 10);
    let leads = 3000;
    l.campaign("lab-out", "predictive", 50, 5_000_000, leads, 0);
    let (cfg, admin) = engine_config(&l.dir, &l.setup("out-a", "lab-out", 26));
    // A 3 s liveness TTL, and a memory bound small enough that the outage spills to the spool.
    let spool = l.dir.join("out-a.spool");
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text.push_str(&format!(
        "node_ttl: 3s\nwrites:\n  memory: 5\n  spool: {}\n",
        spool.display()
    ));
    std::fs::write(&cfg, text).expect("config");

    let mut engine = start_engine(&db, &cfg);
    let client = wait_admin(&admin).await;
    tokio::time::sleep(Duration::from_secs(4)).await;

    // A 2 s blip: connections reset mid-write.
    proxy.cut();
    let blip = watch_backlog(&client, Duration::from_secs(2)).await;
    proxy.restore();
    tokio::time::sleep(Duration::from_secs(3)).await;

    // An outage twice node_ttl.
    let cut_ms = now_ms();
    proxy.cut();
    let (most, spooled) = watch_backlog(&client, Duration::from_secs(6)).await;
    let restore_ms = now_ms();
    proxy.restore();
    // The backlog drains once the store is back.
    let end = Instant::now() + Duration::from_secs(20);
    let drained = loop {
        let text = client.metrics().await.unwrap_or_default();
        let (m, s) = backlog(&text);
        if !text.is_empty() && m + s == 0.0 {
            break true;
        }
        if Instant::now() > end {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let st = tokio::task::spawn_blocking(move || {
        let st = engine.wait_for(Duration::from_secs(60));
        drop(engine);
        st
    })
    .await
    .expect("wait");
    eprintln!(
        "blip backlog {blip:?}; outage backlog max {most}, spool max {spooled}; drained {drained}"
    );
    assert!(
        st.success(),
        "the engine did not resume after the outage: {st}"
    );

    let after = rows(&store).await;
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|r| r.1 == 0),
        "attempts left open: {}",
        after.iter().filter(|r| r.1 != 0).count()
    );
    let mut by_lead: HashMap<i64, usize> = HashMap::new();
    for r in &after {
        *by_lead.entry(r.0).or_default() += 1;
    }
    assert!(
        by_lead.values().all(|&n| n == 1),
        "a lead was dialled twice"
    );
    let connected: Vec<&Row> = after.iter().filter(|r| r.2 == 1).collect();
    assert!(!connected.is_empty(), "no call was connected");
    assert!(
        connected.iter().all(|r| r.3.is_some()),
        "connected calls without their agent's code: {}",
        connected.iter().filter(|r| r.3.is_none()).count()
    );
    let during = after
        .iter()
        .filter(|r| r.4 > cut_ms + 2_000 && r.4 < restore_ms)
        .count();
    assert_eq!(during, 0, "calls placed while the store was unreachable");
    let resumed = after.iter().filter(|r| r.4 > restore_ms).count();
    assert!(resumed > 0, "no call placed after the outage");
    let states: Vec<(String, i64)> = match store.db() {
        Db::Postgres(p) => sqlx::query_as(
            "SELECT state, CAST(COUNT(*) AS BIGINT) FROM leads GROUP BY state ORDER BY state",
        )
        .fetch_all(p)
        .await
        .expect("states"),
        Db::Sqlite(_) => unreachable!(),
    };
    assert!(
        states.iter().all(|(s, _)| s != "dialing"),
        "leads stuck in flight: {states:?}"
    );
    assert!(most > 0.0, "the backlog did not rise during the outage");
    assert!(
        spooled > 0.0,
        "nothing went to the spool past the memory bound"
    );
    assert!(drained, "the backlog did not fall back to 0");
    assert!(!spool.exists(), "the spool was left behind");
    eprintln!(
        "attempts {}, connected {}, placed after the outage {resumed}; leads {states:?}",
        after.len(),
        connected.len()
    );
    drop(proxy);
    let _ = store.drop_schema(&schema).await; // a private schema; leaving it is harmless
    store.close().await;
}
