//! Transaction, dialog and call-flow tests of the sans-IO SIP endpoint on virtual time: several
//! endpoints exchange messages through an in-memory network that can drop chosen messages, and
//! the clock jumps to the earliest wake-up. No sockets, no sleeping; every test is deterministic.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use outdial::sip::trunk::TrunkSet;
use outdial::sip::{
    CallId, CallerId, EndedBy, Endpoint, EndpointConfig, Event, ExtraHeader, PlaceCall, SipOutcome,
    SipUri, Transport, TrunksConfig, E164,
};

const OFFER: &str = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
const ANSWER: &str = "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A message in flight, with its text for assertions and drop filters.
#[derive(Clone, Debug)]
struct Wire {
    from: SocketAddr,
    to: SocketAddr,
    text: String,
}

/// Endpoints on one virtual network; `drop` decides which messages are lost.
struct Net {
    now: Instant,
    nodes: Vec<(SocketAddr, Endpoint, Vec<Event>)>,
    log: Vec<Wire>,
    queue: VecDeque<Wire>,
    drop: Box<dyn FnMut(&Wire) -> bool>,
}

impl Net {
    fn new() -> Self {
        Net {
            now: Instant::now(),
            nodes: vec![],
            log: vec![],
            queue: VecDeque::new(),
            drop: Box::new(|_| false),
        }
    }

    fn add(&mut self, port: u16, trunks_yaml: Option<&str>) -> usize {
        let trunks = match trunks_yaml {
            Some(y) => TrunkSet::new(&TrunksConfig::from_yaml("t.yaml", y).unwrap()).unwrap(),
            None => TrunkSet::default(),
        };
        let mut cfg = EndpointConfig::new(addr(port));
        cfg.seed = port as u64;
        cfg.ack_hold = Duration::from_secs(10);
        self.nodes
            .push((addr(port), Endpoint::new(cfg, trunks, self.now), vec![]));
        self.nodes.len() - 1
    }

    fn ep(&mut self, i: usize) -> &mut Endpoint {
        &mut self.nodes[i].1
    }

    /// Delivers messages and fires timers until nothing is due before `until`.
    fn run_until(&mut self, until: Instant) {
        loop {
            self.flush();
            if let Some(w) = self.queue.pop_front() {
                if let Some(n) = self.nodes.iter_mut().find(|n| n.0 == w.to) {
                    n.1.handle_datagram(self.now, w.from, Transport::Udp, w.text.as_bytes());
                }
                continue;
            }
            let next = self.nodes.iter().filter_map(|n| n.1.poll_timeout()).min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    for n in &mut self.nodes {
                        n.1.handle_timeout(now);
                    }
                }
                _ => {
                    self.now = until;
                    return;
                }
            }
        }
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    fn flush(&mut self) {
        for n in &mut self.nodes {
            while let Some(t) = n.1.poll_transmit() {
                let w = Wire {
                    from: n.0,
                    to: t.dest,
                    text: String::from_utf8_lossy(&t.payload).into_owned(),
                };
                self.log.push(w.clone());
                if !(self.drop)(&w) {
                    self.queue.push_back(w);
                }
            }
            while let Some(e) = n.1.poll_event() {
                n.2.push(e);
            }
        }
    }

    fn events(&mut self, i: usize) -> Vec<Event> {
        self.flush();
        std::mem::take(&mut self.nodes[i].2)
    }

    fn sent(&self, from: usize, start: &str) -> usize {
        let a = self.nodes[from].0;
        self.log
            .iter()
            .filter(|w| w.from == a && w.text.starts_with(start))
            .count()
    }
}

