//! The engine's side of the media plane in virtual time (`engine::harness::World` with its
//! scripted SIP and media sides): anchored calls carry outdial's offer, agents on nailed-up
//! connections are called once and bridged to customer after customer, the safe-harbour
//! message is outdial's own with a DTMF opt-out, a lost agent connection logs the agent out,
//! per-call agents get one INVITE with an offer per customer, and every RTP port comes back.

use crate::engine_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use engine_support::campaign_yaml;
use outdial::admin::AgentState;
use outdial::campaign::CallDisposition;
use outdial::engine::core::{AdminReply, AdminRequest, MediaSetup, RecordingMode, SipInput};
use outdial::engine::harness::{Answer, World};
use outdial::media::io::{LegId, MediaCommand, MediaEvent, Prompt};
use outdial::sip::endpoint::{EndedBy, Event};

const S: fn(u64) -> Duration = Duration::from_secs;

/// A one-second safe-harbour message.
fn message() -> Prompt {
    Prompt(Arc::from(vec![100i16; 8_000]))
}

/// Campaign `c1` (`mode`, `ratio`, window open all day) on trunk group `lab`, whose trunk's
/// media is `media`; `agents` automatic agents with `connect` (or the default); RTP `ports`.
fn world(mode: &str, ratio: f64, agents: u32, connect: &str, media: &str, ports: &str) -> World {
    let mut c1 = campaign_yaml("c1", mode);
    c1 = c1
        .replacen("  ratio: 1.0\n", &format!("  ratio: {ratio}\n"), 1)
        .replacen("\"09:00-18:00\"", "\"00:00-23:59\"", 1);
    let config = format!(
        "node: n1\nsip:\n  listen: 127.0.0.1:5060\n  trunks:\n    - {{name: t1, address: \
         \"127.0.0.1:5070\", max_channels: 30, max_cps: 30, ping_interval: 0s, media: {media}}}\n  \
         groups:\n    - {{name: lab, trunks: [t1]}}\nmedia: {{ports: {ports}}}\nagents:\n  - {{uri: \
         \"sip:agent{{n}}@127.0.0.1:5080\", count: {agents}, group: lab, skills: [outbound, \
         verification], wrap_up: auto{connect}}}\n\
         auto_wrap_time: {{dist: constant, mean: 5s}}\nnode_ttl: 3s\ncampaigns:\n  - {{name: c1}}\n"
    );
    engine_support::lab_world(&config, &[&c1])
}

fn start(mut w: World, leads: i64) -> World {
    let wall = w.wall_ms();
    w.store.add_leads("c1", 1, leads, wall, None);
    w.start(Vec::new());
    w
}

/// What each finished call reached, in the order they finished.
fn dispositions(w: &World) -> Vec<CallDisposition> {
    w.store
        .finished
        .iter()
        .map(|(_, o)| o.disposition)
        .collect()
}

/// Legs opened on `port`.
fn opens_on(w: &World, port: u16) -> usize {
    w.media
        .count(|c| matches!(c, MediaCommand::Open { local_port, .. } if *local_port == port))
}

/// Three customers, each answering after 3 s and talking 10 s, for one agent called per call,
/// with `taken` ports held by another program; run for 2 minutes.
fn per_call_customers(taken: &[u16]) -> World {
    let w = world(
        "progressive",
        1.0,
        1,
        ", connect: per-call",
        "anchor",
        "20000-20099",
    );
    let mut w = start(w, 3);
    w.media.taken.extend(taken);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.sip.talk = S(10);
    w.run_for(S(120));
    w
}

fn sip_count(w: &World, prefix: &str) -> usize {
    w.sip
        .commands
        .iter()
        .filter(|(_, c)| c.starts_with(prefix))
        .count()
}

fn bridges(w: &World) -> Vec<(LegId, LegId)> {
    w.media
        .commands
        .iter()
        .filter_map(|(_, c)| match c {
            MediaCommand::Bridge { customer, agent } => Some((*customer, *agent)),
            _ => None,
        })
        .collect()
}

fn agent_state(w: &mut World, id: &str) -> AgentState {
    match w.admin(AdminRequest::Agents) {
        Some(AdminReply::Agents(Ok(v))) => v
            .into_iter()
            .find(|a| a.id == id)
            .map(|a| a.state)
            .expect("agent listed"),
        other => panic!("agents: {other:?}"),
    }
}

