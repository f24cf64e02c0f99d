//! Call-progress analysis in the engine, in virtual time (`engine::harness::World` with its
//! scripted SIP and media sides; the media side answers each `Analyse` with the verdict the
//! test scripts for that lead): a person is bridged at the verdict and only then, machines,
//! announcements, fax and dead air are hung up with their own dispositions, early-media
//! announcements and SIT cancel the call before any answer, a voicemail hears the campaign's
//! message after its beep, the analysis delay lands in the call record, and without a `cpa`
//! setup calls behave as before.

use crate::engine_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use engine_support::campaign_yaml;
use outdial::campaign::cpa::{CpaAction, CpaPolicy};
use outdial::campaign::{AbandonMessage, CallDisposition};
use outdial::cpa::settings::CpaSettings;
use outdial::cpa::{CpaEvent, Decision, FaxTone, Phase, SitVariant, Verdict};
use outdial::engine::core::CpaSetup;
use outdial::engine::harness::{Answer, CpaScript, World};
use outdial::media::io::{LegId, MediaCommand};
use outdial::store::AttemptOutcome;

const S: fn(u64) -> Duration = Duration::from_secs;
const MS: fn(u64) -> Duration = Duration::from_millis;

/// Campaign `c1` (progressive, window open all day) on an anchored trunk, `agents` nailed-up
/// agents, RTP ports 20000-20099.
fn world(agents: u32) -> World {
    let c1 = campaign_yaml("c1", "progressive").replacen("\"09:00-18:00\"", "\"00:00-23:59\"", 1);
    let config = format!(
        "node: n1\nsip:\n  listen: 127.0.0.1:5060\n  trunks:\n    - {{name: t1, address: \
         \"127.0.0.1:5070\", max_channels: 30, max_cps: 30, ping_interval: 0s, media: anchor}}\n  \
         groups:\n    - {{name: lab, trunks: [t1]}}\nmedia: {{ports: 20000-20099}}\nagents:\n  - {{uri: \
         \"sip:agent{{n}}@127.0.0.1:5080\", count: {agents}, group: lab, skills: [outbound, \
         verification], wrap_up: auto}}\n\
         auto_wrap_time: {{dist: constant, mean: 2s}}\nnode_ttl: 3s\ncampaigns:\n  - {{name: c1}}\n"
    );
    engine_support::lab_world(&config, &[&c1])
}

fn setup(policy: CpaPolicy) -> CpaSetup {
    CpaSetup {
        settings: Arc::new(CpaSettings::default()),
        library: None,
        policy,
    }
}

fn verdict(v: Verdict, ms: u64, detail: &str) -> (Duration, CpaEvent) {
    (
        MS(ms),
        CpaEvent::Verdict(Decision {
            verdict: v,
            decided_ms: ms as u32,
            detail: detail.into(),
        }),
    )
}

fn start(mut w: World, leads: i64) -> World {
    let wall = w.wall_ms();
    w.store.add_leads("c1", 1, leads, wall, None);
    w.start(Vec::new());
    w
}

/// The call record of each lead (its last attempt).
fn records(w: &World) -> BTreeMap<i64, AttemptOutcome> {
    w.store
        .finished
        .iter()
        .filter_map(|(attempt, o)| Some((w.store.lead_of(*attempt)?, o.clone())))
        .collect()
}

fn bridged_legs(w: &World) -> Vec<LegId> {
    w.media
        .commands
        .iter()
        .filter_map(|(_, c)| match c {
            MediaCommand::Bridge { customer, .. } => Some(*customer),
            _ => None,
        })
        .collect()
}

/// When the first answer's analysis started (the answer's instant).
fn first_analysis(w: &World) -> Option<std::time::Instant> {
    w.media.commands.iter().find_map(|(at, c)| match c {
        MediaCommand::Analyse {
            phase: Phase::Answer,
            ..
        } => Some(*at),
        _ => None,
    })
}

