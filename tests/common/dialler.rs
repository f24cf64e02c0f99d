//! outdial's SIP core as a live endpoint in tests: spawned on a free loopback port with a trunks
//! file, and the trunks file of one group `g` holding trunks in order. Included with
//! `#[path = "common/dialler.rs"]` by the tests that drive the endpoint against real peers.
#![allow(dead_code)]

use std::net::SocketAddr;

use outdial::sip::{spawn, trunk::TrunkSet, EndpointConfig, Event, SipHandle, TrunksConfig};
use tokio::sync::mpsc::Receiver;

/// A live SIP endpoint on 127.0.0.1 (port chosen by the system) with the trunks file `yaml`:
/// its handle and its events. Its task runs until the handle is dropped.
pub async fn live_endpoint(yaml: &str) -> (SipHandle, Receiver<Event>) {
    let set = TrunkSet::new(&TrunksConfig::from_yaml("t.yaml", yaml).expect("trunks yaml"))
        .expect("trunk set");
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let (h, ev, _task) = spawn(any, EndpointConfig::new(any), set)
        .await
        .expect("bind dialler");
    (h, ev)
}

/// A trunks file whose group `g` holds `trunks` in order, named `t0`, `t1`, …, each with 5
/// channels, 5 calls per second, no OPTIONS pings and the `extra` flow-map keys (`""` or
/// `", key: value"`).
pub fn trunk_group(trunks: &[SocketAddr], extra: &str) -> String {
    let mut y = String::from("trunks:\n");
    for (i, a) in trunks.iter().enumerate() {
        y.push_str(&format!(
            "  - {{ name: t{i}, address: \"{a}\", max_channels: 5, max_cps: 5, ping_interval: 0s{extra} }}\n"
        ));
    }
    let names: Vec<String> = (0..trunks.len()).map(|i| format!("t{i}")).collect();
    y.push_str(&format!(
        "groups:\n  - {{ name: g, trunks: [{}] }}\n",
        names.join(", ")
    ));
    y
}
