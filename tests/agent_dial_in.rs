//! Agents that dial in for their nailed-up connection (issue 17, `connect: dial-in`).
//!
//! In virtual time (`engine::harness::World`, scripted SIP and media sides): the phone's INVITE
//! is challenged, a wrong password gets 403, an unknown user 404, the right one is answered with
//! outdial's SDP and, once ACKed, the agent is available and customers are bridged into that
//! connection with the connect tone; a second connection gets 486, a replayed nonce count 403, a
//! stale nonce a new challenge with `stale=true`; the phone's BYE logs the agent out and outdial
//! never calls the phone.
//!
//! With real peers (`live` below): the real `outdial run` on loopback, SIPp as the agent's phone
//! dialling in with `[authentication]`, streaming RTP, and a wrong password refused with 403.

mod engine_support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use engine_support::campaign_yaml;
use outdial::admin::{AgentState, AgentView};
use outdial::campaign::CallDisposition;
use outdial::engine::core::{AdminReply, AdminRequest, SipInput};
use outdial::engine::harness::{Answer, GroupLimits, World};
use outdial::media::io::MediaCommand;
use outdial::sip::digest::{authorization_counted, Challenge, Credentials};
use outdial::sip::endpoint::{CallId as SipCall, EndedBy, Event};

const S: fn(u64) -> Duration = Duration::from_secs;
const PASSWORD: &str = "s3cret-phone";

/// Campaign `c1` (progressive, open all day) on an anchored trunk; agent `agent0001` dials in
/// with `PASSWORD`; a called agent `agent0002` exists too (not dial-in), wrap-up automatic.
fn world(agent2: bool) -> World {
    let c1 = campaign_yaml("c1", "progressive").replacen("\"09:00-18:00\"", "\"00:00-23:59\"", 1);
    let second = if agent2 {
        "  - {uri: \"sip:agent0002@127.0.0.1:5082\", group: lab, skills: [outbound, \
         verification], wrap_up: auto, connect: nailed}\n"
    } else {
        ""
    };
    let config = format!(
        "node: n1\nsip:\n  listen: 127.0.0.1:5060\n  trunks:\n    - {{name: t1, address: \
         \"127.0.0.1:5070\", max_channels: 30, max_cps: 30, ping_interval: 0s, media: anchor}}\n  \
         groups:\n    - {{name: lab, trunks: [t1]}}\nmedia: {{ports: 20000-20099}}\nagents:\n  - \
         {{uri: \"sip:agent0001@127.0.0.1:5080\", group: lab, skills: [outbound, verification], \
         wrap_up: auto, connect: dial-in, password: {PASSWORD}}}\n{second}\
         auto_wrap_time: {{dist: constant, mean: 5s}}\nnode_ttl: 3s\ncampaigns:\n  - {{name: c1}}\n"
    );
    let groups = BTreeMap::from([(
        "lab".to_string(),
        GroupLimits {
            channels: 30,
            cps: 30,
        },
    )]);
    let mut w = World::new(&config, &[&c1], groups).expect("world");
    let wall = w.wall_ms();
    w.store.add_leads("c1", 1, 3, wall, None);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.sip.talk = S(10);
    w.start(Vec::new());
    w
}

