//! The live engine's decisions in virtual time: `engine::Core` driven through
//! `engine::harness::World` (an in-memory store, a scripted SIP side, a clock that jumps to the
//! next thing due). Strict campaign priority, skills and agent groups, SLA leads first, pause
//! never dials, line and CPS budgets, the 24 h / 30 d abandon throttle, recovery of a dead
//! node's legs and agent-claim expiry. No sockets, no sleeping; every run is the same.

use crate::engine_support;

use std::collections::BTreeMap;
use std::time::Duration;

use engine_support::campaign_yaml;
use outdial::admin::AgentState;
use outdial::engine::core::{AdminReply, AdminRequest};
use outdial::engine::harness::{Answer, GroupLimits, World};
use outdial::sip::endpoint::{DialogSnapshot, LegSide};
use outdial::sip::Transport;
use outdial::store::{OpenLeg, PacingOverride};

const S: fn(u64) -> Duration = Duration::from_secs;

/// An agent range: `count` agents numbered from `first` (ids `agent0001`…), all automatic
/// wrap-up.
struct Agents<'a> {
    first: u32,
    count: u32,
    group: &'a str,
    skills: &'a str,
}

/// `count` agents of group `lab` with the verification skill, from `agent0001`.
fn lab(count: u32) -> Agents<'static> {
    Agents {
        first: 1,
        count,
        group: "lab",
        skills: "outbound, verification",
    }
}

/// A campaign file: `mode` as the file writes it (`power` takes `ratio`). The engine tests' lab
/// campaign ([`campaign_yaml`]) with its priority, ratio, group and skills set, a dial ceiling
/// of 5 and the window open all day (virtual time starts at any hour).
fn campaign(
    name: &str,
    priority: u32,
    mode: &str,
    ratio: f64,
    group: &str,
    skills: &str,
) -> String {
    let mut text = campaign_yaml(name, mode);
    for (from, to) in [
        ("priority: 50\n", format!("priority: {priority}\n")),
        ("  ratio: 1.0\n", format!("  ratio: {ratio}\n")),
        ("  max_ratio: 3.0\n", "  max_ratio: 5.0\n".to_string()),
        ("\"09:00-18:00\"", "\"00:00-23:59\"".to_string()),
        ("agent_group: lab\n", format!("agent_group: {group}\n")),
        ("skills: [verification]\n", format!("skills: [{skills}]\n")),
    ] {
        assert!(
            text.contains(from),
            "the lab campaign no longer has {from:?}"
        );
        text = text.replacen(from, &to, 1);
    }
    text
}

/// A world with these agents and campaigns (files), on trunk group `lab` with `channels`
/// lines and `cps` calls a second; started.
fn world(agents: &[Agents], campaigns: &[String], channels: u32, cps: u32) -> World {
    let agents: String = agents
        .iter()
        .map(|a| {
            format!(
                "  - {{uri: \"sip:agent{{n}}@127.0.0.1:5080\", count: {}, first: {}, group: {}, \
                 skills: [{}], wrap_up: auto}}\n",
                a.count, a.first, a.group, a.skills
            )
        })
        .collect();
    let names: String = campaigns
        .iter()
        .map(|c| {
            let name = c
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("name: ");
            format!("  - {{name: {name}}}\n")
        })
        .collect();
    let config = format!(
        "node: n1\nsip:\n  listen: 127.0.0.1:5060\n  trunks:\n    - {{name: t1, address: \
         \"127.0.0.1:5070\", max_channels: {channels}, max_cps: {cps}, ping_interval: 0s, media: flow-i}}\n  \
         groups:\n    - {{name: lab, trunks: [t1]}}\nagents:\n{agents}\
         auto_wrap_time: {{dist: constant, mean: 5s}}\nnode_ttl: 3s\ncampaigns:\n{names}"
    );
    let files: Vec<&str> = campaigns.iter().map(String::as_str).collect();
    let groups = BTreeMap::from([("lab".to_string(), GroupLimits { channels, cps })]);
    let mut w = World::new(&config, &files, groups).expect("world");
    w.start(Vec::new());
    w
}

/// One campaign `c1` in `mode` with `leads` leads, worked by `agents` agents of [`lab`], on 30
/// lines at 30 calls a second.
fn one_campaign(agents: u32, mode: &str, ratio: f64, leads: i64) -> World {
    let c1 = campaign("c1", 50, mode, ratio, "lab", "verification");
    let mut w = world(&[lab(agents)], &[c1], 30, 30);
    let wall = w.wall_ms();
    w.store.add_leads("c1", 1, leads, wall, None);
    w
}

