//! Inbound calls on the media plane in virtual time (`engine::harness::World`): a caller from a
//! `media: anchor` trunk is answered with outdial's own SDP (not the agent's) and switched into
//! the agent's nailed-up connection with no SIP to the agent; its port goes back to the pool
//! when it hangs up; a caller no agent took hears the campaign's abandon message, then is hung
//! up; a caller from a `media: flow-i` trunk is still joined to the agent by SIP.

use crate::engine_support;

use std::sync::Arc;
use std::time::Duration;

use engine_support::campaign_yaml;
use outdial::engine::core::{MediaSetup, SipInput};
use outdial::engine::harness::World;
use outdial::media::io::{LegId, MediaCommand, Prompt};
use outdial::sip::endpoint::{CallId as SipCall, EndedBy, Event};

const S: fn(u64) -> Duration = Duration::from_secs;

/// The caller's SDP offer: PCMU and telephone-event on 127.0.0.1:46000.
const CALLER_OFFER: &str = "v=0\r\no=caller 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
                            t=0 0\r\nm=audio 46000 RTP/AVP 0 101\r\n\
                            a=rtpmap:101 telephone-event/8000\r\n";

/// A one-second abandon message.
fn message() -> Prompt {
    Prompt(Arc::from(vec![100i16; 8_000]))
}

/// Campaign `c1` (no leads: its agents only take inbound calls) on trunk group `lab`, whose
/// trunk `t1` has media `media`; `agents` blended automatic agents with `connect` (or the
/// default); RTP ports 20000-20099;
/// callers wait at most 20 s.
fn world(agents: u32, media: &str, connect: &str) -> World {
    let c1 = campaign_yaml("c1", "progressive").replacen("\"09:00-18:00\"", "\"00:00-23:59\"", 1);
    let config = format!(
        "node: n1\nsip:\n  listen: 127.0.0.1:5060\n  inbound_queue_timeout: 20s\n  trunks:\n    \
         - {{name: t1, address: \"127.0.0.1:5070\", max_channels: 30, max_cps: 30, \
         ping_interval: 0s, media: {media}}}\n  groups:\n    - {{name: lab, trunks: [t1]}}\n\
         media: {{ports: 20000-20099}}\nagents:\n  - {{uri: \"sip:agent{{n}}@127.0.0.1:5080\", \
         count: {agents}, group: lab, skills: [outbound, inbound, verification], wrap_up: \
         auto{connect}}}\nauto_wrap_time: {{dist: constant, mean: 5s}}\nnode_ttl: 3s\ncampaigns:\n  - \
         {{name: c1}}\n"
    );
    engine_support::lab_world(&config, &[&c1])
}

/// An INVITE from trunk `t1` with the caller's offer, `after` from now.
fn caller(w: &mut World, after: Duration, call: SipCall) {
    w.inject_sip(
        after,
        SipInput::Event(Event::InboundCall {
            call,
            from: format!("+659000{}", call.0),
            to: "6560885500".into(),
            request_uri: "sip:6560885500@127.0.0.1:5060".into(),
            offer: Some(CALLER_OFFER.into()),
            authorization: None,
            source: ([127, 0, 0, 1], 5070).into(),
            trunk: Some("t1".into()),
        }),
    );
}

fn hang_up(w: &mut World, after: Duration, call: SipCall) {
    w.inject_sip(
        after,
        SipInput::Event(Event::Ended {
            call,
            by: EndedBy::Customer,
        }),
    );
}

fn sip_count(w: &World, prefix: &str) -> usize {
    w.sip
        .commands
        .iter()
        .filter(|(_, c)| c.starts_with(prefix))
        .count()
}

fn opened(w: &World) -> Vec<(LegId, u16)> {
    w.media
        .commands
        .iter()
        .filter_map(|(_, c)| match c {
            MediaCommand::Open {
                leg, local_port, ..
            } => Some((*leg, *local_port)),
            _ => None,
        })
        .collect()
}

/// The `m=audio` port of an SDP.
fn audio_port(sdp: &str) -> Option<u16> {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
}