/// The phone's SDP offer (its RTP on 127.0.0.1:`port`).
fn phone_sdp(port: u16) -> String {
    format!(
        "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    )
}

/// The phone's INVITE to `sip:<to>@engine` as the endpoint reports it.
fn invite(call: u64, to: &str, authorization: Option<String>) -> SipInput {
    SipInput::Event(Event::InboundCall {
        call: SipCall(call),
        from: to.to_string(),
        to: to.to_string(),
        offer: Some(phone_sdp(52_000)),
        authorization,
        source: SocketAddr::from(([127, 0, 0, 1], 5080)),
        trunk: None,
    })
}

/// What the phone answers to the challenge `nonce`, with `password`, as its `nc`-th use.
fn answer(nonce: &str, password: &str, nc: u32) -> String {
    let ch = Challenge::parse(&format!(
        "Digest realm=\"outdial\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5"
    ))
    .expect("challenge");
    let c = Credentials {
        username: "agent0001".into(),
        password: password.into(),
    };
    authorization_counted(
        &c,
        &ch,
        "INVITE",
        "sip:agent0001@127.0.0.1:5060",
        "0a4f113b",
        nc,
    )
}

fn agent_view(w: &mut World, id: &str) -> AgentView {
    match w.admin(AdminRequest::Agents) {
        Some(AdminReply::Agents(Ok(v))) => {
            v.into_iter().find(|a| a.id == id).expect("agent listed")
        }
        other => panic!("agents: {other:?}"),
    }
}

fn agent_state(w: &mut World, id: &str) -> AgentState {
    agent_view(w, id).state
}

/// The status each refused phone call got, from the commands the engine sent.
fn rejected(w: &World, call: u64) -> Option<u16> {
    let prefix = format!("Reject {{ call: CallId({call}), code: ");
    w.sip.commands.iter().find_map(|(_, c)| {
        c.strip_prefix(&prefix)
            .and_then(|r| r.trim_end_matches(" }").parse().ok())
    })
}

fn deliver(w: &mut World, input: SipInput) {
    w.inject_sip(Duration::ZERO, input);
    w.run_for(Duration::from_millis(50));
}

#[test]
fn a_dial_in_agent_is_challenged_authenticated_bridged_to_customers_and_logged_out_by_its_bye() {
    let mut w = world(false);
    w.run_for(S(2));
    assert!(
        w.sip.agent_calls.is_empty(),
        "a dial-in phone is never called"
    );
    assert!(
        w.sip.placed.is_empty(),
        "no customer before the agent is connected"
    );
    assert_ne!(agent_state(&mut w, "agent0001"), AgentState::Ready);

    // The first INVITE has no credentials: 401 with a fresh nonce in the engine's realm.
    deliver(&mut w, invite(900, "agent0001", None));
    assert_eq!(w.sip.challenges.len(), 1);
    let ch = w.sip.challenges[0].clone();
    assert_eq!(
        (ch.call, ch.realm.as_str(), ch.stale),
        (SipCall(900), "outdial", false)
    );
    assert_eq!(ch.nonce.len(), 32);

    // A wrong password after the challenge: 403, no media opened.
    deliver(
        &mut w,
        invite(901, "agent0001", Some(answer(&ch.nonce, "guess", 1))),
    );
    assert_eq!(rejected(&w, 901), Some(403));
    assert_eq!(w.media.open.len(), 0);

    // Nobody of that name: 404.
    deliver(&mut w, invite(902, "agent9999", None));
    assert_eq!(rejected(&w, 902), Some(404));

    // The right password: answered with outdial's SDP on a leg of its own, pointed at the phone.
    deliver(
        &mut w,
        invite(903, "agent0001", Some(answer(&ch.nonce, PASSWORD, 1))),
    );
    assert_eq!(rejected(&w, 903), None);
    let (call, sdp) = w.sip.inbound_answers.last().cloned().expect("answered");
    assert_eq!(call, SipCall(903));
    assert!(
        sdp.contains("m=audio 200") && sdp.contains("c=IN IP4 127.0.0.1"),
        "{sdp}"
    );
    let phone_leg = w
        .media
        .commands
        .iter()
        .find_map(|(_, c)| match c {
            MediaCommand::Remote { leg, remote } if remote.addr.port() == 52_000 => Some(*leg),
            _ => None,
        })
        .expect("the phone's address reached the media plane");
    assert_ne!(
        agent_state(&mut w, "agent0001"),
        AgentState::Ready,
        "not before the ACK"
    );

    deliver(
        &mut w,
        SipInput::Event(Event::Acked {
            call: SipCall(903),
            answer: None,
        }),
    );
    assert_eq!(agent_state(&mut w, "agent0001"), AgentState::Ready);

    // A second connection for the same agent (a fresh nonce count): 486.
    deliver(
        &mut w,
        invite(904, "agent0001", Some(answer(&ch.nonce, PASSWORD, 2))),
    );
    assert_eq!(rejected(&w, 904), Some(486));
    // The accepted header again (a replay): 403.
    deliver(
        &mut w,
        invite(905, "agent0001", Some(answer(&ch.nonce, PASSWORD, 2))),
    );
    assert_eq!(rejected(&w, 905), Some(403));

    // Customers are bridged into the phone's connection, each announced by the tone.
    w.run_for(S(60));
    let bridged: Vec<_> = w
        .media
        .commands
        .iter()
        .filter_map(|(_, c)| match c {
            MediaCommand::Bridge { agent, .. } => Some(*agent),
            _ => None,
        })
        .collect();
    assert_eq!(bridged.len(), 3, "three customers bridged");
    assert!(
        bridged.iter().all(|a| *a == phone_leg),
        "into the phone's leg"
    );
    let tones = w
        .media
        .count(|c| matches!(c, MediaCommand::Play { leg, .. } if *leg == phone_leg));
    assert_eq!(tones, 3, "a connect tone per customer");
    assert!(w
        .store
        .finished
        .iter()
        .all(|(_, o)| o.disposition == CallDisposition::Connected));
    assert_eq!(w.store.finished.len(), 3);

    // A stale nonce with the right password: challenged again with stale=true.
    deliver(
        &mut w,
        invite(906, "agent0001", Some(answer(&ch.nonce, PASSWORD, 3))),
    );
    let again = w.sip.challenges.last().expect("challenge");
    assert_eq!((again.call, again.stale), (SipCall(906), true));
    assert_ne!(again.nonce, ch.nonce);

    // The phone hangs up: logged out with a reason, its leg closed, and never called back.
    deliver(
        &mut w,
        SipInput::Event(Event::Ended {
            call: SipCall(903),
            by: EndedBy::Agent,
        }),
    );
    let view = agent_view(&mut w, "agent0001");
    assert_eq!(view.state, AgentState::LoggedOut);
    assert!(
        view.pause_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("logged out: ") && r.contains("hung up")),
        "{view:?}"
    );
    assert_eq!(
        w.media
            .count(|c| matches!(c, MediaCommand::Close { leg } if *leg == phone_leg)),
        1
    );
    w.run_for(S(30));
    assert!(
        w.sip.agent_calls.is_empty(),
        "no retry call to a dial-in phone"
    );
    assert_eq!(
        w.core.rtp_ports().0,
        w.core.rtp_ports().1,
        "every port back"
    );

    // The phone calls again: a new connection with a fresh challenge.
    deliver(&mut w, invite(907, "agent0001", None));
    let ch = w.sip.challenges.last().cloned().expect("challenge");
    assert_eq!(ch.call, SipCall(907));
    deliver(
        &mut w,
        invite(908, "agent0001", Some(answer(&ch.nonce, PASSWORD, 1))),
    );
    assert_eq!(
        w.sip.inbound_answers.last().map(|a| a.0),
        Some(SipCall(908))
    );
}

#[test]
fn an_invite_naming_a_called_agent_is_no_dial_in_and_an_ack_never_ups_a_refused_call() {
    let mut w = world(true);
    w.run_for(S(2));
    // agent0002 is called by outdial; its name dialled from a phone is no way in.
    deliver(&mut w, invite(950, "agent0002", None));
    assert_eq!(rejected(&w, 950), Some(403));
    assert!(w.sip.challenges.is_empty());
    // An ACK for a refused or unknown call changes nothing.
    deliver(
        &mut w,
        SipInput::Event(Event::Acked {
            call: SipCall(950),
            answer: None,
        }),
    );
    assert_ne!(agent_state(&mut w, "agent0001"), AgentState::Ready);
}