/// Joins of agent `id` (its URI's user part).
fn joins_of(w: &World, id: &str) -> Vec<Duration> {
    w.sip
        .joined
        .iter()
        .filter(|j| j.agent.contains(&format!("{id}@")))
        .map(|j| j.at.saturating_duration_since(w.start))
        .collect()
}

fn placed_for(w: &World, campaign: &str) -> Vec<Duration> {
    w.sip
        .placed
        .iter()
        .filter(|p| p.campaign == campaign)
        .map(|p| p.at.saturating_duration_since(w.start))
        .collect()
}

#[test]
fn agents_work_the_highest_priority_campaign_until_it_runs_out_of_leads() {
    let verification = lab(4);
    let mut w = world(
        &[verification],
        &[
            campaign("low", 10, "progressive", 1.0, "lab", "verification"),
            campaign("high", 90, "progressive", 1.0, "lab", "verification"),
        ],
        30,
        10,
    );
    let wall = w.wall_ms();
    w.store.add_leads("high", 1, 12, wall, None);
    w.store.add_leads("low", 1000, 200, wall, None);
    w.run_for(S(900));
    let high = placed_for(&w, "high");
    let low = placed_for(&w, "low");
    assert_eq!(
        high.len(),
        12,
        "every lead of the high-priority campaign dialled"
    );
    let last_high = high.iter().max().copied().unwrap_or_default();
    assert!(
        low.iter().all(|t| *t > last_high),
        "the low-priority campaign dialled while the high one had leads: first low {:?}, last \
         high {last_high:?}",
        low.first()
    );
    assert!(
        low.len() > 12,
        "agents moved on to the low-priority campaign"
    );
}

#[test]
fn agents_take_only_calls_of_campaigns_their_group_and_skills_allow() {
    let agents = [
        lab(2),
        Agents {
            first: 3,
            count: 1,
            group: "lab",
            skills: "outbound, spanish",
        },
        Agents {
            first: 4,
            count: 1,
            group: "north",
            skills: "outbound, verification",
        },
    ];
    let mut w = world(
        &agents,
        &[
            campaign("verify", 50, "progressive", 1.0, "lab", "verification"),
            campaign("spanish", 50, "progressive", 1.0, "lab", "spanish"),
            campaign("north", 50, "progressive", 1.0, "north", ""),
        ],
        30,
        10,
    );
    let wall = w.wall_ms();
    for (i, c) in ["verify", "spanish", "north"].iter().enumerate() {
        w.store.add_leads(c, 1000 * (i as i64 + 1), 100, wall, None);
    }
    w.run_for(S(600));
    let allowed = |agent: &str| match agent {
        "agent0001" | "agent0002" => "verify",
        "agent0003" => "spanish",
        _ => "north",
    };
    for j in &w.sip.joined {
        let id = j
            .agent
            .trim_start_matches("sip:")
            .split('@')
            .next()
            .unwrap_or_default();
        assert_eq!(
            j.campaign,
            allowed(id),
            "{id} took a call of {} at {:?}",
            j.campaign,
            j.at.saturating_duration_since(w.start)
        );
    }
    for c in ["verify", "spanish", "north"] {
        assert!(
            w.sip.joined.iter().any(|j| j.campaign == c),
            "campaign {c} got an agent"
        );
    }
}

#[test]
fn sla_leads_arriving_during_the_day_are_dialled_before_the_backlog() {
    let agents = lab(3);
    let mut w = world(
        &[agents],
        &[
            campaign("credit", 90, "progressive", 1.0, "lab", "verification"),
            campaign("crosssell", 10, "progressive", 1.0, "lab", "verification"),
        ],
        30,
        10,
    );
    let wall = w.wall_ms();
    w.store.add_leads("credit", 1, 300, wall, None);
    w.store.add_leads("crosssell", 5000, 300, wall, None);
    // Applications arrive over the day, each to be called within 15 minutes.
    let sla = 15 * 60_000;
    let arrivals = [120_000, 400_000, 700_000];
    for (i, at) in arrivals.iter().enumerate() {
        w.store
            .add_leads("credit", 900 + 10 * i as i64, 3, wall + at, Some(sla));
    }
    w.run_for(S(1500));
    for (i, at) in arrivals.iter().enumerate() {
        for lead in 900 + 10 * i as i64..903 + 10 * i as i64 {
            let p = w
                .sip
                .placed
                .iter()
                .find(|p| p.lead == lead)
                .unwrap_or_else(|| panic!("SLA lead {lead} never dialled"));
            let after = p.at.saturating_duration_since(w.start).as_millis() as i64 - at;
            assert!(
                after < sla,
                "SLA lead {lead} dialled {after} ms after it arrived (deadline {sla} ms)"
            );
            let backlog_between = w
                .sip
                .placed
                .iter()
                .filter(|q| q.campaign == "credit" && q.lead < 900)
                .filter(|q| {
                    let t = q.at.saturating_duration_since(w.start).as_millis() as i64;
                    t > *at && q.at < p.at
                })
                .count();
            assert!(
                backlog_between <= 8,
                "{backlog_between} backlog leads dialled before SLA lead {lead}"
            );
        }
    }
    assert!(
        w.store.undialled("credit") > 100,
        "the backlog was still there"
    );
    assert!(
        placed_for(&w, "crosssell").is_empty(),
        "cross-sell dialled while credit verification had leads"
    );
}