/// Runs in 10 ms steps until the first answer is being analysed.
fn run_to_answer(w: &mut World) -> std::time::Instant {
    for _ in 0..3_000 {
        if let Some(at) = first_analysis(w) {
            return at;
        }
        w.run_for(MS(10));
    }
    panic!("no answer analysed within 30 s");
}

fn analyses(w: &World, phase: Phase) -> usize {
    w.media
        .count(|c| matches!(c, MediaCommand::Analyse { phase: p, .. } if *p == phase))
}

#[test]
fn people_are_bridged_at_their_verdict_and_the_rest_hung_up_with_their_own_disposition() {
    let mut w = world(1);
    assert!(w.core.set_cpa("c1", Some(setup(CpaPolicy::default()))));
    let mut w = start(w, 6);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.sip.talk = S(5);
    w.media.cpa = Some(CpaScript(Box::new(|_, lead, phase| {
        if phase != Phase::Answer {
            return Vec::new();
        }
        vec![match lead {
            1 => verdict(Verdict::Human, 700, "greeting 420 ms, then silence"),
            2 => verdict(Verdict::Machine, 2_500, "greeting over 1500 ms"),
            3 => verdict(
                Verdict::Announcement(Some("cmn/powered-off".into())),
                1_500,
                "matched at 0.9 s",
            ),
            4 => verdict(Verdict::Fax(FaxTone::Ced), 1_200, "CED 2100 Hz"),
            5 => verdict(Verdict::Silence, 5_000, "initial silence 5000 ms"),
            _ => verdict(Verdict::Unsure, 5_000, "analysis time ran out"),
        }]
    })));
    w.run_for(S(200));

    let recs = records(&w);
    assert_eq!(recs.len(), 6, "{recs:?}");
    let disp: Vec<_> = (1..=6).map(|l| recs[&l].disposition).collect();
    assert_eq!(
        disp,
        [
            CallDisposition::Connected,
            CallDisposition::Machine,
            CallDisposition::PoweredOff,
            CallDisposition::Fax,
            CallDisposition::Silence,
            // Not sure is connected by default: a person hung up on would be an abandon.
            CallDisposition::Connected,
        ]
    );
    assert_eq!(
        bridged_legs(&w).len(),
        2,
        "only the person and the unsure call"
    );
    assert_eq!(analyses(&w, Phase::Answer), 6);
    for (lead, delay, verdict, action) in [
        (1, 700, "human", "connect"),
        (2, 2_500, "machine", "hangup"),
        (3, 1_500, "announcement", "hangup"),
        (4, 1_200, "fax", "hangup"),
        (5, 5_000, "silence", "hangup"),
        (6, 5_000, "unsure", "connect"),
    ] {
        let r = &recs[&lead];
        let cpa = r
            .media
            .as_ref()
            .and_then(|m| m.cpa.as_ref())
            .unwrap_or_else(|| panic!("lead {lead}: no cpa in {r:?}"));
        assert_eq!(
            (cpa.verdict.as_str(), cpa.action.as_str()),
            (verdict, action),
            "lead {lead}"
        );
        assert_eq!(cpa.delay_ms, delay, "lead {lead}: the analysis delay");
        let answer = r.answer_ms.expect("answered");
        match r.connect_ms {
            // Bridged into the nailed-up connection in the verdict's own instant.
            Some(connect) => assert_eq!(connect - answer, delay, "lead {lead}"),
            None => assert!(action != "connect", "lead {lead} never bridged"),
        }
    }
    let cpa3 = recs[&3].media.as_ref().and_then(|m| m.cpa.clone());
    assert!(
        cpa3.is_some_and(|c| c.detail.contains("cmn/powered-off")),
        "the record names the announcement"
    );
    // The run's figures include the analysis delay.
    let summary = w.core.summary(w.now);
    let p50 = summary.analysis_delay_ms_p50.expect("analysis delays");
    assert!((1_200.0..=2_500.0).contains(&p50), "{p50}");
}