#[test]
fn an_anchored_caller_is_answered_by_outdial_and_bridged_into_the_nailed_agent() {
    let mut w = world(1, "anchor", "");
    w.start(Vec::new());
    let call = SipCall(9_000_001);
    caller(&mut w, S(5), call);
    w.run_for(S(15));

    assert_eq!(
        w.sip.agent_calls.len(),
        1,
        "one INVITE to the agent, at login"
    );
    let nailed = opened(&w)[0].0;
    assert_eq!(sip_count(&w, "Connect"), 0, "no SIP join to the agent");
    // outdial answered the caller with its own SDP on a port of its pool.
    assert_eq!(w.sip.inbound_answers.len(), 1, "{:?}", w.sip.commands);
    let (answered, sdp) = &w.sip.inbound_answers[0];
    assert_eq!(*answered, call);
    assert!(sdp.contains("o=outdial"), "{sdp}");
    let port = audio_port(sdp).expect("answer has m=audio");
    assert!((20_000..=20_099).contains(&port), "{sdp}");
    let customer = opened(&w)
        .into_iter()
        .find(|(_, p)| *p == port)
        .map(|(l, _)| l)
        .expect("the answer's port is an open leg");
    // The caller's offer tells the media plane where to send.
    assert!(w.media.commands.iter().any(|(_, c)| matches!(
        c,
        MediaCommand::Remote { leg, remote } if *leg == customer && remote.addr.port() == 46_000
    )));
    let bridges: Vec<_> = w
        .media
        .commands
        .iter()
        .filter_map(|(_, c)| match c {
            MediaCommand::Bridge { customer, agent } => Some((*customer, *agent)),
            _ => None,
        })
        .collect();
    assert_eq!(bridges, vec![(customer, nailed)]);
    // The pool holds 50 RTP ports (even ones) in 20000-20099.
    assert_eq!(
        w.core.rtp_ports(),
        (48, 50),
        "agent and caller legs hold a port"
    );

    // The caller hangs up: its leg closes, the port is free again, the agent stays connected.
    hang_up(&mut w, S(1), call);
    w.run_for(S(5));
    assert!(w
        .media
        .commands
        .iter()
        .any(|(_, c)| matches!(c, MediaCommand::Close { leg } if *leg == customer)));
    assert_eq!(w.core.rtp_ports(), (49, 50));
    assert!(w.media.open.contains_key(&nailed));
    assert_eq!(w.sip.agent_calls.len(), 1);
}

#[test]
fn an_anchored_caller_no_agent_takes_hears_the_abandon_message_then_is_hung_up() {
    let mut w = world(1, "anchor", "");
    assert!(w.core.set_media_setup(
        "c1",
        MediaSetup {
            abandon_prompt: Some(message()),
            ..MediaSetup::default()
        }
    ));
    w.start(Vec::new());
    // The only agent talks to the first caller for the whole test.
    let (first, second) = (SipCall(9_000_001), SipCall(9_000_002));
    caller(&mut w, S(5), first);
    caller(&mut w, S(6), second);
    w.run_for(S(40));

    let answers: Vec<SipCall> = w.sip.inbound_answers.iter().map(|(c, _)| *c).collect();
    assert_eq!(answers, vec![first, second], "answered before the message");
    let port = audio_port(&w.sip.inbound_answers[1].1).expect("m=audio");
    let leg = opened(&w)
        .into_iter()
        .find(|(_, p)| *p == port)
        .map(|(l, _)| l)
        .expect("second caller's leg");
    assert_eq!(
        w.media.count(|c| matches!(
            c,
            MediaCommand::Play { leg: l, prompt } if *l == leg && prompt.0.len() == 8_000
        )),
        1
    );
    assert!(
        w.sip
            .commands
            .iter()
            .any(|(_, c)| c == &format!("Hangup {{ call: {second:?} }}")),
        "hung up after the message: {:?}",
        w.sip.commands
    );
    assert_eq!(sip_count(&w, "Reject"), 0);
    hang_up(&mut w, S(1), second);
    hang_up(&mut w, S(1), first);
    w.run_for(S(5));
    assert_eq!(
        w.core.rtp_ports(),
        (49, 50),
        "both callers' ports back; the agent's stays"
    );
}