#[test]
fn a_paused_campaign_never_dials_even_as_its_calls_end_inside_a_tick() {
    // Last month's bug: lines freed by calls ending inside a pacing tick were refilled while
    // the campaign was paused.
    let mut w = one_campaign(4, "power", 3.0, 2000);
    // Lines free up all the time, at odd instants: busy after 1.5 s to 2.4 s, or no answer
    // until the dialer's own ring timeout cancels the call inside a pacing tick.
    w.sip.script = Box::new(|_, lead| match lead % 2 {
        0 => Answer::Busy(Duration::from_millis(1500 + (lead as u64 * 37) % 900)),
        _ => Answer::Never,
    });
    w.run_for(S(30));
    let before = placed_for(&w, "c1").len();
    assert!(
        before > 20,
        "the campaign dialled before the pause ({before})"
    );
    let reply = w.admin(AdminRequest::SetPaused("c1".into(), true));
    assert!(
        matches!(reply, Some(AdminReply::Paused(Ok(false)))),
        "{reply:?}"
    );
    let paused_at = w.elapsed();
    w.run_for(S(120));
    // Attempts committed just before the pause still leave (the store's answer takes 5 ms);
    // nothing decided after it.
    let during: Vec<_> = placed_for(&w, "c1")
        .into_iter()
        .filter(|t| *t > paused_at + w.store_latency)
        .collect();
    assert!(during.is_empty(), "dialled while paused at {during:?}");
    w.admin(AdminRequest::SetPaused("c1".into(), false));
    w.run_for(S(30));
    assert!(
        placed_for(&w, "c1").len() > before,
        "dialling resumed after the pause"
    );
}

#[test]
fn line_and_cps_budgets_hold_across_campaigns() {
    let agents = [
        lab(10),
        Agents {
            first: 11,
            count: 10,
            group: "lab",
            skills: "outbound, spanish",
        },
    ];
    let (channels, cps) = (8, 3);
    let mut w = world(
        &agents,
        &[
            campaign("a", 60, "power", 5.0, "lab", "verification"),
            campaign("b", 40, "power", 5.0, "lab", "spanish"),
        ],
        channels,
        cps,
    );
    let wall = w.wall_ms();
    // `a` has priority on the lines while it has leads; then `b` gets them.
    w.store.add_leads("a", 1, 150, wall, None);
    w.store.add_leads("b", 10_000, 3000, wall, None);
    w.sip.script = Box::new(|_, lead| match lead % 3 {
        0 => Answer::Live(S(6)),
        1 => Answer::Busy(S(3)),
        _ => Answer::Never,
    });
    w.run_for(S(600));
    assert!(
        w.sip.over_budget.is_empty(),
        "calls placed with no line or CPS left: {:?}",
        &w.sip.over_budget[..w.sip.over_budget.len().min(5)]
    );
    let max = w.sip.max_up.get("lab").copied().unwrap_or(0);
    assert!(max <= channels, "{max} calls up on {channels} lines");
    assert_eq!(
        max, channels,
        "the line budget was what held the dialers back"
    );
    let starts: Vec<_> = w.sip.placed.iter().map(|p| p.at).collect();
    for (i, t) in starts.iter().enumerate() {
        let in_second = starts[i..]
            .iter()
            .take_while(|u| u.saturating_duration_since(*t) < S(1))
            .count();
        assert!(
            in_second as u32 <= cps,
            "{in_second} calls started within a second"
        );
    }
    assert_eq!(placed_for(&w, "a").len(), 150);
    assert!(!placed_for(&w, "b").is_empty());
    assert_eq!(w.stalls(), 0, "timers fired on time");
}