/// The customer legs the safe-harbour message was played to, with when.
fn messages(w: &World) -> Vec<(std::time::Instant, LegId)> {
    w.media
        .commands
        .iter()
        .filter_map(|(at, c)| match c {
            MediaCommand::Play { leg, prompt } if prompt.0.len() == 8_000 => Some((*at, *leg)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_nailed_agent_is_called_once_at_login_then_bridged_to_three_customers_without_more_sip() {
    let mut w = world("progressive", 1.0, 1, "", "anchor", "20000-20099");
    assert!(w.core.set_media_setup(
        "c1",
        MediaSetup {
            recording: RecordingMode::Connected,
            ..MediaSetup::default()
        }
    ));
    let mut w = start(w, 3);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.sip.talk = S(10);
    w.run_for(S(120));

    assert_eq!(
        w.sip.agent_calls.len(),
        1,
        "one INVITE to the agent, at login"
    );
    assert!(w.sip.agent_calls[0].offer.contains("m=audio "));
    assert_eq!(w.sip.placed.len(), 3);
    assert!(
        w.sip.placed.iter().all(|p| p
            .offer
            .as_deref()
            .is_some_and(|o| o.contains("RTP/AVP 0 8 101"))),
        "every customer INVITE carries outdial's offer"
    );
    assert_eq!(sip_count(&w, "Connect"), 0, "no SIP join to the agent");
    // The far ends' SDP reached the media plane: the trunk's (port 40000) for each customer,
    // the phone's (50000) for the agent's connection.
    let remotes: Vec<u16> = w
        .media
        .commands
        .iter()
        .filter_map(|(_, c)| match c {
            MediaCommand::Remote { remote, .. } => Some(remote.addr.port()),
            _ => None,
        })
        .collect();
    assert_eq!(remotes.iter().filter(|p| **p == 50_000).count(), 1);
    assert_eq!(remotes.iter().filter(|p| **p == 40_000).count(), 3);
    let b = bridges(&w);
    assert_eq!(b.len(), 3, "three customers bridged");
    assert!(
        b.iter().all(|(_, a)| *a == b[0].1),
        "all into one agent leg"
    );
    let tones = w
        .media
        .count(|c| matches!(c, MediaCommand::Play { leg, .. } if *leg == b[0].1));
    assert_eq!(tones, 3, "a connect tone per customer");
    assert_eq!(w.store.finished.len(), 3);
    assert!(w.sip.joined.iter().all(|j| j.agent.contains("agent0001@")));
    for (attempt, o) in &w.store.finished {
        assert_eq!(o.disposition, CallDisposition::Connected);
        assert!(o.connect_ms.is_some(), "the bridge is the connect moment");
        let media = o.media.as_ref().expect("media in the record");
        assert!(media.customer.is_some_and(|f| f.packets == 1_500));
        let path = media
            .recording
            .as_deref()
            .expect("recorded from the bridge");
        assert!(
            path.starts_with("recordings/c1/2026-")
                && path.ends_with(&format!("/{attempt}-1415555000{attempt}.wav")),
            "{path}"
        );
    }
    // The agent's connection stays up; only the customer legs were closed.
    assert_eq!(w.core.rtp_ports().1 - w.core.rtp_ports().0, 1);
    assert_eq!(agent_state(&mut w, "agent0001"), AgentState::Ready);
}

/// A power campaign (ratio 3, one agent talking long) abandons customers; the message is
/// outdial's own.
fn abandoning_world() -> World {
    let mut w = world("power", 3.0, 1, "", "anchor", "20000-20099");
    assert!(w.core.set_media_setup(
        "c1",
        MediaSetup {
            abandon_prompt: Some(message()),
            ..MediaSetup::default()
        }
    ));
    w.store
        .rates
        .insert("c1".into(), ((1000, 10), (30_000, 300)));
    let mut w = start(w, 12);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.sip.talk = S(120);
    w
}

#[test]
fn an_abandoned_customer_hears_outdials_message_then_is_hung_up() {
    let mut w = abandoning_world();
    w.run_for(S(60));
    let played = messages(&w);
    assert!(!played.is_empty(), "no abandon happened");
    assert_eq!(
        sip_count(&w, "Abandon"),
        0,
        "no SIP announcement or BYE-abandon"
    );
    let hangups: Vec<_> = w
        .sip
        .commands
        .iter()
        .filter(|(_, c)| c.starts_with("Hangup"))
        .map(|(at, _)| *at)
        .collect();
    for (at, _) in &played {
        assert!(
            hangups.iter().any(|h| *h == *at + S(1)),
            "hang-up right after the one-second message"
        );
    }
    let abandoned = w
        .store
        .finished
        .iter()
        .filter(|(_, o)| o.disposition == CallDisposition::Abandoned)
        .count();
    assert_eq!(abandoned, played.len());
    assert!(w.store.dnc.is_empty());
}

#[test]
fn the_opt_out_key_during_the_message_lists_the_number_and_marks_the_record() {
    let mut w = abandoning_world();
    let mut leg = None;
    for _ in 0..600 {
        w.run_for(Duration::from_millis(100));
        if let Some((_, l)) = messages(&w).first() {
            leg = Some(*l);
            break;
        }
    }
    let leg = leg.expect("a message played");
    w.inject_media(
        Duration::from_millis(200),
        MediaEvent::Dtmf { leg, digit: '5' },
    );
    w.run_for(Duration::from_millis(300));
    assert!(w.store.dnc.is_empty(), "another key opts nobody out");
    w.inject_media(
        Duration::from_millis(100),
        MediaEvent::Dtmf { leg, digit: '9' },
    );
    w.inject_media(
        Duration::from_millis(200),
        MediaEvent::Dtmf { leg, digit: '9' },
    );
    w.run_for(S(30));
    assert_eq!(w.store.dnc.len(), 1, "one number listed: {:?}", w.store.dnc);
    let (phone, attempt) = w.store.dnc[0].clone();
    let lead = w.store.lead_of(attempt).expect("lead");
    assert_eq!(w.store.lead(lead).expect("lead").lead.phone_e164, phone);
    let (_, o) = w
        .store
        .finished
        .iter()
        .find(|(a, _)| *a == attempt)
        .expect("record");
    assert!(o.media.as_ref().is_some_and(|m| m.opted_out));
    let others = w
        .store
        .finished
        .iter()
        .filter(|(a, o)| *a != attempt && o.media.as_ref().is_some_and(|m| m.opted_out))
        .count();
    assert_eq!(others, 0, "only the caller who pressed 9 opted out");
}

#[test]
fn an_agents_bye_logs_it_out_and_its_customer_takes_the_abandon_path() {
    let mut w = world("progressive", 1.0, 1, "", "anchor", "20000-20099");
    assert!(w.core.set_media_setup(
        "c1",
        MediaSetup {
            abandon_prompt: Some(message()),
            ..MediaSetup::default()
        }
    ));
    let mut w = start(w, 5);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.sip.talk = S(60);
    for _ in 0..300 {
        w.run_for(Duration::from_millis(100));
        if !bridges(&w).is_empty() {
            break;
        }
    }
    let (customer, agent_leg) = bridges(&w)[0];
    let agent_call = w.sip.agent_calls[0].call;
    w.inject_sip(
        Duration::from_millis(500),
        SipInput::Event(Event::Ended {
            call: agent_call,
            by: EndedBy::Agent,
        }),
    );
    w.run_for(S(1));
    assert_eq!(agent_state(&mut w, "agent0001"), AgentState::LoggedOut);
    assert!(
        w.media
            .count(|c| matches!(c, MediaCommand::Unbridge { leg } if *leg == customer))
            >= 1
    );
    assert!(
        w.media
            .count(|c| matches!(c, MediaCommand::Close { leg } if *leg == agent_leg))
            == 1
    );
    assert!(
        messages(&w).iter().any(|(_, l)| *l == customer),
        "the customer hears the safe-harbour message"
    );
    w.run_for(S(5));
    let first = w.store.finished.first().expect("record");
    assert_eq!(first.1.disposition, CallDisposition::Abandoned);
    // An automatic agent logs in again at the next claim renewal: a new connection.
    w.run_for(S(15));
    assert_eq!(
        w.sip.agent_calls.len(),
        2,
        "the agent's phone is called again"
    );
}

#[test]
fn every_rtp_port_comes_back_after_many_calls() {
    let mut w = world("power", 2.0, 4, "", "anchor", "20000-20039");
    w.store
        .rates
        .insert("c1".into(), ((1000, 10), (30_000, 300)));
    let mut w = start(w, 80);
    let mut n = 0;
    w.sip.script = Box::new(move |_, _| {
        n += 1;
        match n % 5 {
            0 => Answer::Busy(S(2)),
            1 => Answer::Machine(S(4)),
            2 => Answer::Never,
            _ => Answer::Live(S(3)),
        }
    });
    w.sip.talk = S(8);
    w.run_for(S(400));
    let (free, all) = w.core.rtp_ports();
    assert_eq!(all, 20);
    assert!(w.sip.placed.len() >= 40, "{} calls", w.sip.placed.len());
    assert!(w.media.max_open <= all);
    // The four agents' connections hold four ports while they are logged in.
    assert_eq!(free, all - 4, "leaked {}", all - 4 - free);
    w.core.begin_stop(w.now);
    w.run_for(S(60));
    assert!(w.core.is_done());
    assert_eq!(w.core.rtp_ports().0, all, "pool full again after the run");
    assert!(w.media.open.is_empty(), "every leg closed");
}

#[test]
fn per_call_agents_get_a_fresh_invite_with_an_offer_for_each_customer() {
    let w = per_call_customers(&[]);
    assert_eq!(w.sip.agent_calls.len(), 3, "one agent INVITE per customer");
    let ports: Vec<&str> = w
        .sip
        .agent_calls
        .iter()
        .map(|a| {
            assert!(a.uri.contains("agent0001@"));
            a.offer
                .lines()
                .find(|l| l.starts_with("m=audio "))
                .expect("an audio offer")
        })
        .collect();
    assert_eq!(ports.len(), 3);
    assert_eq!(bridges(&w).len(), 3);
    assert_eq!(sip_count(&w, "Connect"), 0);
    assert_eq!(
        w.core.rtp_ports().0,
        w.core.rtp_ports().1,
        "agent legs closed with their calls"
    );
    assert!(w
        .store
        .finished
        .iter()
        .all(|(_, o)| o.disposition == CallDisposition::Connected));
}

#[test]
fn a_nailed_agent_on_a_flow_i_trunk_is_a_config_error_naming_it() {
    let mut c1 = campaign_yaml("c1", "progressive");
    c1 = c1.replacen("\"09:00-18:00\"", "\"00:00-23:59\"", 1);
    let config = "node: n1\nsip:\n  listen: 127.0.0.1:5060\n  trunks:\n    - {name: t1, address: \
         \"127.0.0.1:5070\", max_channels: 30, max_cps: 30, ping_interval: 0s, media: flow-i}\n  \
         groups:\n    - {name: lab, trunks: [t1]}\nagents:\n  - {uri: \
         \"sip:agent{n}@127.0.0.1:5080\", count: 2, group: lab, skills: [outbound, \
         verification], connect: nailed}\ncampaigns:\n  - {name: c1}\n";
    let err = match World::new(config, &[&c1], BTreeMap::new()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a nailed agent on a flow-i trunk was accepted"),
    };
    assert!(err.contains("agent0001") && err.contains("flow-i"), "{err}");
}

#[test]
fn a_flow_i_trunk_keeps_the_sip_join_and_opens_no_media() {
    let w = world("progressive", 1.0, 1, "", "flow-i", "20000-20099");
    let mut w = start(w, 2);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.sip.talk = S(10);
    w.run_for(S(60));
    assert_eq!(sip_count(&w, "Connect"), 2);
    assert!(w.media.commands.is_empty());
    assert!(w.sip.agent_calls.is_empty());
    assert!(w.sip.placed.iter().all(|p| p.offer.is_none()));
}

#[test]
fn a_phone_that_does_not_answer_keeps_its_agent_unavailable_and_is_retried_with_back_off() {
    let w = world("progressive", 1.0, 1, "", "anchor", "20000-20099");
    let mut w = start(w, 5);
    w.sip.agent_answer = None;
    w.run_for(S(40));
    assert!(
        w.sip.placed.is_empty(),
        "no customer dialled without an agent"
    );
    assert_eq!(agent_state(&mut w, "agent0001"), AgentState::LoggedOut);
    let at: Vec<f64> = w
        .sip
        .agent_calls
        .iter()
        .map(|a| a.at.saturating_duration_since(w.start).as_secs_f64())
        .collect();
    // Each attempt fails after 1 s; the waits before the next are 1, 2, 4, 8, 16 s.
    let gaps: Vec<u64> = at
        .windows(2)
        .map(|p| (p[1] - p[0]).round() as u64)
        .collect();
    assert_eq!(gaps, [2, 3, 5, 9, 17], "{at:?}");
    // Each failed attempt's port came back.
    let (free, all) = w.core.rtp_ports();
    assert!(all - free <= 1);
}

#[test]
fn no_rtp_from_a_nailed_agent_logs_it_out() {
    let w = world("progressive", 1.0, 1, "", "anchor", "20000-20099");
    let mut w = start(w, 5);
    w.sip.script = Box::new(|_, _| Answer::Never);
    w.run_for(S(3));
    assert_eq!(agent_state(&mut w, "agent0001"), AgentState::Reserved);
    let leg = w
        .media
        .commands
        .iter()
        .find_map(|(_, c)| match c {
            MediaCommand::Open { leg, .. } => Some(*leg),
            _ => None,
        })
        .expect("the agent's leg");
    w.inject_media(Duration::ZERO, MediaEvent::Timeout { leg });
    // At once, not when the hang-up's answer comes back; the reason is on the agent's view.
    w.run_for(Duration::from_millis(1));
    assert_eq!(agent_state(&mut w, "agent0001"), AgentState::LoggedOut);
    let reason = match w.admin(AdminRequest::Agents) {
        Some(AdminReply::Agents(Ok(v))) => v[0].pause_reason.clone(),
        other => panic!("agents: {other:?}"),
    };
    assert!(
        reason.as_deref().is_some_and(|r| r.contains("no RTP")),
        "{reason:?}"
    );
    assert!(
        sip_count(
            &w,
            &format!("Hangup {{ call: CallId({})", w.sip.agent_calls[0].call.0)
        ) >= 1,
        "the connection is hung up: {:?}",
        w.sip.commands
    );
}

#[test]
fn with_every_rtp_port_in_use_no_call_is_launched_until_one_comes_back() {
    // Two port pairs: the agent's connection takes one, a single customer the other.
    let mut w = world("power", 3.0, 1, "", "anchor", "20000-20003");
    w.store
        .rates
        .insert("c1".into(), ((1000, 10), (30_000, 300)));
    let mut w = start(w, 12);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.sip.talk = S(20);
    w.run_for(S(60));
    assert!(w.media.max_open <= 2);
    // The dialer is held to the free ports: no lead is burnt on a call that cannot be placed.
    let refused = w
        .store
        .finished
        .iter()
        .filter(|(_, o)| o.disposition == CallDisposition::TrunkFailure)
        .count();
    assert_eq!(refused, 0, "calls launched with no port to place them on");
    assert!(w.sip.placed.len() >= 2, "calls go on as ports come back");
    assert_eq!(w.sip.over_budget.len(), 0);
}

#[test]
fn a_customer_on_the_way_to_an_agent_whose_connection_is_lost_takes_the_abandon_path() {
    let mut w = world("progressive", 1.0, 1, "", "anchor", "20000-20099");
    assert!(w.core.set_media_setup(
        "c1",
        MediaSetup {
            abandon_prompt: Some(message()),
            recording: RecordingMode::All,
            ..MediaSetup::default()
        }
    ));
    let mut w = start(w, 1);
    w.sip.script = Box::new(|_, _| Answer::Live(S(8)));
    w.run_for(S(4));
    assert_eq!(
        w.sip.placed.len(),
        1,
        "the call for the reserved agent rings"
    );
    let agent_call = w.sip.agent_calls[0].call;
    w.inject_sip(
        Duration::ZERO,
        SipInput::Event(Event::Ended {
            call: agent_call,
            by: EndedBy::Agent,
        }),
    );
    w.run_for(S(20));
    assert!(bridges(&w).is_empty(), "nobody to bridge to");
    assert_eq!(
        messages(&w).len(),
        1,
        "the answered customer hears the message"
    );
    // Out of its dialer once that call was over, so the automatic agent could log in again
    // (the next claim renewal) with a new connection.
    assert_eq!(w.sip.agent_calls.len(), 2);
    assert_eq!(agent_state(&mut w, "agent0001"), AgentState::Ready);
    let (_, o) = w.store.finished.first().expect("record");
    assert_eq!(o.disposition, CallDisposition::Abandoned);
    // Recorded from the answer (`all`), the message included.
    assert!(o
        .media
        .as_ref()
        .and_then(|m| m.recording.as_deref())
        .is_some_and(|p| p.starts_with("recordings/c1/")));
    assert_eq!(
        w.media.count(|c| matches!(c, MediaCommand::Record { .. })),
        1
    );
}

#[test]
fn early_media_reaches_the_media_plane_before_the_answer() {
    let w = world("progressive", 1.0, 1, "", "anchor", "20000-20099");
    let mut w = start(w, 1);
    w.sip.script = Box::new(|_, _| Answer::Never);
    w.run_for(S(4));
    let call = w.sip.placed[0].call;
    let sdp = "v=0\r\no=c 1 1 IN IP4 10.9.9.9\r\ns=-\r\nc=IN IP4 10.9.9.9\r\nt=0 0\r\n\
               m=audio 31000 RTP/AVP 8\r\n";
    w.inject_sip(
        Duration::ZERO,
        SipInput::Event(Event::EarlyMedia {
            call,
            sdp: sdp.into(),
        }),
    );
    w.run_for(Duration::from_millis(10));
    let remote = w
        .media
        .commands
        .iter()
        .find_map(|(_, c)| match c {
            MediaCommand::Remote { remote, .. } if remote.addr.port() == 31_000 => {
                Some(remote.clone())
            }
            _ => None,
        })
        .expect("the 183's media");
    assert_eq!(remote.addr.ip().to_string(), "10.9.9.9");
    assert_eq!(remote.pt, 8, "PCMA, the only codec offered");
}

#[test]
fn a_failed_recording_never_drops_the_call_and_the_record_says_so() {
    let mut w = world("progressive", 1.0, 1, "", "anchor", "20000-20099");
    assert!(w.core.set_media_setup(
        "c1",
        MediaSetup {
            recording: RecordingMode::All,
            ..MediaSetup::default()
        }
    ));
    let mut w = start(w, 1);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.sip.talk = S(10);
    let mut customer = None;
    for _ in 0..100 {
        w.run_for(Duration::from_millis(100));
        customer = w.media.commands.iter().find_map(|(_, c)| match c {
            MediaCommand::Record { customer, .. } => Some(*customer),
            _ => None,
        });
        if customer.is_some() {
            break;
        }
    }
    let customer = customer.expect("recording started at the answer");
    w.inject_media(
        Duration::from_millis(100),
        MediaEvent::RecordingFailed {
            customer,
            reason: "No space left on device".into(),
        },
    );
    w.run_for(S(30));
    let (_, o) = w.store.finished.first().expect("record");
    assert_eq!(
        o.disposition,
        CallDisposition::Connected,
        "the call went on"
    );
    let m = o.media.as_ref().expect("media");
    assert!(m.recording.is_some());
    assert_eq!(
        m.recording_failed.as_deref(),
        Some("No space left on device")
    );
}

#[test]
fn at_shutdown_bridged_customers_are_cut_as_shutdown_and_the_connections_end_last() {
    let w = world("progressive", 1.0, 2, "", "anchor", "20000-20099");
    let mut w = start(w, 4);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.sip.talk = S(600);
    w.run_for(S(10));
    assert_eq!(bridges(&w).len(), 2);
    w.core.begin_stop(w.now);
    w.run_for(S(60));
    assert!(w.core.is_done());
    let disp: Vec<_> = w
        .store
        .finished
        .iter()
        .map(|(_, o)| o.disposition)
        .collect();
    assert_eq!(disp, [CallDisposition::Shutdown, CallDisposition::Shutdown]);
    let connections: Vec<String> = w
        .sip
        .agent_calls
        .iter()
        .map(|a| format!("Hangup {{ call: CallId({}) }}", a.call.0))
        .collect();
    let hung: Vec<usize> = w
        .sip
        .commands
        .iter()
        .enumerate()
        .filter(|(_, (_, c))| connections.contains(c))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hung.len(), 2, "each connection hung up once, at the end");
    assert_eq!(w.core.rtp_ports().0, w.core.rtp_ports().1);
}

#[test]
fn a_port_another_program_holds_fails_one_call_which_is_retried_soon_and_is_not_used_again() {
    // Four port pairs: the agent's connection takes 20000; customers take 20002, 20004, 20006
    // in turn. Something else holds 20002: without a quarantine every third call fails on it.
    let w = world("progressive", 1.0, 1, "", "anchor", "20000-20007");
    let mut w = start(w, 8);
    w.media.taken.insert(20002);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.sip.talk = S(10);
    // Well inside the quarantine: 8 calls of ~18 s cycle the three customer ports twice.
    w.run_for(S(300));

    // Our failure, retried in minutes by default; not the customer's no-answer (an hour).
    one_call_on_the_bad_port_then_connected(&w, CallDisposition::TrunkFailure);
    let (free, all) = w.core.rtp_ports();
    assert_eq!(
        free,
        all - 2,
        "the agent's port and the quarantined one are not free"
    );
}

#[test]
fn a_port_whose_failure_is_reported_after_its_call_ended_is_not_used_again() {
    // The first call is busy after 100 ms: its leg closes and gives 20002 back before the media
    // plane reports, at 500 ms, that 20002 could not be bound. The port must still be
    // quarantined, or the next calls that draw it fail on it one after another.
    let w = world("progressive", 1.0, 1, "", "anchor", "20000-20007");
    let mut w = start(w, 8);
    w.media.taken.insert(20002);
    w.media.fail_after = Duration::from_millis(500);
    w.sip.script = Box::new(|_, lead| {
        if lead == 1 {
            Answer::Busy(Duration::from_millis(100))
        } else {
            Answer::Live(S(3))
        }
    });
    w.sip.talk = S(10);
    w.run_for(S(300));

    one_call_on_the_bad_port_then_connected(&w, CallDisposition::Busy);
}

/// 20002 was opened once (by the first of the 8 calls, which reached `first`) and every later
/// call was connected: none failed on the bad port.
fn one_call_on_the_bad_port_then_connected(w: &World, first: CallDisposition) {
    assert_eq!(
        opens_on(w, 20002),
        1,
        "the failed port was handed out again"
    );
    let disps = dispositions(w);
    assert_eq!(disps.len(), 8, "{disps:?}");
    assert_eq!(disps[0], first, "{disps:?}");
    assert!(
        disps[1..].iter().all(|d| *d == CallDisposition::Connected),
        "a later call failed on the bad port: {disps:?}"
    );
}

#[test]
fn a_per_call_agent_leg_that_cannot_bind_calls_the_agent_again_on_another_port() {
    // Customers and agent legs draw ports in turn: the first customer takes 20000 and its
    // agent leg 20002, which something else holds. The agent is called again on another port
    // and the customer is connected, not hung up or abandoned.
    let w = per_call_customers(&[20002]);

    let agent_ports: Vec<&str> = w
        .sip
        .agent_calls
        .iter()
        .filter_map(|a| a.offer.lines().find(|l| l.starts_with("m=audio ")))
        .collect();
    assert_eq!(
        agent_ports.len(),
        4,
        "one agent INVITE more: {agent_ports:?}"
    );
    assert!(
        agent_ports[0].starts_with("m=audio 20002 "),
        "{agent_ports:?}"
    );
    assert!(
        agent_ports[1..]
            .iter()
            .all(|p| !p.starts_with("m=audio 20002 ")),
        "the bad port offered again: {agent_ports:?}"
    );
    assert_eq!(bridges(&w).len(), 3, "every customer bridged to the agent");
    let disps = dispositions(&w);
    assert_eq!(disps, [CallDisposition::Connected; 3]);
    let (free, all) = w.core.rtp_ports();
    assert_eq!(free, all - 1, "only the quarantined port is not free");
}

#[test]
fn a_customer_whose_agent_leg_cannot_bind_twice_is_abandoned_not_hung_up_on() {
    // The first agent leg (20002) and the one tried again (20004) are both held elsewhere: the
    // customer takes the abandon path, counted as an abandon, and the next customers connect.
    let w = per_call_customers(&[20002, 20004]);

    let disps = dispositions(&w);
    assert_eq!(
        disps,
        [
            CallDisposition::Abandoned,
            CallDisposition::Connected,
            CallDisposition::Connected
        ]
    );
    let (free, all) = w.core.rtp_ports();
    assert_eq!(free, all - 2, "the two quarantined ports are not free");
}
