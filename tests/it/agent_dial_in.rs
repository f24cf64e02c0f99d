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

use crate::engine_support;

use std::net::SocketAddr;
use std::time::Duration;

use engine_support::campaign_yaml;
use outdial::admin::{AgentAction, AgentState, AgentView, WrapUpCode};
use outdial::campaign::CallDisposition;
use outdial::engine::core::{AdminReply, AdminRequest, SipInput};
use outdial::engine::harness::{Answer, World};
use outdial::media::io::{MediaCommand, MediaEvent};
use outdial::sip::digest::{authorization_counted, Challenge, Credentials};
use outdial::sip::endpoint::{CallId as SipCall, EndedBy, Event};

const S: fn(u64) -> Duration = Duration::from_secs;
const PASSWORD: &str = "s3cret-phone";

/// Campaign `c1` (progressive, open all day) on an anchored trunk; agent `agent0001` dials in
/// with `PASSWORD`; a called agent `agent0002` exists too (not dial-in), wrap-up automatic.
fn world(agent2: bool) -> World {
    world_with(agent2, "")
}

/// [`world`] with `sip_extra` (lines of the `sip:` section) added.
fn world_with(agent2: bool, sip_extra: &str) -> World {
    let c1 = campaign_yaml("c1", "progressive").replacen("\"09:00-18:00\"", "\"00:00-23:59\"", 1);
    let second = if agent2 {
        "  - {uri: \"sip:agent0002@127.0.0.1:5082\", group: lab, skills: [outbound, \
         verification], wrap_up: auto, connect: nailed}\n"
    } else {
        ""
    };
    let config = format!(
        "node: n1\nsip:\n  listen: 127.0.0.1:5060\n{sip_extra}  trunks:\n    - {{name: t1, address: \
         \"127.0.0.1:5070\", max_channels: 30, max_cps: 30, ping_interval: 0s, media: anchor}}\n  \
         groups:\n    - {{name: lab, trunks: [t1]}}\nmedia: {{ports: 20000-20099}}\nagents:\n  - \
         {{uri: \"sip:agent0001@127.0.0.1:5080\", group: lab, skills: [outbound, verification], \
         wrap_up: auto, connect: dial-in, password: {PASSWORD}}}\n{second}\
         auto_wrap_time: {{dist: constant, mean: 5s}}\nnode_ttl: 3s\ncampaigns:\n  - {{name: c1}}\n"
    );
    let mut w = engine_support::lab_world(&config, &[&c1]);
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
    invite_to(call, to, &format!("sip:{to}@127.0.0.1:5060"), authorization)
}