#[test]
fn a_lower_priority_campaign_gets_the_shared_lines_the_higher_cannot_use() {
    // Two progressive campaigns of different agents on one group of 6 lines: `a` (2 agents)
    // can use 2 lines, `b` (8 agents) the other 4, though `a` keeps leads leased for more.
    let agents = [
        lab(2),
        Agents {
            first: 3,
            count: 8,
            group: "lab",
            skills: "outbound, spanish",
        },
    ];
    let mut w = world(
        &agents,
        &[
            campaign("a", 60, "progressive", 1.0, "lab", "verification"),
            campaign("b", 40, "progressive", 1.0, "lab", "spanish"),
        ],
        6,
        30,
    );
    let wall = w.wall_ms();
    w.store.add_leads("a", 1, 3000, wall, None);
    w.store.add_leads("b", 10_000, 3000, wall, None);
    w.sip.script = Box::new(|_, lead| match lead % 3 {
        0 => Answer::Live(S(20)),
        1 => Answer::Busy(S(3)),
        _ => Answer::Never,
    });
    w.run_for(S(600));
    let (a, b) = (placed_for(&w, "a").len(), placed_for(&w, "b").len());
    // Twice `a`'s lines, about twice its calls.
    assert!(
        b >= a * 3 / 2,
        "a placed {a} calls on its 2 lines, b {b} on the other 4"
    );
    assert!(w.sip.over_budget.is_empty(), "{:?}", &w.sip.over_budget);
}

#[test]
fn a_spent_24h_or_30d_abandon_budget_makes_the_campaign_progressive() {
    // (day, month) as (live, abandoned): under the 3 % target, then spent over 24 h, then over
    // 30 days.
    let cases = [
        (((1000, 10), (30_000, 300)), false),
        (((1000, 30), (30_000, 300)), true),
        (((1000, 0), (30_000, 900)), true),
    ];
    for ((day, month), spent) in cases {
        let agents = lab(2);
        let mut w = world(
            &[agents],
            &[campaign("c1", 50, "power", 3.0, "lab", "verification")],
            30,
            30,
        );
        w.store.rates.insert("c1".into(), (day, month));
        let wall = w.wall_ms();
        w.store.add_leads("c1", 1, 500, wall, None);
        w.sip.script = Box::new(|_, _| Answer::Live(S(3)));
        w.sip.talk = S(60);
        w.run_for(S(300));
        let max = w.sip.max_up.get("lab").copied().unwrap_or(0);
        let abandons = w
            .sip
            .commands
            .iter()
            .filter(|(_, c)| c.starts_with("Abandon"))
            .count();
        if spent {
            assert!(max <= 2, "{day:?}/{month:?}: {max} calls up for 2 agents");
            assert_eq!(abandons, 0, "{day:?}/{month:?}: abandoned calls");
        } else {
            assert!(max > 2, "{day:?}/{month:?}: power 3 kept to {max} lines");
        }
    }
}

fn snapshot(side: LegSide, call_id: &str) -> String {
    DialogSnapshot {
        side,
        call_id: call_id.into(),
        local: "<sip:outdial@127.0.0.1:5060>;tag=a".into(),
        remote: "<sip:x@127.0.0.1:5070>;tag=b".into(),
        remote_target: "sip:x@127.0.0.1:5070".into(),
        route_set: Vec::new(),
        local_cseq: 1,
        dest: "127.0.0.1:5070".parse().expect("addr"),
        transport: Transport::Udp,
    }
    .to_json()
}