fn trunks(ports: &[u16]) -> String {
    let mut y = String::from("trunks:\n");
    for p in ports {
        y.push_str(&format!(
            "  - name: t{p}\n    address: 127.0.0.1:{p}\n    max_channels: 10\n    max_cps: 10\n    ping_interval: 0s\n    credentials: {{ username: u, password: p }}\n"
        ));
    }
    y.push_str("groups:\n  - name: g\n    trunks: [");
    y.push_str(
        &ports
            .iter()
            .map(|p| format!("t{p}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    y.push_str("]\n");
    y
}

fn place(net: &mut Net, i: usize, offer: Option<&str>, ring: Duration) -> CallId {
    let now = net.now;
    net.ep(i)
        .place_call(
            now,
            PlaceCall {
                group: "g".into(),
                number: E164::new("+14155550100").unwrap(),
                caller_id: CallerId::new("+14155550000").unwrap(),
                headers: vec![
                    ExtraHeader::lead("L1").unwrap(),
                    ExtraHeader::campaign("c1").unwrap(),
                ],
                ring_timeout: ring,
                offer: offer.map(str::to_string),
            },
        )
        .unwrap()
}

fn inbound(events: &[Event]) -> Vec<CallId> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::InboundCall { call, .. } => Some(*call),
            _ => None,
        })
        .collect()
}

#[test]
fn answered_call_connects_to_agent_then_both_legs_end() {
    let mut net = Net::new();
    let d = net.add(5000, Some(&trunks(&[5001])));
    let trunk = net.add(5001, None);
    let agent = net.add(5002, None);
    let call = place(&mut net, d, None, Duration::from_secs(30));
    net.run_for(Duration::from_millis(1));
    let ins = inbound(&net.events(trunk));
    assert_eq!(ins.len(), 1);
    let now = net.now;
    net.ep(trunk).ring(now, ins[0]).unwrap();
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.events(d), vec![Event::Ringing { call }]);
    let now = net.now;
    net.ep(trunk)
        .answer(now, ins[0], Some(OFFER.into()), &[])
        .unwrap();
    net.run_for(Duration::from_millis(1));
    assert_eq!(
        net.events(d),
        vec![Event::Answered {
            call,
            machine: false,
            offer: Some(OFFER.into())
        }]
    );
    // The customer's 200 is retransmitted while we wait for the agent: absorbed, not ACKed.
    net.run_for(Duration::from_millis(1600));
    assert!(net.sent(trunk, "SIP/2.0 200") >= 3, "200 retransmitted");
    assert_eq!(net.sent(d, "ACK"), 0, "ACK held until the agent answers");
    let now = net.now;
    let agent_uri = SipUri::parse("sip:agent0001@127.0.0.1:5002").unwrap();
    net.ep(d).connect(now, call, agent_uri.clone()).unwrap();
    net.run_for(Duration::from_millis(1));
    let a_in = net.events(agent);
    let Event::InboundCall {
        call: acall, offer, ..
    } = &a_in[0]
    else {
        panic!("{a_in:?}")
    };
    assert_eq!(
        offer.as_deref(),
        Some(OFFER),
        "agent gets the customer's offer"
    );
    let acall = *acall;
    let now = net.now;
    net.ep(agent)
        .answer(now, acall, Some(ANSWER.into()), &[])
        .unwrap();
    net.run_for(Duration::from_millis(10));
    let ev = net.events(d);
    assert!(
        matches!(&ev[..], [Event::Connected { call: c, agent: a, answer_to_connect }]
            if *c == call && *a == agent_uri && *answer_to_connect >= Duration::from_millis(1600)),
        "{ev:?}"
    );
    // The customer's ACK carries the agent's answer.
    assert_eq!(
        net.events(trunk),
        vec![Event::Acked {
            call: ins[0],
            answer: Some(ANSWER.into())
        }]
    );
    // Customer hangs up: the agent gets a BYE, the call ends by the customer.
    let now = net.now;
    net.ep(trunk).hangup(now, ins[0]).unwrap();
    net.run_for(Duration::from_millis(10));
    assert_eq!(
        net.events(d),
        vec![Event::Ended {
            call,
            by: EndedBy::Customer
        }]
    );
    // Seen from the agent endpoint, its caller (us) sent the ACK, then the BYE.
    assert_eq!(
        net.events(agent),
        vec![
            Event::Acked {
                call: acall,
                answer: None
            },
            Event::Ended {
                call: acall,
                by: EndedBy::Customer
            }
        ]
    );
    net.run_for(Duration::from_secs(40));
    assert_eq!(net.ep(d).active_calls(), 0);
    assert_eq!(net.ep(d).free_channels("g"), 10, "trunk channel released");
}