#[test]
fn nothing_is_bridged_while_the_analysis_listens() {
    let mut w = world(1);
    assert!(w.core.set_cpa("c1", Some(setup(CpaPolicy::default()))));
    let mut w = start(w, 1);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.media.cpa = Some(CpaScript(Box::new(|_, _, phase| match phase {
        Phase::Answer => vec![verdict(Verdict::Human, 1_800, "hello, then silence")],
        Phase::Early => Vec::new(),
    })));
    // Up to 1.79 s after the answer: analysed, not bridged, not offered to the agent.
    let answered = run_to_answer(&mut w);
    w.run_until(answered + MS(1_790));
    assert_eq!(analyses(&w, Phase::Answer), 1);
    assert!(bridged_legs(&w).is_empty(), "bridged before the verdict");
    w.run_until(answered + MS(1_800));
    assert_eq!(bridged_legs(&w).len(), 1, "bridged at the verdict");
    let stops = w
        .media
        .count(|c| matches!(c, MediaCommand::StopAnalysis { .. }));
    assert_eq!(stops, 1, "the analysis is stopped once decided");
}

#[test]
fn an_announcement_or_sit_in_early_media_cancels_the_call_before_any_answer() {
    let mut w = world(1);
    assert!(w.core.set_cpa("c1", Some(setup(CpaPolicy::default()))));
    let mut w = start(w, 3);
    w.sip.script = Box::new(|_, lead| match lead {
        1 | 2 => Answer::EarlyMedia(S(1)),
        _ => Answer::Live(S(3)),
    });
    w.media.cpa = Some(CpaScript(Box::new(|_, lead, phase| match (lead, phase) {
        (1, Phase::Early) => vec![verdict(
            Verdict::Announcement(Some("cmn/vacant".into())),
            1_300,
            "matched at 1.3 s",
        )],
        (2, Phase::Early) => vec![verdict(Verdict::Sit(SitVariant::Reorder), 900, "SIT RO")],
        (_, Phase::Answer) => vec![verdict(Verdict::Human, 600, "hello")],
        _ => Vec::new(),
    })));
    w.run_for(S(120));

    let recs = records(&w);
    assert_eq!(recs[&1].disposition, CallDisposition::Invalid, "vacant");
    assert_eq!(recs[&2].disposition, CallDisposition::Busy, "SIT reorder");
    assert_eq!(recs[&3].disposition, CallDisposition::Connected);
    for lead in [1, 2] {
        let r = &recs[&lead];
        assert_eq!(
            r.answer_ms, None,
            "lead {lead}: cancelled before any answer"
        );
        let cpa = r.media.as_ref().and_then(|m| m.cpa.clone()).expect("cpa");
        assert_eq!(cpa.action, "cancel");
    }
    assert_eq!(analyses(&w, Phase::Early), 2);
    // A vacant number is never called again; the busy one is retried later, not now.
    let dials = |lead: i64| w.sip.placed.iter().filter(|p| p.lead == lead).count();
    assert_eq!((dials(1), dials(2)), (1, 1));
}