#[test]
fn a_dead_nodes_legs_are_ended_and_their_agents_wait_for_it() {
    let mut w = one_campaign(3, "progressive", 1.0, 500);
    w.sip.script = Box::new(|_, _| Answer::Live(S(1)));
    w.sip.talk = S(5);
    w.sip.bye_answer = S(20);
    // A node died with a connected call (customer and agent legs up) and an agent leg ringing;
    // it owned agent0001 and agent0002 until it is recovered.
    w.store.claimed_elsewhere = ["agent0001".into(), "agent0002".into()].into();
    w.store.dead_legs = vec![
        OpenLeg {
            attempt: 77,
            agent: None,
            dialog: Some(snapshot(LegSide::Customer, "c-77")),
        },
        OpenLeg {
            attempt: 77,
            agent: Some("agent0001".into()),
            dialog: Some(snapshot(LegSide::Agent, "a-77")),
        },
        OpenLeg {
            attempt: 78,
            agent: Some("agent0002".into()),
            dialog: None,
        },
    ];
    w.run_for(S(120));
    let ended: Vec<_> = w
        .sip
        .ended_legs
        .iter()
        .map(|(a, at)| (a.as_deref(), *at))
        .collect();
    assert_eq!(
        ended,
        [(None, 77), (Some("agent0001"), 77)],
        "legs with a dialog got BYE"
    );
    let recovered_at = w
        .sip
        .commands
        .iter()
        .find(|(_, c)| c.starts_with("EndLeg"))
        .map(|(t, _)| t.saturating_duration_since(w.start))
        .expect("recovery");
    let a1 = joins_of(&w, "agent0001");
    let a2 = joins_of(&w, "agent0002");
    let a3 = joins_of(&w, "agent0003");
    assert!(
        a1.iter().all(|t| *t >= recovered_at + S(20)),
        "agent0001 got a call while its old leg was being ended (recovered at \
         {recovered_at:?}): {a1:?}"
    );
    assert!(
        a2.iter().all(|t| *t >= recovered_at + S(32)),
        "agent0002 got a call while its old leg could still be answered (recovered at \
         {recovered_at:?}): {a2:?}"
    );
    assert!(
        a1.iter().any(|t| *t >= recovered_at + S(20)),
        "agent0001 back to work"
    );
    assert!(
        a2.iter().any(|t| *t >= recovered_at + S(32)),
        "agent0002 back to work"
    );
    assert!(
        a3.iter().any(|t| *t < recovered_at + S(20)),
        "agent0003 kept working"
    );
}

#[test]
fn an_agent_whose_claim_another_node_took_is_offered_no_more_calls() {
    let mut w = one_campaign(3, "progressive", 1.0, 1000);
    w.sip.script = Box::new(|_, _| Answer::Live(S(2)));
    w.sip.talk = S(5);
    w.run_for(S(25));
    assert!(
        !joins_of(&w, "agent0002").is_empty(),
        "agent0002 worked while it was ours"
    );
    w.store.claimed_elsewhere.insert("agent0002".into());
    let lost_at = w.elapsed();
    w.run_for(S(120));
    // Claims are renewed every 10 s; a call already under way finishes (≈ 12 s at most).
    let late: Vec<_> = joins_of(&w, "agent0002")
        .into_iter()
        .filter(|t| *t > lost_at + S(25))
        .collect();
    assert!(
        late.is_empty(),
        "agent0002 offered calls after its claim was lost: {late:?}"
    );
    assert!(
        joins_of(&w, "agent0001")
            .iter()
            .any(|t| *t > lost_at + S(25)),
        "the other agents kept working"
    );
    let Some(AdminReply::Agents(Ok(view))) = w.admin(AdminRequest::Agents) else {
        panic!("agents view");
    };
    let a2 = view
        .iter()
        .find(|a| a.id == "agent0002")
        .expect("agent0002");
    assert_eq!(a2.state, AgentState::LoggedOut);
}

/// Campaign `c1` (predictive, 50 leads) with two lab agents.
fn one_campaign_of_two_agents() -> World {
    world(
        &[lab(2)],
        &[campaign("c1", 50, "predictive", 1.0, "lab", "verification")],
        30,
        30,
    )
}

/// `c1`'s target abandon rate and paused flag, as the supervisor sees them.
fn target(w: &mut World) -> (f64, bool) {
    match w.admin(AdminRequest::Campaign("c1".into())) {
        Some(AdminReply::Campaign(Ok(v))) => (v.pacing.target_abandon, v.paused),
        other => panic!("campaign view: {other:?}"),
    }
}

#[test]
fn overrides_another_node_wrote_are_checked_before_they_apply() {
    let mut w = one_campaign_of_two_agents();
    // Over the campaign's legal abandon cap (3 %): written by an older version, say.
    w.store.overrides = vec![(
        "c1".into(),
        PacingOverride {
            target_abandon: Some(0.08),
            ..PacingOverride::default()
        },
        1,
    )];
    w.run_for(S(3));
    assert_eq!(
        target(&mut w),
        (0.03, false),
        "an override over the cap is ignored"
    );
    w.store.overrides = vec![(
        "c1".into(),
        PacingOverride {
            target_abandon: Some(0.02),
            paused: Some(true),
            ..PacingOverride::default()
        },
        2,
    )];
    w.run_for(S(3));
    assert_eq!(target(&mut w), (0.02, true), "a good override applies");
}