/// Places a call from `d` through trunk node `trunk` and returns (our call, trunk-side call).
fn dial(net: &mut Net, d: usize, trunk: usize, ring: Duration) -> (CallId, CallId) {
    let call = place(net, d, Some(OFFER), ring);
    net.run_for(Duration::from_millis(1));
    let ins = inbound(&net.events(trunk));
    assert_eq!(ins.len(), 1, "trunk got one INVITE");
    (call, ins[0])
}

#[test]
fn busy_and_invalid_map_to_dispositions_and_are_acked() {
    for (code, disp) in [
        (486, SipOutcome::Busy),
        (404, SipOutcome::Invalid),
        (603, SipOutcome::Rejected),
    ] {
        let mut net = Net::new();
        let d = net.add(5000, Some(&trunks(&[5001])));
        let trunk = net.add(5001, None);
        let (call, tc) = dial(&mut net, d, trunk, Duration::from_secs(30));
        let now = net.now;
        net.ep(trunk).reject(now, tc, code).unwrap();
        net.run_for(Duration::from_secs(5));
        assert_eq!(
            net.events(d),
            vec![Event::Failed {
                call,
                code: Some(code),
                disposition: disp
            }]
        );
        assert_eq!(
            net.sent(d, "ACK"),
            1,
            "non-2xx ACKed once, which stops the UAS retransmitting"
        );
        assert_eq!(net.sent(trunk, &format!("SIP/2.0 {code}")), 1);
    }
}

#[test]
fn no_answer_is_cancelled_at_ring_timeout_and_ends_as_no_answer() {
    let mut net = Net::new();
    let d = net.add(5000, Some(&trunks(&[5001])));
    let trunk = net.add(5001, None);
    let (call, tc) = dial(&mut net, d, trunk, Duration::from_secs(15));
    let now = net.now;
    net.ep(trunk).ring(now, tc).unwrap();
    net.run_for(Duration::from_millis(14_990));
    assert_eq!(
        net.sent(d, "CANCEL"),
        0,
        "no CANCEL before the ring timeout"
    );
    net.run_for(Duration::from_millis(20));
    assert_eq!(net.sent(d, "CANCEL"), 1);
    net.run_for(Duration::from_millis(10));
    assert_eq!(net.sent(trunk, "SIP/2.0 487"), 1);
    assert_eq!(
        net.events(d),
        vec![
            Event::Ringing { call },
            Event::Failed {
                call,
                code: Some(487),
                disposition: SipOutcome::NoAnswer
            }
        ]
    );
    assert_eq!(
        net.events(trunk),
        vec![Event::Ended {
            call: tc,
            by: EndedBy::Customer
        }]
    );
}

#[test]
fn a_200_crossing_the_cancel_is_acked_then_ended_with_bye() {
    let mut net = Net::new();
    let d = net.add(5000, Some(&trunks(&[5001])));
    let trunk = net.add(5001, None);
    let (call, tc) = dial(&mut net, d, trunk, Duration::from_secs(15));
    let now = net.now;
    net.ep(trunk).ring(now, tc).unwrap();
    net.run_for(Duration::from_millis(14_990));
    // The trunk answers just as our CANCEL leaves: the CANCEL finds the INVITE answered.
    net.drop = Box::new(|w| w.text.starts_with("CANCEL"));
    let now = net.now;
    net.ep(trunk)
        .answer(now, tc, Some(ANSWER.into()), &[])
        .unwrap();
    // Hold the 200 back until after the ring timeout so they cross.
    net.flush();
    let held: Vec<Wire> = net.queue.drain(..).collect();
    net.run_for(Duration::from_millis(20));
    assert_eq!(net.sent(d, "CANCEL"), 1);
    net.drop = Box::new(|_| false);
    net.queue.extend(held);
    net.run_for(Duration::from_secs(40));
    assert_eq!(net.sent(d, "ACK"), 1);
    assert_eq!(net.sent(d, "BYE"), 1);
    let ev = net.events(d);
    assert_eq!(
        ev,
        vec![
            Event::Ringing { call },
            Event::Failed {
                call,
                code: Some(200),
                disposition: SipOutcome::NoAnswer
            }
        ]
    );
    assert_eq!(net.ep(d).free_channels("g"), 10);
}