#[test]
fn an_announcement_known_before_its_name_is_hung_up_at_the_name_with_the_names_retry_rule() {
    let mut w = world(1);
    assert!(w.core.set_cpa("c1", Some(setup(CpaPolicy::default()))));
    let mut w = start(w, 3);
    w.sip.script = Box::new(|_, lead| match lead {
        3 => Answer::EarlyMedia(S(1)),
        _ => Answer::Live(S(3)),
    });
    let class = |ms| {
        verdict(
            Verdict::Announcement(None),
            ms,
            "announcement, one of cmn/powered-off, cmn/vacant (90 votes)",
        )
    };
    let named = |ms: u64, name: &str| {
        (
            MS(ms),
            CpaEvent::Named {
                name: name.into(),
                at_ms: ms as u32,
            },
        )
    };
    w.media.cpa = Some(CpaScript(Box::new(move |_, lead, phase| {
        match (lead, phase) {
            // The class at 1.2 s, the name at 2.6 s.
            (1, Phase::Answer) => vec![class(1_200), named(2_600, "cmn/powered-off")],
            // The class, and the name never comes.
            (2, Phase::Answer) => vec![class(1_000)],
            // In early media: cancelled at the name, with its disposition.
            (3, Phase::Early) => vec![class(900), named(2_100, "cmn/vacant")],
            _ => Vec::new(),
        }
    })));
    w.run_for(S(120));

    let recs = records(&w);
    assert_eq!(recs[&1].disposition, CallDisposition::PoweredOff, "named");
    assert_eq!(
        recs[&2].disposition,
        CallDisposition::Announcement,
        "never named: the generic announcement rule"
    );
    assert_eq!(recs[&3].disposition, CallDisposition::Invalid, "vacant");
    assert_eq!(recs[&3].answer_ms, None, "cancelled before any answer");
    assert!(
        bridged_legs(&w).is_empty(),
        "no agent hears an announcement"
    );
    let cpa1 = recs[&1]
        .media
        .as_ref()
        .and_then(|m| m.cpa.clone())
        .expect("cpa");
    // The analysis delay is the class's: the name came later.
    assert_eq!(
        (cpa1.verdict.as_str(), cpa1.delay_ms),
        ("announcement", 1_200)
    );
    assert!(cpa1.detail.contains("cmn/powered-off"), "{cpa1:?}");
    // Had the call been hung up at the class, the name would have come too late for its
    // disposition (lead 1 would be the generic announcement). A vacant number is never called
    // again.
    let dials = |lead: i64| w.sip.placed.iter().filter(|p| p.lead == lead).count();
    assert_eq!(dials(3), 1);
}