#[test]
fn a_supervisors_change_is_not_undone_by_reading_back_the_one_before_it() {
    let mut w = one_campaign_of_two_agents();
    w.run_for(S(1));
    let change = |target_abandon| outdial::admin::PacingChange {
        target_abandon: Some(target_abandon),
        ..outdial::admin::PacingChange::default()
    };
    match w.admin(AdminRequest::SetPacing("c1".into(), change(0.02))) {
        Some(AdminReply::Pacing(Ok(_))) => {}
        other => panic!("set pacing: {other:?}"),
    }
    // The store still holds the change before this one (its write has not landed): read back,
    // it must not put the old target back.
    w.store.overrides = vec![(
        "c1".into(),
        PacingOverride {
            target_abandon: Some(0.025),
            paused: Some(false),
            ..PacingOverride::default()
        },
        1,
    )];
    w.run_for(S(3));
    assert_eq!(
        target(&mut w),
        (0.02, false),
        "a stale read undid the change"
    );
    // Another node's later change still applies.
    w.store.overrides[0].2 = i64::MAX / 2;
    w.store.overrides[0].1.paused = Some(true);
    w.run_for(S(3));
    assert_eq!(
        target(&mut w),
        (0.025, true),
        "a newer change from elsewhere"
    );
}

#[test]
fn logged_out_agents_are_counted_by_the_campaigns_they_may_work() {
    use outdial::admin::AgentAction;
    // Three API-driven agents of group `lab`; `c2` wants group `other`: none of them.
    let c1 = campaign("c1", 50, "progressive", 1.0, "lab", "verification");
    let c2 = campaign("c2", 40, "progressive", 1.0, "other", "verification");
    let config = "node: n1\nsip:\n  listen: 127.0.0.1:5060\n  trunks:\n    - {name: t1, address: \
         \"127.0.0.1:5070\", max_channels: 30, max_cps: 30, ping_interval: 0s, media: flow-i}\n  \
         groups:\n    - {name: lab, trunks: [t1]}\nagents:\n  - {uri: \
         \"sip:agent{n}@127.0.0.1:5080\", count: 3, group: lab, skills: [outbound, verification]}\n\
         node_ttl: 3s\ncampaigns:\n  - {name: c1}\n  - {name: c2}\n";
    let mut w = engine_support::lab_world(config, &[&c1, &c2]);
    w.start(Vec::new());
    // Until the store answers the node's claim, an agent is not known to be another node's: a
    // login is asked to come again (503), not refused as owned elsewhere (409).
    match w.admin(AdminRequest::AgentAction(
        "agent0001".into(),
        AgentAction::Login,
    )) {
        Some(AdminReply::Agent(Err(outdial::admin::ControlError::Unavailable(m)))) => {
            assert!(m.contains("still claiming"), "{m}")
        }
        other => panic!("login before the claim is back: {other:?}"),
    }
    // The node claims its agents in the store first.
    w.run_for(S(2));
    let counts = |w: &mut World, name: &str| match w.admin(AdminRequest::Campaign(name.into())) {
        Some(AdminReply::Campaign(Ok(v))) => v.agents,
        other => panic!("campaign view: {other:?}"),
    };
    let act = |w: &mut World, a: AgentAction| {
        let reply = w.admin(AdminRequest::AgentAction("agent0001".into(), a));
        assert!(matches!(reply, Some(AdminReply::Agent(Ok(_)))), "{reply:?}");
    };
    assert_eq!(counts(&mut w, "c1").logged_out, 3, "nobody logged in yet");
    assert_eq!(counts(&mut w, "c2").logged_out, 0, "not c2's agents");
    act(&mut w, AgentAction::Login);
    w.run_for(S(1));
    let c = counts(&mut w, "c1");
    let working = c.ready + c.reserved + c.talking + c.wrap_up + c.paused;
    assert_eq!((c.logged_out, working), (2, 1), "{c:?}");
    assert_eq!(counts(&mut w, "c2").logged_out, 0);
    act(&mut w, AgentAction::Logout);
    w.run_for(S(1));
    let c = counts(&mut w, "c1");
    let working = c.ready + c.reserved + c.talking + c.wrap_up + c.paused;
    assert_eq!(
        (c.logged_out, working),
        (3, 0),
        "every agent went home: {c:?}"
    );
}