#[test]
fn invite_retransmits_on_t1_doubling_and_times_out_at_64_t1() {
    let mut net = Net::new();
    let d = net.add(5000, Some(&trunks(&[5009])));
    // Nobody listens on 5009: record when each INVITE copy leaves.
    let t0 = net.now;
    let call = place(&mut net, d, Some(OFFER), Duration::from_secs(60));
    let mut times = vec![];
    for _ in 0..400 {
        net.run_for(Duration::from_millis(100));
        let n = net.sent(d, "INVITE");
        if n > times.len() {
            times.push((net.now - t0).as_millis() / 100 * 100);
        }
    }
    // Timer A: 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; timer B fires at 32 s.
    assert_eq!(times, vec![100, 500, 1500, 3500, 7500, 15500, 31500]);
    let ev = net.events(d);
    assert!(
        ev.contains(&Event::TrunkDown {
            trunk: "t5009".into()
        }),
        "{ev:?}"
    );
    assert!(
        ev.contains(&Event::Failed {
            call,
            code: None,
            disposition: SipOutcome::TrunkFailure
        }),
        "{ev:?}"
    );
}

#[test]
fn lost_first_invite_is_recovered_by_retransmission() {
    let mut net = Net::new();
    let d = net.add(5000, Some(&trunks(&[5001])));
    let trunk = net.add(5001, None);
    let mut first = true;
    net.drop = Box::new(move |w| {
        let lose = first && w.text.starts_with("INVITE");
        if lose {
            first = false;
        }
        lose
    });
    let call = place(&mut net, d, Some(OFFER), Duration::from_secs(30));
    net.run_for(Duration::from_millis(400));
    assert!(inbound(&net.events(trunk)).is_empty());
    net.run_for(Duration::from_millis(200));
    let ins = inbound(&net.events(trunk));
    assert_eq!(ins.len(), 1, "retransmission at T1 arrives");
    let now = net.now;
    net.ep(trunk)
        .answer(now, ins[0], Some(ANSWER.into()), &[])
        .unwrap();
    net.run_for(Duration::from_millis(10));
    assert!(matches!(net.events(d)[..], [Event::Answered { call: c, .. }] if c == call));
    assert_eq!(net.ep(d).stats().retransmissions, 1);
}

#[test]
fn retransmitted_2xx_is_acked_again() {
    let mut net = Net::new();
    let d = net.add(5000, Some(&trunks(&[5001])));
    let trunk = net.add(5001, None);
    let (_call, tc) = dial(&mut net, d, trunk, Duration::from_secs(30));
    // Our first ACK is lost: the trunk retransmits its 200 and we must ACK it again.
    let mut first = true;
    net.drop = Box::new(move |w| {
        let lose = first && w.text.starts_with("ACK");
        if lose {
            first = false;
        }
        lose
    });
    let now = net.now;
    net.ep(trunk)
        .answer(now, tc, Some(ANSWER.into()), &[])
        .unwrap();
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.sent(d, "ACK"), 2);
    assert_eq!(
        net.sent(trunk, "SIP/2.0 200"),
        2,
        "retransmission stops once ACKed"
    );
    assert_eq!(
        net.events(trunk),
        vec![Event::Acked {
            call: tc,
            answer: None
        }]
    );
}