#[test]
fn a_flow_i_caller_is_still_joined_to_the_agent_by_sip() {
    let mut w = world(1, "flow-i", "");
    w.start(Vec::new());
    let call = SipCall(9_000_001);
    caller(&mut w, S(5), call);
    w.run_for(S(15));

    assert_eq!(sip_count(&w, "Connect"), 1, "{:?}", w.sip.commands);
    assert!(w.sip.inbound_answers.is_empty());
    assert!(w.sip.agent_calls.is_empty(), "no nailed-up connection");
    assert!(opened(&w).is_empty(), "no media leg");
    assert_eq!(w.core.rtp_ports(), (50, 50));
}

#[test]
fn an_anchored_caller_taken_by_a_per_call_agent_is_bridged_when_the_phone_answers() {
    let mut w = world(1, "anchor", ", connect: per-call");
    w.sip.agent_answer = Some(S(2));
    w.start(Vec::new());
    let call = SipCall(9_000_001);
    caller(&mut w, S(5), call);
    w.run_for(S(15));

    assert_eq!(sip_count(&w, "Connect"), 0, "no SIP join");
    assert_eq!(w.sip.inbound_answers.len(), 1);
    assert_eq!(
        w.sip.agent_calls.len(),
        1,
        "one INVITE to the agent for the caller"
    );
    let agent_port = audio_port(&w.sip.agent_calls[0].offer).expect("offer port");
    let caller_port = audio_port(&w.sip.inbound_answers[0].1).expect("answer port");
    let leg_of = |p: u16| {
        opened(&w)
            .into_iter()
            .find(|(_, q)| *q == p)
            .map(|(l, _)| l)
    };
    let (customer, agent) = (leg_of(caller_port), leg_of(agent_port));
    assert!(w.media.commands.iter().any(|(_, c)| matches!(
        c,
        MediaCommand::Bridge { customer: c1, agent: a1 } if Some(*c1) == customer && Some(*a1) == agent
    )));
    // The caller hangs up: the agent's call is hung up and both ports come back.
    hang_up(&mut w, S(1), call);
    w.run_for(S(5));
    assert!(w
        .sip
        .commands
        .iter()
        .any(|(_, c)| c == &format!("Hangup {{ call: {:?} }}", w.sip.agent_calls[0].call)));
    assert_eq!(w.core.rtp_ports(), (50, 50));
}

#[test]
fn a_per_call_agent_leg_that_cannot_bind_calls_the_agent_again_and_the_caller_is_bridged() {
    // The caller's leg takes 20000 and the agent's 20002, which another program holds: the
    // agent is called again on another port, and the caller reaches the agent.
    let mut w = world(1, "anchor", ", connect: per-call");
    w.media.taken.insert(20002);
    w.sip.agent_answer = Some(S(2));
    w.start(Vec::new());
    let call = SipCall(9_000_001);
    caller(&mut w, S(5), call);
    w.run_for(S(15));

    let ports: Vec<Option<u16>> = w
        .sip
        .agent_calls
        .iter()
        .map(|a| audio_port(&a.offer))
        .collect();
    assert_eq!(ports.len(), 2, "the agent called again: {ports:?}");
    assert_eq!(ports[0], Some(20002), "{ports:?}");
    let again = ports[1].filter(|p| *p != 20002).expect("another port");
    let agent = opened(&w)
        .into_iter()
        .find(|(_, p)| *p == again)
        .map(|(l, _)| l);
    assert!(
        w.media.commands.iter().any(|(_, c)| matches!(
            c,
            MediaCommand::Bridge { agent: a, .. } if Some(*a) == agent
        )),
        "the caller bridged to the agent's second leg"
    );
    assert!(
        !w.sip
            .commands
            .iter()
            .any(|(_, c)| c == &format!("Hangup {{ call: {call:?} }}")),
        "the caller was hung up"
    );
}
