//! Owned callbacks in the live engine's decisions (virtual time, `engine::harness::World`): the
//! agent who schedules a callback at wrap-up gets it when it is due — dialled for that agent and
//! connected to nobody else, even with another agent ready — and once the campaign's
//! `callbacks.owner_grace` has passed without the owner, another agent gets it.

use crate::engine_support;

use std::time::Duration;

use engine_support::campaign_yaml;
use outdial::admin::{AgentAction, AgentState, WrapUpCode};
use outdial::engine::core::{AdminReply, AdminRequest};
use outdial::engine::harness::{Answer, World};

const S: fn(u64) -> Duration = Duration::from_secs;
const GRACE: Duration = Duration::from_secs(120);

/// Two API agents on a progressive campaign whose callbacks wait 2 minutes for their owner, and
/// one lead; both agents logged in and ready.
fn world() -> World {
    let c1 = campaign_yaml("c1", "progressive").replacen("\"09:00-18:00\"", "\"00:00-23:59\"", 1)
        + "callbacks:\n  owner_grace: 2m\n";
    let config = "node: n1\nsip:\n  listen: 127.0.0.1:5060\n  trunks:\n    - {name: t1, \
         address: \"127.0.0.1:5070\", max_channels: 30, max_cps: 30, ping_interval: 0s, \
         media: flow-i}\n  groups:\n    - {name: lab, trunks: [t1]}\nagents:\n  - {uri: \
         \"sip:agent{n}@127.0.0.1:5080\", count: 2, group: lab, skills: [outbound, \
         verification]}\nnode_ttl: 3s\ncampaigns:\n  - {name: c1}\n";
    let mut w = engine_support::lab_world(config, &[&c1]);
    w.store.owner_grace_ms = GRACE.as_millis() as i64;
    let wall = w.wall_ms();
    w.store.add_leads("c1", 1, 1, wall, None);
    w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
    w.sip.talk = S(10);
    w.start(Vec::new());
    // The agents are this node's once its first claim lands.
    w.run_for(S(1));
    for a in ["agent0001", "agent0002"] {
        act(&mut w, a, AgentAction::Login);
    }
    w
}

fn act(w: &mut World, agent: &str, action: AgentAction) -> AgentState {
    match w.admin(AdminRequest::AgentAction(agent.into(), action)) {
        Some(AdminReply::Agent(Ok(view))) => view.state,
        other => panic!("{agent}: {other:?}"),
    }
}

/// Agents the lead was connected to, in order.
fn joined(w: &World, lead: i64) -> Vec<String> {
    w.sip
        .joined
        .iter()
        .filter(|j| j.lead == lead)
        .map(|j| j.agent.clone())
        .collect()
}

/// Runs until lead 1's first call is over and its agent is in wrap-up; that agent schedules a
/// callback `in_s` seconds ahead. Returns (owner, the other agent).
fn first_call_then_callback(w: &mut World, in_s: u64) -> (String, String) {
    w.run_for(S(30));
    let first = joined(w, 1);
    assert_eq!(first.len(), 1, "{first:?}");
    let (owner, other) = if first[0].contains("agent0001@") {
        ("agent0001", "agent0002")
    } else {
        ("agent0002", "agent0001")
    };
    let at_ms = w.wall_ms() + (in_s * 1000) as i64;
    let wrap = AgentAction::WrapUp {
        disposition: WrapUpCode::Callback { at_ms },
        note: Some("wants the 12-month plan".into()),
    };
    assert_eq!(act(w, owner, wrap), AgentState::Ready);
    (owner.to_string(), other.to_string())
}

#[test]
fn the_agent_who_scheduled_a_callback_gets_it_even_with_another_agent_ready() {
    let mut w = world();
    let (owner, other) = first_call_then_callback(&mut w, 60);
    // The owner takes a break over the callback's time; the other agent waits, ready.
    let pause = AgentAction::Pause {
        reason: "coffee".into(),
    };
    assert_eq!(act(&mut w, &owner, pause), AgentState::Paused);
    w.run_for(S(90));
    assert_eq!(joined(&w, 1).len(), 1, "dialled while its owner was away");
    assert_eq!(w.sip.placed.iter().filter(|p| p.lead == 1).count(), 1);
    // Back inside the grace: the callback is dialled for the owner and connected to them.
    let back = w.now;
    assert_eq!(act(&mut w, &owner, AgentAction::Ready), AgentState::Ready);
    w.run_for(S(15));
    let calls: Vec<_> = w.sip.placed.iter().filter(|p| p.lead == 1).collect();
    assert_eq!(calls.len(), 2, "the callback was dialled once");
    assert!(calls[1].at >= back);
    let got = joined(&w, 1);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[1].contains(&format!("{owner}@")), "{got:?}");
    assert!(!got.iter().skip(1).any(|a| a.contains(&format!("{other}@"))));
    // The write that scheduled it named its owner and kept the note.
    assert!(w.store.writes.iter().any(|wr| matches!(wr,
        outdial::engine::writes::Write::Disposition { agent: Some(a), note: Some(n), .. }
            if *a == owner && n.contains("12-month"))));
}

#[test]
fn after_the_grace_another_agent_gets_the_callback() {
    let mut w = world();
    let (owner, other) = first_call_then_callback(&mut w, 60);
    assert_eq!(
        act(&mut w, &owner, AgentAction::Logout),
        AgentState::LoggedOut
    );
    // Due at +60 s; the owner's hold ends 2 minutes later: nothing before that…
    w.run_for(S(60) + GRACE - S(5));
    assert_eq!(
        joined(&w, 1).len(),
        1,
        "taken from its owner before the grace ended"
    );
    // …then the campaign's other agent gets it.
    w.run_for(S(25));
    let got = joined(&w, 1);
    assert_eq!(got.len(), 2, "the callback was lost: {got:?}");
    assert!(got[1].contains(&format!("{other}@")), "{got:?}");
    assert_eq!(w.sip.placed.iter().filter(|p| p.lead == 1).count(), 2);
}