#[test]
fn unknown_dialog_gets_481() {
    let mut net = Net::new();
    let d = net.add(5000, None);
    let bye = "BYE sip:outdial@127.0.0.1:5000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5001;branch=z9hG4bKx1\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>;tag=2\r\nCall-ID: nope@x\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    let now = net.now;
    net.ep(d)
        .handle_datagram(now, addr(5001), Transport::Udp, bye.as_bytes());
    let t = net.ep(d).poll_transmit().unwrap();
    assert!(String::from_utf8_lossy(&t.payload).starts_with("SIP/2.0 481"));
    assert_eq!(t.dest, addr(5001));
}

#[test]
fn a_503_on_the_primary_is_placed_on_the_secondary() {
    let mut net = Net::new();
    let d = net.add(5000, Some(&trunks(&[5001, 5003])));
    let primary = net.add(5001, None);
    let secondary = net.add(5003, None);
    let (call, tc) = dial(&mut net, d, primary, Duration::from_secs(30));
    let now = net.now;
    net.ep(primary).reject(now, tc, 503).unwrap();
    net.run_for(Duration::from_millis(5));
    let ins = inbound(&net.events(secondary));
    assert_eq!(ins.len(), 1, "re-placed at once on the secondary");
    let now = net.now;
    net.ep(secondary)
        .answer(
            now,
            ins[0],
            Some(ANSWER.into()),
            &[ExtraHeader::new("X-Outdial-Answer", "machine").unwrap()],
        )
        .unwrap();
    net.run_for(Duration::from_millis(5));
    assert_eq!(
        net.events(d),
        vec![Event::Answered {
            call,
            machine: true,
            offer: Some(ANSWER.into())
        }]
    );
}

#[test]
fn digest_challenge_is_answered_with_trunk_credentials() {
    let mut net = Net::new();
    let d = net.add(5000, Some(&trunks(&[5001])));
    let trunk = net.add(5001, None);
    let (call, tc) = dial(&mut net, d, trunk, Duration::from_secs(30));
    let now = net.now;
    net.ep(trunk)
        .challenge(now, tc, "outdial", "n0nce", false)
        .unwrap();
    net.run_for(Duration::from_millis(5));
    let ev = net.events(trunk);
    let Some(Event::InboundCall {
        call: tc2,
        authorization: Some(auth),
        ..
    }) = ev.last()
    else {
        panic!("{ev:?}")
    };
    let creds = outdial::sip::digest::Credentials {
        username: "u".into(),
        password: "p".into(),
    };
    assert!(
        outdial::sip::digest::verify(auth, &creds, "n0nce", "INVITE"),
        "{auth}"
    );
    let tc2 = *tc2;
    let now = net.now;
    net.ep(trunk).reject(now, tc2, 486).unwrap();
    net.run_for(Duration::from_millis(5));
    assert_eq!(
        net.events(d),
        vec![Event::Failed {
            call,
            code: Some(486),
            disposition: SipOutcome::Busy
        }]
    );
}

#[test]
fn a_stale_challenge_says_so_on_the_wire_and_a_fresh_one_does_not() {
    let mut net = Net::new();
    let d = net.add(5000, Some(&trunks(&[5001])));
    let trunk = net.add(5001, None);
    let (_, tc) = dial(&mut net, d, trunk, Duration::from_secs(30));
    let now = net.now;
    net.ep(trunk)
        .challenge(now, tc, "outdial", "n0nce", true)
        .unwrap();
    net.run_for(Duration::from_millis(5));
    let a = net.nodes[trunk].0;
    let challenges: Vec<&str> = net
        .log
        .iter()
        .filter(|w| w.from == a && w.text.starts_with("SIP/2.0 401"))
        .map(|w| w.text.as_str())
        .collect();
    assert_eq!(challenges.len(), 1);
    let header = challenges[0]
        .lines()
        .find(|l| l.starts_with("WWW-Authenticate:"))
        .expect("WWW-Authenticate");
    assert!(
        header.contains("nonce=\"n0nce\"")
            && header.contains("qop=\"auth\"")
            && header.ends_with("stale=true"),
        "{header}"
    );
    // The dialler's retry is a fresh challenge: without stale.
    let now = net.now;
    let ev = net.events(trunk);
    let Some(Event::InboundCall { call: tc2, .. }) = ev.last() else {
        panic!("{ev:?}")
    };
    let tc2 = *tc2;
    net.ep(trunk)
        .challenge(now, tc2, "outdial", "n0nce2", false)
        .unwrap();
    net.run_for(Duration::from_millis(5));
    let fresh = net
        .log
        .iter()
        .filter(|w| w.from == a && w.text.starts_with("SIP/2.0 401"))
        .nth(1)
        .map(|w| w.text.clone())
        .expect("second 401");
    assert!(
        fresh.contains("n0nce2") && !fresh.contains("stale"),
        "{fresh}"
    );
}