#[test]
fn a_voicemail_hears_the_message_after_its_beep_then_the_call_ends() {
    let dir = std::env::temp_dir().join(format!("outdial-engine-cpa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = hound::WavWriter::create(dir.join("reminder.wav"), spec).expect("wav");
    for i in 0..12_000 {
        wav.write_sample(((i % 20) * 300 - 3_000) as i16)
            .expect("sample");
    }
    wav.finalize().expect("wav");
    let msg = AbandonMessage::load("reminder.wav", &dir).expect("message");
    let policy = CpaPolicy {
        machine: CpaAction::Message(msg),
        ..CpaPolicy::default()
    };
    let mut w = world(1);
    assert!(w.core.set_cpa("c1", Some(setup(policy))));
    let mut w = start(w, 1);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.media.cpa = Some(CpaScript(Box::new(|_, _, _| {
        vec![
            verdict(Verdict::Machine, 2_000, "greeting over 1500 ms"),
            (MS(6_500), CpaEvent::Beep { at_ms: 6_480 }),
        ]
    })));
    w.run_for(S(60));

    let plays: Vec<_> = w
        .media
        .commands
        .iter()
        .filter_map(|(at, c)| match c {
            MediaCommand::Play { prompt, .. } if prompt.0.len() == 12_000 => Some(*at),
            _ => None,
        })
        .collect();
    assert_eq!(plays.len(), 1, "one message");
    let answered = first_analysis(&w).expect("analysed");
    assert_eq!(plays[0] - answered, MS(6_500), "played at the beep");
    let hangup = w
        .sip
        .commands
        .iter()
        .find(|(_, c)| c.starts_with("Hangup"))
        .map(|(at, _)| *at)
        .expect("hung up");
    assert_eq!(hangup - plays[0], MS(1_500), "after the 1.5 s message");
    let recs = records(&w);
    assert_eq!(recs[&1].disposition, CallDisposition::Machine);
    let cpa = recs[&1].media.as_ref().and_then(|m| m.cpa.clone());
    assert_eq!(cpa.map(|c| c.action), Some("message".into()));
    assert!(bridged_legs(&w).is_empty(), "no agent hears a voicemail");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn no_verdict_in_time_is_unsure_and_connected() {
    let mut w = world(1);
    assert!(w.core.set_cpa("c1", Some(setup(CpaPolicy::default()))));
    let mut w = start(w, 1);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    // The media plane never reports.
    w.media.cpa = Some(CpaScript(Box::new(|_, _, _| Vec::new())));
    w.run_for(S(60));
    let recs = records(&w);
    assert_eq!(recs[&1].disposition, CallDisposition::Connected);
    let cpa = recs[&1]
        .media
        .as_ref()
        .and_then(|m| m.cpa.clone())
        .expect("cpa");
    assert_eq!(cpa.verdict, "unsure");
    assert!(
        (10_000..=10_200).contains(&cpa.delay_ms),
        "{}",
        cpa.delay_ms
    );
}

#[test]
fn a_hang_up_while_the_analysis_listens_is_its_own_disposition_not_an_abandon() {
    let mut w = world(1);
    assert!(w.core.set_cpa("c1", Some(setup(CpaPolicy::default()))));
    let mut w = start(w, 1);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.media.cpa = Some(CpaScript(Box::new(|_, _, _| Vec::new())));
    run_to_answer(&mut w);
    w.run_for(MS(500));
    let call = w.sip.placed[0].call;
    w.inject_sip(
        MS(100),
        outdial::engine::core::SipInput::Event(outdial::sip::endpoint::Event::Ended {
            call,
            by: outdial::sip::endpoint::EndedBy::Customer,
        }),
    );
    w.run_for(S(30));
    let recs = records(&w);
    assert_eq!(recs[&1].disposition, CallDisposition::AnalysisHangup);
    assert!(bridged_legs(&w).is_empty());
}

#[test]
fn without_a_cpa_setup_an_answer_is_bridged_at_once_as_before() {
    let w = world(1);
    let mut w = start(w, 2);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.sip.talk = S(5);
    w.run_for(S(60));
    assert_eq!(analyses(&w, Phase::Answer) + analyses(&w, Phase::Early), 0);
    let recs = records(&w);
    for lead in [1, 2] {
        let r = &recs[&lead];
        assert_eq!(r.disposition, CallDisposition::Connected);
        assert_eq!(r.connect_ms, r.answer_ms, "bridged in the answer's instant");
        assert!(r.media.as_ref().is_some_and(|m| m.cpa.is_none()));
    }
}

#[test]
fn the_synthetic_trunks_machine_answer_is_hung_up_without_analysis() {
    let mut w = world(1);
    assert!(w.core.set_cpa("c1", Some(setup(CpaPolicy::default()))));
    let mut w = start(w, 1);
    w.sip.script = Box::new(|_, _| Answer::Machine(S(3)));
    w.run_for(S(30));
    assert_eq!(analyses(&w, Phase::Answer), 0);
    assert_eq!(records(&w)[&1].disposition, CallDisposition::Machine);
}

/// The campaign's pacing view: whether analysis is planned for, with what delay, and the
/// false-positive part of the abandon figure.
fn parts(w: &mut World) -> outdial::admin::AbandonParts {
    use outdial::engine::core::{AdminReply, AdminRequest};
    match w.admin(AdminRequest::Campaign("c1".into())) {
        Some(AdminReply::Campaign(Ok(v))) => v.abandon_parts,
        other => panic!("campaign view: {other:?}"),
    }
}

#[test]
fn a_cold_engine_with_analysis_plans_with_the_analysis_delay_before_its_first_verdict() {
    // Analysis on in the campaign file: the dialer is built planning with it.
    let c1 = campaign_yaml("c1", "progressive")
        .replacen("\"09:00-18:00\"", "\"00:00-23:59\"", 1)
        .replace("cpa:\n  enabled: false\n", "cpa:\n  enabled: true\n");
    let config = "node: n1\nsip:\n  listen: 127.0.0.1:5060\n  trunks:\n    - {name: t1, address: \
         \"127.0.0.1:5070\", max_channels: 30, max_cps: 30, ping_interval: 0s, media: anchor}\n  \
         groups:\n    - {name: lab, trunks: [t1]}\nmedia: {ports: 20000-20099}\nagents:\n  - {uri: \
         \"sip:agent{n}@127.0.0.1:5080\", count: 2, group: lab, skills: [outbound, \
         verification], wrap_up: auto}\nauto_wrap_time: {dist: constant, mean: 2s}\n\
         node_ttl: 3s\ncampaigns:\n  - {name: c1}\n";
    let mut w = start(engine_support::lab_world(config, &[&c1]), 4);
    w.run_for(MS(100));
    let p = parts(&mut w);
    assert!(p.analysis, "{p:?}");
    // The person rule of the default detector: ~0.5 s to "hello", ~0.8 s of it, 450 ms of
    // silence.
    let d = p.analysis_delay_s.expect("a planned delay");
    assert!((d - 1.75).abs() < 0.01, "{d}");
    assert_eq!((p.fp_rate, p.fp_source.as_str()), (0.02, "configured"));

    // Analysis set up after the dialer was built (as the shell does once it has loaded the
    // announcements), with a slower person rule: planned from then on, before any answer.
    let mut w = world(2);
    let mut settings = CpaSettings::default();
    settings.adaptive.after_utterance_silence = outdial::yaml::Dur(S(1));
    let slow = CpaSetup {
        settings: Arc::new(settings),
        library: None,
        policy: CpaPolicy::default(),
    };
    let before = parts(&mut w);
    assert!(
        !before.analysis && before.analysis_delay_s.is_none(),
        "{before:?}"
    );
    assert!(w.core.set_cpa("c1", Some(slow)));
    let mut w = start(w, 4);
    w.run_for(MS(100));
    let p = parts(&mut w);
    let d = p.analysis_delay_s.expect("a planned delay");
    assert!((d - 2.3).abs() < 0.01, "{d}");
    assert_eq!(first_analysis(&w), None, "no call answered yet");
}

#[test]
fn without_analysis_the_abandon_figure_has_no_false_positive_part() {
    let mut w = start(world(1), 4);
    w.sip.script = Box::new(|_, _| Answer::Machine(MS(300)));
    w.run_for(S(20));
    let p = parts(&mut w);
    assert!(!p.analysis, "{p:?}");
    assert_eq!(
        (p.fp_rate, p.fp_source.as_str(), p.estimated_false_positives),
        (0.0, "off", 0.0),
        "machines a trunk reports without analysis are nobody hung up on by outdial"
    );
    assert_eq!(p.analysis_delay_s, None);
}

/// The agent `agent0001` of an API-driven (not auto) agent: its state.
fn agent_state(w: &mut World) -> outdial::agents::AgentState {
    use outdial::engine::core::{AdminReply, AdminRequest};
    match w.admin(AdminRequest::Agents) {
        Some(AdminReply::Agents(Ok(v))) => {
            v.into_iter()
                .find(|a| a.id == "agent0001")
                .expect("agent listed")
                .state
        }
        other => panic!("agents: {other:?}"),
    }
}

/// One API-driven agent (as `outdial agents wrapup` drives it) on `c1`, analysed or not;
/// every call answers and is passed as a person; every call the agent gets is voicemail.
fn voicemail_world(analysis: bool) -> World {
    let c1 = campaign_yaml("c1", "progressive").replacen("\"09:00-18:00\"", "\"00:00-23:59\"", 1);
    let config = "node: n1\nsip:\n  listen: 127.0.0.1:5060\n  trunks:\n    - {name: t1, address: \
         \"127.0.0.1:5070\", max_channels: 30, max_cps: 30, ping_interval: 0s, media: anchor}\n  \
         groups:\n    - {name: lab, trunks: [t1]}\nmedia: {ports: 20000-20099}\nagents:\n  - {uri: \
         \"sip:agent0001@127.0.0.1:5080\", group: lab, skills: [outbound, verification]}\n\
         node_ttl: 3s\ncampaigns:\n  - {name: c1}\n";
    let mut w = engine_support::lab_world(config, &[&c1]);
    if analysis {
        assert!(w.core.set_cpa("c1", Some(setup(CpaPolicy::default()))));
    }
    let mut w = start(w, 40);
    w.sip.script = Box::new(|_, _| Answer::Live(S(2)));
    w.sip.talk = S(3);
    w.media.cpa = Some(CpaScript(Box::new(|_, _, phase| match phase {
        Phase::Answer => vec![verdict(Verdict::Human, 900, "hello, then silence")],
        Phase::Early => Vec::new(),
    })));
    w
}

/// The agent logs in and marks its next `n` calls `machine` at wrap-up; returns how many it
/// marked.
fn mark_calls_machine(w: &mut World, n: usize) -> usize {
    use outdial::admin::{AgentAction, WrapUpCode};
    use outdial::agents::AgentState;
    use outdial::engine::core::{AdminReply, AdminRequest};
    let act =
        |w: &mut World, a: AgentAction| w.admin(AdminRequest::AgentAction("agent0001".into(), a));
    // The node claims its agents in the store first.
    w.run_for(S(2));
    // Logged in, the agent is ready (and soon reserved for a call).
    let reply = act(&mut *w, AgentAction::Login);
    assert!(matches!(reply, Some(AdminReply::Agent(Ok(_)))), "{reply:?}");
    let mut marked = 0;
    for _ in 0..2_000 {
        w.run_for(MS(200));
        if agent_state(&mut *w) == AgentState::WrapUp {
            let reply = act(
                &mut *w,
                AgentAction::WrapUp {
                    disposition: WrapUpCode::Machine,
                    note: None,
                },
            );
            assert!(matches!(reply, Some(AdminReply::Agent(Ok(_)))), "{reply:?}");
            marked += 1;
            if marked == n {
                break;
            }
        }
    }
    w.run_for(S(1));
    marked
}

/// Call records given the agent's code `machine`.
fn machine_codes(w: &World) -> usize {
    w.store
        .writes
        .iter()
        .filter(|wr| {
            matches!(
                wr,
                outdial::engine::writes::Write::Disposition {
                    disposition: CallDisposition::Machine,
                    ..
                }
            )
        })
        .count()
}

#[test]
fn voicemail_an_agent_marks_machine_at_wrap_up_feeds_the_measured_false_positive_rate() {
    let mut w = voicemail_world(true);
    assert_eq!(
        mark_calls_machine(&mut w, 25),
        25,
        "the agent took 25 calls"
    );
    let p = parts(&mut w);
    assert_eq!(p.machine_marks, 25, "{p:?}");
    // Every connected call was voicemail: far worse than the configured 10 % false negatives,
    // so the false-positive rate is taken as measured and above the configured 2 %.
    assert_eq!(p.fp_source, "measured", "{p:?}");
    assert!(p.fp_rate > 0.02, "{p:?}");
    // The call records get `machine`, the agent's code.
    assert_eq!(machine_codes(&w), 25);
}

#[test]
fn without_analysis_an_agents_machine_mark_is_the_calls_outcome_but_measures_nothing() {
    let mut w = voicemail_world(false);
    assert_eq!(
        mark_calls_machine(&mut w, 10),
        10,
        "the agent took 10 calls"
    );
    let p = parts(&mut w);
    // No analysis ran on these calls: a voicemail reaching the agent is no analysis miss.
    assert_eq!(p.machine_marks, 0, "{p:?}");
    assert_eq!(p.fp_source, "off", "{p:?}");
    assert_eq!(machine_codes(&w), 10, "the disposition itself is kept");
}