/// [`invite`] with the Request-URI written out.
fn invite_to(call: u64, to: &str, request_uri: &str, authorization: Option<String>) -> SipInput {
    SipInput::Event(Event::InboundCall {
        call: SipCall(call),
        from: to.to_string(),
        to: to.to_string(),
        request_uri: request_uri.to_string(),
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

/// One dial-in agent working through the agent API (logged out at start), three leads.
#[test]
fn a_digest_for_another_uri_gets_400_and_the_nonce_lives_as_long_as_configured() {
    let mut w = world_with(false, "  nonce_lifetime: 5s\n");
    deliver(&mut w, invite(950, "agent0001", None));
    let ch = w.sip.challenges[0].clone();
    // The right password, hashed for `sip:agent0001@127.0.0.1:5060`, on an INVITE whose
    // Request-URI names another port: the response was not computed for this request.
    deliver(
        &mut w,
        invite_to(
            951,
            "agent0001",
            "sip:agent0001@127.0.0.1:5099",
            Some(answer(&ch.nonce, PASSWORD, 1)),
        ),
    );
    assert_eq!(rejected(&w, 951), Some(400));
    assert!(w.media.open.is_empty(), "nothing opened for it");
    assert_eq!(w.sip.challenges.len(), 1, "no new challenge either");

    // 6 s later (past the configured 5 s, well inside the default 30 s) the same nonce, never
    // spent by the refused attempt, is stale: a new challenge with stale=true.
    w.run_for(S(6));
    deliver(
        &mut w,
        invite(952, "agent0001", Some(answer(&ch.nonce, PASSWORD, 1))),
    );
    let again = w.sip.challenges.last().cloned().expect("challenge");
    assert_eq!((again.call, again.stale), (SipCall(952), true));
    assert_eq!(rejected(&w, 952), None);

    // The fresh nonce answered within its 5 s, the uri matching: connected.
    w.run_for(S(4));
    deliver(
        &mut w,
        invite(953, "agent0001", Some(answer(&again.nonce, PASSWORD, 1))),
    );
    assert_eq!(rejected(&w, 953), None);
    let (call, _) = w.sip.inbound_answers.last().cloned().expect("answered");
    assert_eq!(call, SipCall(953));
}

fn api_world() -> World {
    let c1 = campaign_yaml("c1", "progressive").replacen("\"09:00-18:00\"", "\"00:00-23:59\"", 1);
    let config = format!(
        "node: n1\nsip:\n  listen: 127.0.0.1:5060\n  trunks:\n    - {{name: t1, address: \
         \"127.0.0.1:5070\", max_channels: 30, max_cps: 30, ping_interval: 0s, media: \
         anchor}}\n  groups:\n    - {{name: lab, trunks: [t1]}}\nagents:\n  - {{uri: \
         \"sip:agent0001@127.0.0.1:5080\", group: lab, skills: [outbound, verification], \
         connect: dial-in, password: {PASSWORD}}}\nnode_ttl: 3s\ncampaigns:\n  - {{name: c1}}\n"
    );
    let mut w = engine_support::lab_world(&config, &[&c1]);
    let wall = w.wall_ms();
    w.store.add_leads("c1", 1, 3, wall, None);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.sip.talk = S(10);
    w.start(Vec::new());
    w
}

fn act(w: &mut World, action: AgentAction) -> Option<AdminReply> {
    w.admin(AdminRequest::AgentAction("agent0001".into(), action))
}

#[test]
fn a_phone_that_dials_in_before_its_agent_logs_in_is_kept_for_the_login_and_hung_up_at_logout() {
    let mut w = api_world();
    w.run_for(S(2));
    deliver(&mut w, invite(800, "agent0001", None));
    let nonce = w.sip.challenges[0].nonce.clone();
    deliver(
        &mut w,
        invite(801, "agent0001", Some(answer(&nonce, PASSWORD, 1))),
    );
    deliver(
        &mut w,
        SipInput::Event(Event::Acked {
            call: SipCall(801),
            answer: None,
        }),
    );
    assert_eq!(
        w.sip.inbound_answers.last().map(|a| a.0),
        Some(SipCall(801))
    );
    w.run_for(S(5));
    assert!(
        w.sip.placed.is_empty(),
        "connected, but nobody dialled before the login"
    );
    let hung_up = |w: &World| {
        w.sip
            .commands
            .iter()
            .any(|(_, c)| c == "Hangup { call: CallId(801) }")
    };
    assert!(!hung_up(&w), "the connection is kept for the login");

    assert!(matches!(
        act(&mut w, AgentAction::Login),
        Some(AdminReply::Agent(Ok(_)))
    ));
    let _ = act(&mut w, AgentAction::Ready);
    w.run_for(S(5));
    assert_eq!(
        w.sip.placed.len(),
        1,
        "the agent's first customer is dialled at once"
    );
    // Pause at the next wrap-up, then log out: outdial hangs the connection up.
    let _ = act(
        &mut w,
        AgentAction::Pause {
            reason: "end of shift".into(),
        },
    );
    w.run_for(S(20));
    let _ = act(
        &mut w,
        AgentAction::WrapUp {
            disposition: WrapUpCode::Completed,
            note: None,
        },
    );
    let _ = act(
        &mut w,
        AgentAction::Pause {
            reason: "end of shift".into(),
        },
    );
    let out = act(&mut w, AgentAction::Logout);
    assert!(
        matches!(out, Some(AdminReply::Agent(Ok(_)))),
        "logout: {out:?}"
    );
    w.run_for(S(1));
    assert!(hung_up(&w), "{:?}", w.sip.commands);
    assert_eq!(
        w.core.rtp_ports().0,
        w.core.rtp_ports().1,
        "every port back"
    );
}

#[test]
fn no_rtp_from_a_dialled_in_phone_logs_its_agent_out_and_hangs_the_phone_up() {
    let mut w = world(false);
    w.run_for(S(2));
    deliver(&mut w, invite(700, "agent0001", None));
    let nonce = w.sip.challenges[0].nonce.clone();
    deliver(
        &mut w,
        invite(701, "agent0001", Some(answer(&nonce, PASSWORD, 1))),
    );
    deliver(
        &mut w,
        SipInput::Event(Event::Acked {
            call: SipCall(701),
            answer: None,
        }),
    );
    let leg = w
        .media
        .commands
        .iter()
        .find_map(|(_, c)| match c {
            MediaCommand::Open { leg, .. } => Some(*leg),
            _ => None,
        })
        .expect("the phone's leg");
    w.inject_media(Duration::ZERO, MediaEvent::Timeout { leg });
    w.run_for(Duration::from_millis(1));
    let view = agent_view(&mut w, "agent0001");
    assert_eq!(view.state, AgentState::LoggedOut);
    assert!(
        view.pause_reason
            .as_deref()
            .is_some_and(|r| r.contains("no RTP")),
        "{view:?}"
    );
    assert!(
        w.sip
            .commands
            .iter()
            .any(|(_, c)| c == "Hangup { call: CallId(701) }"),
        "{:?}",
        w.sip.commands
    );
    w.run_for(S(30));
    assert!(
        w.sip.agent_calls.is_empty(),
        "no call back to a dial-in phone"
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

/// The real engine on loopback with real peers (see the module doc). Every wait is bounded.
mod live {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use outdial::admin::AgentState;

    use super::PASSWORD;
    use crate::engine_support::{
        self, campaign_yaml, finish_engine, free_port, open_and_closed_zones, outdial,
        start_engine_with_stderr, TOKEN,
    };
    use crate::media_support::audio::{
        best_correlation, read_stereo_ulaw, read_wav_mono_8k, repeated, say, to_ulaw,
    };
    use crate::media_support::baresip::Baresip;
    use crate::media_support::sipp::{Builder, Report};
    use crate::media_support::{engine_log, free_udp_ports, peers_available, temp_dir};

    const CUSTOMER_TEXT: &str = "Hello, this is the customer. My account number is four four \
                                 seven two, and I would like to talk about my loan repayment.";
    const AGENT_TEXT: &str = "Good morning, you are speaking with the lending office. How may I \
                              help you today?";

    /// SIPp as the agent's phone dialling `engine` with `password`, once; its report.
    fn sipp_phone(dir: &Path, engine: std::net::SocketAddr, password: &str) -> Report {
        let scenario =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sipp_dial_in/agent-dial-in.xml");
        let media = free_udp_ports(4);
        let mut sipp = Builder::new(scenario.to_str().expect("path"))
            .dir(dir)
            .args(["-s", "agent0001", "-au", "agent0001", "-ap", password])
            .args(["-mi", "127.0.0.1", "-mp", &media.to_string(), "-m", "1"])
            .remote(engine)
            .timeout(Duration::from_secs(20))
            .spawn();
        sipp.wait(Duration::from_secs(25))
    }

    #[test]
    fn a_baresip_agent_dials_in_hears_its_customer_is_recorded_and_a_wrong_password_gets_403() {
        if !peers_available() {
            return;
        }
        let dir = temp_dir("dial-in");
        let db = format!("sqlite://{}", dir.join("e2e.db").display());
        let cust_wav = say(&dir, "customer", CUSTOMER_TEXT);
        let agent_wav = say(&dir, "agent", AGENT_TEXT);
        let cust = read_wav_mono_8k(&cust_wav);
        let agent = read_wav_mono_8k(&agent_wav);
        let cust_line = repeated(&cust_wav, &dir.join("customer-line.wav"), 1, 1, 1);
        let agent_mic = repeated(&agent_wav, &dir.join("agent-mic.wav"), 0, 1, 6);
        to_ulaw(&agent_wav, &dir.join("agent.ulaw"));

        // The customer: SIPp answering outdial's offer, talking, hanging up after 11 s.
        to_ulaw(&cust_line, &dir.join("customer.ulaw"));
        let xml =
            std::fs::read_to_string(crate::media_support::sipp::scenario("uas-media-answer.xml"))
                .expect("read scenario")
                .replace(
                    "timeout=\"60000\" ontimeout=\"hangup\"",
                    "timeout=\"11000\" ontimeout=\"hangup\"",
                );
        std::fs::write(dir.join("customer.xml"), xml).expect("write scenario");
        let media = free_udp_ports(4);
        let mut customer = Builder::new(dir.join("customer.xml").to_str().expect("path"))
            .dir(&dir)
            .args(["-mi", "127.0.0.1", "-mp", &media.to_string(), "-m", "1"])
            .args(["-default_behaviors", "all,-abortunexp"])
            .timeout(Duration::from_secs(60))
            .spawn();

        // Campaign c1, one lead, every call recorded.
        let rec_dir = dir.join("rec");
        let text =
            campaign_yaml("c1", "progressive").replacen("\"09:00-18:00\"", "\"00:00-23:59\"", 1)
                + &format!("recording: {{mode: all, dir: \"{}\"}}\n", rec_dir.display());
        std::fs::write(dir.join("c1.yaml"), text).expect("campaign");
        outdial(
            &db,
            &[
                "campaign",
                "apply",
                dir.join("c1.yaml").to_str().expect("path"),
            ],
            None,
        );
        let (open, _) = open_and_closed_zones();
        let csv = format!(
            "phone,name,external_id,timezone,loan_amount\n91234500,Customer,APP-1,{open},1000\n"
        );
        outdial(&db, &["campaign", "load", "c1", "-"], Some(&csv));

        // The engine: one dial-in agent whose password is in a file.
        let secret = dir.join("agent0001.secret");
        std::fs::write(&secret, format!("{PASSWORD}\n")).expect("secret");
        let (sip_port, admin_port) = (free_port(), free_port());
        let ports = free_udp_ports(20);
        let config = format!(
            "node: n1\nsip:\n  listen: 127.0.0.1:{sip_port}\n  trunks:\n    - {{name: t0, \
             address: \"{trunk}\", max_channels: 1, max_cps: 5, ping_interval: 0s, media: \
             anchor}}\n  groups:\n    - {{name: lab, trunks: [t0]}}\nmedia: {{ports: \
             {ports}-{hi}}}\nadmin:\n  listen: 127.0.0.1:{admin_port}\n  tokens:\n    - {{name: \
             test-supervisor, token: {TOKEN}}}\nagents:\n  - {{uri: \
             \"sip:agent0001@127.0.0.1:5999\", group: lab, skills: [outbound, verification], \
             wrap_up: auto, connect: dial-in, password_file: \"{secret}\"}}\n\
             auto_wrap_time: {{dist: constant, mean: 1s}}\ncampaigns:\n  - {{name: c1}}\n\
             time_scale: 1\nrun_for: 40s\nshutdown_grace: 2s\n",
            trunk = customer.addr,
            hi = ports + 19,
            secret = secret.display(),
        );
        let config_path = dir.join("engine.yaml");
        std::fs::write(&config_path, config).expect("config");
        let engine = start_engine_with_stderr(
            &db,
            &config_path,
            std::fs::File::create(dir.join("engine.log")).expect("log"),
        );
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let admin = rt.block_on(engine_support::wait_admin(&format!(
            "http://127.0.0.1:{admin_port}"
        )));
        let engine_sip = std::net::SocketAddr::from(([127, 0, 0, 1], sip_port));

        // A phone with the wrong password: challenged, then refused with 403.
        let r = sipp_phone(&dir, engine_sip, "not-the-password");
        assert_eq!(
            (r.messages("401"), r.messages("403"), r.messages("200")),
            (1, 1, 0),
            "{}\n{}",
            r.screen,
            engine_log(&dir)
        );

        // baresip dials in with the right one and is connected.
        let mut phone = Baresip::start_dialling_in("agent0001", &agent_mic, PASSWORD);
        phone.dial(&format!("sip:agent0001@{engine_sip}"));
        assert!(
            phone
                .wait_event("CALL_ESTABLISHED", Duration::from_secs(10))
                .is_some(),
            "the dial-in was answered; engine log:\n{}\nbaresip log:\n{}",
            engine_log(&dir),
            phone.log()
        );
        // SIPp with the right password: its digest `uri` is `sip:<host:port>` (SIPp's default;
        // this build ignores `auth_uri`), not the INVITE's Request-URI, so 400 (RFC 2617
        // §3.2.2.5) before the "already connected" 486, which the virtual-time test covers.
        let r = sipp_phone(&dir, engine_sip, PASSWORD);
        assert_eq!(
            (r.messages("400"), r.messages("486"), r.messages("200")),
            (1, 0, 0),
            "{}",
            r.screen
        );

        // The customer is called, bridged into the phone's connection, talks, hangs up.
        let report = customer.wait(Duration::from_secs(40));
        assert_eq!(
            report.successful,
            1,
            "{}\n{}",
            report.screen,
            engine_log(&dir)
        );

        // The phone hangs up: the agent is logged out with the reason.
        phone.hangup();
        assert!(phone
            .wait_event("CALL_CLOSED", Duration::from_secs(10))
            .is_some());
        let end = Instant::now() + Duration::from_secs(5);
        let view = loop {
            let agents = rt.block_on(admin.agents()).expect("agents");
            let v = agents
                .into_iter()
                .find(|a| a.id == "agent0001")
                .expect("agent");
            if v.state == AgentState::LoggedOut || Instant::now() > end {
                break v;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(view.state, AgentState::LoggedOut);
        assert!(
            view.pause_reason
                .as_deref()
                .is_some_and(|r| r.starts_with("logged out")),
            "{view:?}"
        );
        // The phone may call again at once: another baresip this time (SIPp's digest `uri` is
        // not its Request-URI, see above), answered, then its BYE.
        let mut again = Baresip::start_dialling_in("agent0001", &agent_mic, PASSWORD);
        again.dial(&format!("sip:agent0001@{engine_sip}"));
        assert!(
            again
                .wait_event("CALL_ESTABLISHED", Duration::from_secs(10))
                .is_some(),
            "the second dial-in was answered; engine log:\n{}\nbaresip log:\n{}",
            engine_log(&dir),
            again.log()
        );
        std::thread::sleep(Duration::from_secs(1));
        again.hangup();
        assert!(
            again
                .wait_event("CALL_CLOSED", Duration::from_secs(5))
                .is_some(),
            "the phone's BYE was answered: {}",
            again.log()
        );
        let summary = finish_engine(engine, Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(500));

        // Audio both ways: the phone heard the customer, outdial recorded the phone (right).
        let heard = phone.recordings();
        assert_eq!(heard.len(), 1, "one connection: {heard:?}");
        let (_, peak) = best_correlation(&cust, &read_wav_mono_8k(&heard[0]));
        assert!(peak > 0.5, "the agent heard the customer: {peak}");
        let rows: serde_json::Value =
            serde_json::from_str(&outdial(&db, &["recordings", "list", "--json"], None))
                .expect("json");
        let rows = rows.as_array().expect("array").clone();
        assert_eq!(rows.len(), 1, "one recorded call: {rows:?}; {summary}");
        let path = PathBuf::from(rows[0]["path"].as_str().expect("path"));
        let (left, right) = read_stereo_ulaw(&path);
        let (_, l_cust) = best_correlation(&cust, &left);
        let (_, r_agent) = best_correlation(&agent, &right);
        eprintln!(
            "dial-in: agent heard the customer {peak:.2}; recording left/customer {l_cust:.2}, \
             right/agent {r_agent:.2}"
        );
        assert!(l_cust > 0.5, "customer on the left: {l_cust}");
        assert!(
            r_agent > 0.5,
            "the dialled-in agent on the right: {r_agent}"
        );
    }
}