#[test]
fn abandon_without_announcement_acks_then_byes_with_reason() {
    let mut net = Net::new();
    let d = net.add(5000, Some(&trunks(&[5001])));
    let trunk = net.add(5001, None);
    let call = place(&mut net, d, None, Duration::from_secs(30));
    net.run_for(Duration::from_millis(1));
    let tc = inbound(&net.events(trunk))[0];
    let now = net.now;
    net.ep(trunk)
        .answer(now, tc, Some(OFFER.into()), &[])
        .unwrap();
    net.run_for(Duration::from_millis(5));
    let now = net.now;
    net.ep(d).abandon(now, call, None).unwrap();
    net.run_for(Duration::from_millis(5));
    assert_eq!(
        net.events(d),
        vec![
            Event::Answered {
                call,
                machine: false,
                offer: Some(OFFER.into())
            },
            Event::Abandoned {
                call,
                announced: false
            },
            Event::Ended {
                call,
                by: EndedBy::Local
            }
        ]
    );
    let bye = net.log.iter().find(|w| w.text.starts_with("BYE")).unwrap();
    assert!(bye.text.contains("Reason: SIP;cause=480"), "{}", bye.text);
    let ack = net.log.iter().find(|w| w.text.starts_with("ACK")).unwrap();
    assert!(
        ack.text.contains("m=audio 0 RTP/AVP 0"),
        "declined stream: {}",
        ack.text
    );
}

#[test]
fn unacked_flow_i_leg_is_released_before_64_t1() {
    let mut net = Net::new();
    let d = net.add(5000, Some(&trunks(&[5001])));
    let trunk = net.add(5001, None);
    let call = place(&mut net, d, None, Duration::from_secs(30));
    net.run_for(Duration::from_millis(1));
    let tc = inbound(&net.events(trunk))[0];
    let now = net.now;
    net.ep(trunk)
        .answer(now, tc, Some(OFFER.into()), &[])
        .unwrap();
    net.run_for(Duration::from_secs(11));
    let ev = net.events(d);
    assert_eq!(
        ev.last(),
        Some(&Event::Ended {
            call,
            by: EndedBy::Timeout
        })
    );
    assert_eq!(
        net.events(trunk),
        vec![
            Event::Acked {
                call: tc,
                answer: net_answer()
            },
            Event::Ended {
                call: tc,
                by: EndedBy::Customer
            }
        ]
    );
}

fn net_answer() -> Option<String> {
    Some("v=0\r\no=outdial 0 0 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n".into())
}

#[test]
fn capacity_limits_refuse_calls_beyond_channels_and_cps() {
    let mut net = Net::new();
    let d = net.add(5000, Some(&trunks(&[5001])));
    let _trunk = net.add(5001, None);
    let now = net.now;
    assert_eq!(net.ep(d).available_lines("g", now), 10);
    for _ in 0..10 {
        place(&mut net, d, Some(OFFER), Duration::from_secs(30));
    }
    let now = net.now;
    assert_eq!(net.ep(d).available_lines("g", now), 0);
    let r = net.ep(d).place_call(
        now,
        PlaceCall {
            group: "g".into(),
            number: E164::new("+14155550100").unwrap(),
            caller_id: CallerId::new("anonymous").unwrap(),
            headers: vec![],
            ring_timeout: Duration::from_secs(30),
            offer: None,
        },
    );
    assert!(matches!(r, Err(outdial::sip::PlaceError::NoCapacity(_))));
}
