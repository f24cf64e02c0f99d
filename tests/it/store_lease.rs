//! Store: the hopper (lease) and attempts — windows across time zones, ordering, retry rules, both
//! attempt caps, abandon cooldown, the cross-campaign contact cap, DNC added after load, lease
//! expiry, crash recovery and concurrent leasers — on SQLite and PostgreSQL.

use crate::common;

use std::collections::HashSet;

use common::*;
use outdial::campaign::CallDisposition;
use outdial::store::{AttemptOutcome, Next, StoreError};

const TTL: i64 = 5 * MIN;

fn phones(leads: &[outdial::store::LeasedLead]) -> Vec<String> {
    leads.iter().map(|l| l.phone_e164.clone()).collect()
}

async fn windows_follow_callee_time_zone(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("c1", RETRY, "holidays: [2026-03-06]")).await;
    let csv = "phone,timezone\n\
               13800000001,\n\
               13800000002,Asia/Shanghai\n\
               +12015550123,America/New_York\n\
               +12015550124,America/New_York\n\
               +919876543210,Asia/Kolkata\n";
    assert_eq!(load(s, "c1", csv, t0() - HOUR).await.loaded, 5);
    // 10:00 Shanghai = 21:00 New York (closed) = 07:30 Kolkata (closed).
    let got = s.lease("c1", 10, t0(), "n1", TTL).await.unwrap();
    let mut p = phones(&got);
    p.sort();
    assert_eq!(p, vec!["+8613800000001", "+8613800000002"]);
    s.release(&got.iter().map(|l| l.lead_id).collect::<Vec<_>>())
        .await
        .unwrap();
    // 11:00 Shanghai: Kolkata 08:30 opens (a half-hour zone, no DST in either).
    let got = s.lease("c1", 10, t0() + HOUR, "n1", TTL).await.unwrap();
    assert_eq!(got.len(), 3);
    assert!(phones(&got).contains(&"+919876543210".to_string()));
    s.release(&got.iter().map(|l| l.lead_id).collect::<Vec<_>>())
        .await
        .unwrap();
    // 22:30 Shanghai = 09:30 New York (EST) = 20:00 Kolkata: Shanghai is closed.
    let late = sh(2026, 3, 4, 22, 30);
    let got = s.lease("c1", 10, late, "n2", TTL).await.unwrap();
    let mut p = phones(&got);
    p.sort();
    assert_eq!(p, vec!["+12015550123", "+12015550124", "+919876543210"]);
    // A holiday (local date) closes every zone that is on that date.
    assert!(s
        .lease("c1", 10, sh(2026, 3, 6, 12, 0), "n3", TTL)
        .await
        .unwrap()
        .is_empty());
    // The lease carries what the engine needs.
    let l = &got[0];
    assert_eq!(
        (l.campaign.as_str(), l.timezone.as_str()),
        ("c1", "America/New_York")
    );
    assert_eq!(l.lease_until_ms, late + TTL);
}

async fn order_is_sla_then_priority_tier_due(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("plain", RETRY, "")).await;
    let csv = "phone,priority,tier\n\
               13800000001,1,B\n\
               13800000002,5,B\n\
               13800000003,5,A\n\
               13800000004,,\n";
    load(s, "plain", csv, t0() - HOUR).await;
    load(
        s,
        "plain",
        "phone,priority\n13800000005,5\n",
        t0() - 2 * HOUR,
    )
    .await;
    let got = s.lease("plain", 2, t0(), "n", TTL).await.unwrap();
    // Priority 5 first; among them tier A, then tier B by due time (the older load first).
    assert_eq!(phones(&got), vec!["+8613800000005", "+8613800000003"]);
    let got = s.lease("plain", 10, t0(), "n", TTL).await.unwrap();
    assert_eq!(
        phones(&got),
        vec!["+8613800000002", "+8613800000001", "+8613800000004"]
    );

    // SLA leads jump the queue, nearest deadline first, whatever their priority.
    apply(
        s,
        &campaign_yaml("sla", RETRY, "sla: { first_attempt_within: 15m }"),
    )
    .await;
    load(s, "sla", "phone,priority\n13900000001,9\n", t0() - MIN).await;
    load(s, "sla", "phone,priority\n13900000002,0\n", t0() - 5 * MIN).await;
    let got = s.lease("sla", 2, t0(), "n", TTL).await.unwrap();
    assert_eq!(phones(&got), vec!["+8613900000002", "+8613900000001"]);
    assert_eq!(got[0].sla_deadline_ms, Some(t0() - 5 * MIN + 15 * MIN));
}

async fn every_retry_rule(db: &TestDb) {
    let s = &db.store;
    let c = apply(s, &campaign_yaml("c1", RETRY, "")).await;
    let nums = mobiles(1, CallDisposition::ALL.len() as u64);
    let csv = format!("phone\n{}\n", nums.join("\n"));
    load(s, "c1", &csv, t0() - HOUR).await;
    let leased = s.lease("c1", 100, t0(), "n1", TTL).await.unwrap();
    assert_eq!(leased.len(), nums.len());
    let end = t0() + MIN;
    for (lead, d) in leased.iter().zip(CallDisposition::ALL) {
        let mut o = AttemptOutcome::new(d, end);
        o.dial_ms = Some(t0());
        let (_, next) = s.record_attempt(lead.lead_id, &o).await.unwrap();
        let info = s.find_lead("c1", &lead.phone_e164).await.unwrap().unwrap();
        assert_eq!(info.last_disposition.as_deref(), Some(d.as_str()));
        let rule = c.rule(d);
        if !rule.retry || d == CallDisposition::DoNotCall {
            assert_eq!(next, Next::Done, "{d}");
            assert_eq!(info.state, "done", "{d}");
        } else {
            let mut due = end + rule.delay.millis();
            if d == CallDisposition::Abandoned {
                due = due.max(end + 72 * HOUR);
            }
            assert_eq!(next, Next::Retry { due_ms: due }, "{d}");
            assert_eq!(
                (info.state.as_str(), info.due_ms),
                ("scheduled", due),
                "{d}"
            );
            // Not leasable a moment before it is due, leasable when due.
            let before = s.lease("c1", 100, due - 1, "n2", TTL).await.unwrap();
            assert!(!phones(&before).contains(&lead.phone_e164), "{d}");
            let at = s.lease("c1", 100, due, "n2", TTL).await.unwrap();
            assert!(phones(&at).contains(&lead.phone_e164), "{d}");
            s.release(&at.iter().map(|l| l.lead_id).collect::<Vec<_>>())
                .await
                .unwrap();
        }
    }
    // The agent's do_not_call put the number on the DNC list.
    let dnc_phone = &leased[CallDisposition::ALL
        .iter()
        .position(|d| *d == CallDisposition::DoNotCall)
        .unwrap()];
    assert!(s.is_dnc(&dnc_phone.phone_e164).await.unwrap());
    // Callback at an agreed time.
    load(s, "c1", "phone\n13811111111\n", t0()).await;
    let l = s
        .lease("c1", 100, t0() + 10 * MIN, "n1", TTL)
        .await
        .unwrap();
    let cb = l.iter().find(|l| l.phone_e164 == "+8613811111111").unwrap();
    let mut o = AttemptOutcome::new(CallDisposition::Callback, t0() + 11 * MIN);
    o.callback_at_ms = Some(sh(2026, 3, 5, 16, 30));
    let (_, next) = s.record_attempt(cb.lead_id, &o).await.unwrap();
    assert_eq!(
        next,
        Next::Retry {
            due_ms: sh(2026, 3, 5, 16, 30)
        }
    );
    let (live, abandoned) = s.abandon_counts("c1", t0() - DAY).await.unwrap();
    // Live answers: connected, abandoned, shutdown, interrupted, callback ×2, completed,
    // not_interested, do_not_call.
    assert_eq!((live, abandoned), (9, 1));
}

async fn both_attempt_caps(db: &TestDb) {
    let s = &db.store;
    // 5 attempts in all, 3 per local day, busy retried after 10 minutes.
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    load(s, "c1", "phone\n13800000001\n", t0() - HOUR).await;
    let mut now = t0();
    for i in 0..3 {
        let got = s.lease("c1", 1, now, "n", TTL).await.unwrap();
        assert_eq!(got.len(), 1, "attempt {i}");
        let a = s.begin_attempt(got[0].lead_id, "n", now).await.unwrap();
        s.finish_attempt(a, &AttemptOutcome::new(CallDisposition::Busy, now + 20_000))
            .await
            .unwrap();
        now += 11 * MIN;
    }
    // Third attempt today used: nothing later today, although busy would retry in 10 minutes.
    assert!(s.lease("c1", 1, now, "n", TTL).await.unwrap().is_empty());
    assert!(s
        .lease("c1", 1, sh(2026, 3, 4, 20, 59), "n", TTL)
        .await
        .unwrap()
        .is_empty());
    // Next local day, once the window opens at 08:00.
    assert!(s
        .lease("c1", 1, sh(2026, 3, 5, 7, 59), "n", TTL)
        .await
        .unwrap()
        .is_empty());
    now = sh(2026, 3, 5, 8, 0);
    for _ in 0..2 {
        let got = s.lease("c1", 1, now, "n", TTL).await.unwrap();
        assert_eq!(got.len(), 1);
        let (_, _) = s
            .record_attempt(got[0].lead_id, &{
                let mut o = AttemptOutcome::new(CallDisposition::NoAnswer, now + 30_000);
                o.dial_ms = Some(now);
                o
            })
            .await
            .unwrap();
        now += 2 * HOUR;
    }
    // Fifth attempt made: done for good.
    let info = s.find_lead("c1", "+8613800000001").await.unwrap().unwrap();
    assert_eq!((info.state.as_str(), info.attempts), ("done", 5));
    assert!(s
        .lease("c1", 1, now + 7 * DAY, "n", TTL)
        .await
        .unwrap()
        .is_empty());
}

async fn abandon_cooldown_spans_campaigns(db: &TestDb) {
    let s = &db.store;
    // Campaign a retries an abandoned call after 10 minutes, but the 72 h cooldown wins.
    let retry_a = format!("{RETRY}\n    abandoned: {{ delay: 10m }}");
    apply(s, &campaign_yaml("a", &retry_a, "")).await;
    apply(s, &campaign_yaml("b", RETRY, "")).await;
    load(s, "a", "phone\n13800000001\n", t0() - HOUR).await;
    load(s, "b", "phone\n13800000001\n13800000002\n", t0() - HOUR).await;
    let got = s.lease("a", 1, t0(), "n", TTL).await.unwrap();
    let mut o = AttemptOutcome::new(CallDisposition::Abandoned, t0() + MIN);
    o.dial_ms = Some(t0());
    let (_, next) = s.record_attempt(got[0].lead_id, &o).await.unwrap();
    assert_eq!(
        next,
        Next::Retry {
            due_ms: t0() + MIN + 72 * HOUR
        }
    );
    // Campaign b must not dial the abandoned number either within 72 h of the abandoned call.
    let later = t0() + 2 * HOUR;
    let got = s.lease("b", 10, later, "n", TTL).await.unwrap();
    assert_eq!(phones(&got), vec!["+8613800000002"]);
    let info = s.find_lead("b", "+8613800000001").await.unwrap().unwrap();
    assert_eq!(
        info.due_ms,
        t0() + 72 * HOUR,
        "postponed to the end of the cooldown"
    );
    s.release(&got.iter().map(|l| l.lead_id).collect::<Vec<_>>())
        .await
        .unwrap();
    assert!(s
        .lease("b", 10, t0() + 72 * HOUR - 1, "n", TTL)
        .await
        .unwrap()
        .iter()
        .all(|l| l.phone_e164 != "+8613800000001"));
    let got = s.lease("b", 10, t0() + 72 * HOUR, "n", TTL).await.unwrap();
    assert!(phones(&got).contains(&"+8613800000001".to_string()));
}

async fn contact_cap_and_in_flight_across_campaigns(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("remind", RETRY, "")).await;
    apply(
        s,
        &campaign_yaml(
            "xsell",
            RETRY,
            "contact_cap: { max_connected: 1, per: 30d }",
        ),
    )
    .await;
    load(s, "remind", "phone\n13800000001\n", t0() - HOUR).await;
    load(s, "xsell", "phone\n13800000001\n13800000002\n", t0() - HOUR).await;
    // While the reminder holds the number, cross-sell may not lease it.
    let r = s.lease("remind", 1, t0(), "n1", TTL).await.unwrap();
    let x = s.lease("xsell", 10, t0(), "n2", TTL).await.unwrap();
    assert_eq!(phones(&x), vec!["+8613800000002"]);
    s.release(&[x[0].lead_id]).await.unwrap();
    // The reminder connects: cross-sell must wait 30 days from that call.
    let mut o = AttemptOutcome::new(CallDisposition::Completed, t0() + 3 * MIN);
    o.dial_ms = Some(t0());
    o.connect_ms = Some(t0() + 30_000);
    o.agent = Some("agent-7".into());
    s.record_attempt(r[0].lead_id, &o).await.unwrap();
    let capped = |got: Vec<outdial::store::LeasedLead>| {
        !phones(&got).contains(&"+8613800000001".to_string())
    };
    let got = s
        .lease("xsell", 10, t0() + HOUR, "n2", 40 * DAY)
        .await
        .unwrap();
    assert_eq!(phones(&got), vec!["+8613800000002"]);
    assert!(capped(
        s.lease("xsell", 10, t0() + 29 * DAY, "n2", TTL)
            .await
            .unwrap()
    ));
    assert!(!capped(
        s.lease("xsell", 10, t0() + 30 * DAY + MIN, "n2", TTL)
            .await
            .unwrap()
    ));
}

/// A cap of two connected calls in 30 days, reached by calls from three other campaigns: the
/// number comes back only when all but one of the counted calls have left the period.
async fn contact_cap_of_several_calls(db: &TestDb) {
    let s = &db.store;
    apply(
        s,
        &campaign_yaml(
            "xsell",
            RETRY,
            "contact_cap: { max_connected: 2, per: 30d }",
        ),
    )
    .await;
    load(s, "xsell", "phone\n13800000001\n", t0() - HOUR).await;
    let capped = |got: &[outdial::store::LeasedLead]| got.is_empty();
    for (i, day) in [0, 10, 20].into_iter().enumerate() {
        let name = format!("remind{i}");
        apply(s, &campaign_yaml(&name, RETRY, "")).await;
        let at = t0() + day * DAY;
        load(s, &name, "phone\n13800000001\n", at - HOUR).await;
        let r = s.lease(&name, 1, at, "n1", TTL).await.unwrap();
        assert_eq!(r.len(), 1, "{name}");
        let mut o = AttemptOutcome::new(CallDisposition::Completed, at + 3 * MIN);
        o.dial_ms = Some(at);
        o.connect_ms = Some(at + 30_000);
        s.record_attempt(r[0].lead_id, &o).await.unwrap();
        if day == 0 {
            // One connected call in the period: still under the cap of two.
            let got = s.lease("xsell", 1, at + HOUR, "n2", TTL).await.unwrap();
            assert!(!capped(&got));
            s.release(&[got[0].lead_id]).await.unwrap();
        }
    }
    // Days 0, 10 and 20 count on day 25; on day 30 the day-0 call has left, but two remain.
    for day in [25, 30] {
        let got = s.lease("xsell", 1, t0() + day * DAY + MIN, "n2", TTL).await;
        assert!(capped(&got.unwrap()), "day {day}");
    }
    // After day 40 only the day-20 call counts.
    let got = s.lease("xsell", 1, t0() + 40 * DAY + MIN, "n2", TTL).await;
    assert!(!capped(&got.unwrap()));
}

async fn dnc_added_after_load_blocks_lease(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    load(s, "c1", "phone\n13800000001\n13800000002\n", t0() - HOUR).await;
    s.add_dnc(&[e164("13800000001")], "customer", t0())
        .await
        .unwrap();
    let got = s.lease("c1", 10, t0(), "n", TTL).await.unwrap();
    assert_eq!(phones(&got), vec!["+8613800000002"]);
    assert_eq!(s.campaign_stats("c1", t0()).await.unwrap().dialable_now, 0);
    s.remove_dnc(&[e164("13800000001")]).await.unwrap();
    let got = s.lease("c1", 10, t0(), "n", TTL).await.unwrap();
    assert_eq!(phones(&got), vec!["+8613800000001"]);
    assert!(matches!(
        s.add_dnc(&["13800000001".into()], "x", t0()).await,
        Err(StoreError::NotE164(_))
    ));
}

async fn expired_lease_returns_lead(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    load(s, "c1", "phone\n13800000001\n13800000002\n", t0() - HOUR).await;
    let first = s.lease("c1", 10, t0(), "dead-node", MIN).await.unwrap();
    assert_eq!(first.len(), 2);
    assert!(s
        .lease("c1", 10, t0() + 30_000, "n2", MIN)
        .await
        .unwrap()
        .is_empty());
    let stats = s.campaign_stats("c1", t0()).await.unwrap();
    assert_eq!(stats.by_state["leased"], 2);
    let again = s.lease("c1", 10, t0() + MIN, "n2", MIN).await.unwrap();
    assert_eq!(again.len(), 2);
    // The dead node's lease is gone: it cannot start a call on the lead any more.
    let err = s
        .begin_attempt(first[0].lead_id, "dead-node", t0() + MIN)
        .await;
    assert!(matches!(err, Err(StoreError::NotLeased { .. })), "{err:?}");
    let a = s
        .begin_attempt(again[0].lead_id, "n2", t0() + MIN)
        .await
        .unwrap();
    // A lead being dialled never expires back into the pool.
    assert!(s
        .lease("c1", 10, t0() + HOUR, "n3", MIN)
        .await
        .unwrap()
        .iter()
        .all(|l| l.lead_id != again[0].lead_id));
    s.finish_attempt(a, &AttemptOutcome::new(CallDisposition::Busy, t0() + HOUR))
        .await
        .unwrap();
    assert!(matches!(
        s.finish_attempt(a, &AttemptOutcome::new(CallDisposition::Busy, t0() + HOUR))
            .await,
        Err(StoreError::AttemptClosed(_))
    ));
}

/// The lead of a call a crashed node left open: closed as `unknown`, its retry scheduled.
async fn closed_as_unknown(s: &outdial::store::Store, phone: &str) -> outdial::store::LeadInfo {
    let info = s.find_lead("c1", phone).await.unwrap().unwrap();
    assert_eq!(info.last_disposition.as_deref(), Some("unknown"));
    assert_eq!((info.state.as_str(), info.attempts), ("scheduled", 1));
    info
}

async fn crashed_node_attempts_are_recovered(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    load(s, "c1", "phone\n13800000001\n13800000002\n", t0() - HOUR).await;
    let got = s.lease("c1", 2, t0(), "node-a", TTL).await.unwrap();
    s.begin_attempt(got[0].lead_id, "node-a", t0())
        .await
        .unwrap();
    // node-a dies with one call in flight and one lease unused.
    let rep = s.recover_node("node-a", t0() + 2 * MIN).await.unwrap();
    assert_eq!((rep.attempts_closed, rep.leases_released), (1, 1));
    let info = closed_as_unknown(s, &got[0].phone_e164).await;
    // Unknown retries after its default 15 minutes; the unused lease is dialable at once.
    let now = t0() + 3 * MIN;
    assert_eq!(
        phones(&s.lease("c1", 10, now, "b", DAY).await.unwrap()),
        vec![got[1].phone_e164.clone()]
    );
    let later = s.lease("c1", 10, info.due_ms, "b", TTL).await.unwrap();
    assert_eq!(phones(&later), vec![got[0].phone_e164.clone()]);
    assert_eq!(info.due_ms, t0() + 2 * MIN + 15 * MIN);
    let stats = s.campaign_stats("c1", now).await.unwrap();
    assert_eq!(stats.attempts, 1);
    assert_eq!(stats.by_disposition["unknown"], 1);
}

async fn two_concurrent_leasers_never_share_a_lead(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    let nums = mobiles(0, 10_000);
    let csv = format!("phone\n{}\n", nums.join("\n"));
    assert_eq!(load(s, "c1", &csv, t0() - HOUR).await.loaded, 10_000);
    let other = db.second().await;
    let mut tasks = Vec::new();
    for (store, node) in [(s.clone(), "a"), (other.clone(), "b")] {
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let got = store.lease("c1", 100, t0(), node, HOUR).await.unwrap();
                if got.is_empty() {
                    break;
                }
                ids.extend(got.iter().map(|l| l.lead_id));
            }
            ids
        }));
    }
    let mut all = Vec::new();
    let mut per_node = Vec::new();
    for t in tasks {
        let ids = t.await.unwrap();
        per_node.push(ids.len());
        all.extend(ids);
    }
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 10_000, "per node: {per_node:?}");
    assert_eq!(unique.len(), 10_000);
    other.close().await;
}

/// A node that dies and never comes back: once its liveness row expires, another node closes its
/// call in flight and returns its lease; a live node is left alone, and the dead one, should it
/// wake up, learns it lost its row.
async fn dead_node_is_recovered_by_another(db: &TestDb) {
    let s = &db.store;
    let ttl = 30_000;
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    load(
        s,
        "c1",
        "phone\n13800000001\n13800000002\n13800000003\n",
        t0() - HOUR,
    )
    .await;
    s.register_node("node-a", t0(), ttl).await.unwrap();
    let other = db.second().await;
    other.register_node("node-b", t0(), ttl).await.unwrap();
    let agents = vec!["agent-1".to_string()];
    assert_eq!(
        s.claim_agents("node-a", &agents, t0(), 10 * MIN)
            .await
            .unwrap(),
        agents
    );
    let session = s
        .session_start("agent-1", "c1", "node-a", t0())
        .await
        .unwrap();
    let got = s.lease("c1", 2, t0(), "node-a", TTL).await.unwrap();
    s.begin_attempt(got[0].lead_id, "node-a", t0())
        .await
        .unwrap();
    // node-a dies here. node-b renews and looks for dead nodes: none before node-a's row expires.
    assert!(other
        .renew_node("node-b", t0() + 20_000, ttl)
        .await
        .unwrap());
    assert!(other
        .reap_dead_nodes(t0() + 29_000, "node-b")
        .await
        .unwrap()
        .is_empty());
    let reaped = other
        .reap_dead_nodes(t0() + 31_000, "node-b")
        .await
        .unwrap();
    assert_eq!(reaped.len(), 1, "{reaped:?}");
    let d = &reaped[0];
    assert_eq!(d.node, "node-a");
    assert_eq!(
        (d.recovered.attempts_closed, d.recovered.leases_released),
        (1, 1)
    );
    // Its agent is free for another node at once (its claim ran for 10 minutes), and its session
    // ended when its liveness lease did.
    assert_eq!((d.sessions_ended, d.agents_released), (1, 1));
    assert_eq!(
        other
            .claim_agents("node-b", &agents, t0() + 31_000, 10 * MIN)
            .await
            .unwrap(),
        agents
    );
    let outdial::store::ReportInput { sessions, .. } =
        other.report_input("c1", None, t0() + HOUR).await.unwrap();
    let ends: Vec<i64> = sessions.unwrap().iter().map(|i| i.end_ms).collect();
    assert_eq!(ends, [t0() + ttl]);
    assert!(s.session_end(session, t0() + HOUR, 0).await.is_err());
    // Recovered once only; node-b (renewed until t0 + 50 s) is alive.
    assert!(other
        .reap_dead_nodes(t0() + 40_000, "node-b")
        .await
        .unwrap()
        .is_empty());
    let info = closed_as_unknown(&other, &got[0].phone_e164).await;
    // node-b dials the unused lease and the untouched lead now, and the lost call after its
    // `unknown` retry delay; nothing is left stuck.
    let now = t0() + 40_000;
    let mut first = phones(&other.lease("c1", 10, now, "node-b", DAY).await.unwrap());
    first.sort();
    let mut want = vec![got[1].phone_e164.clone(), e164("13800000003")];
    want.retain(|p| *p != got[0].phone_e164);
    want.sort();
    assert_eq!(first, want);
    let later = other
        .lease("c1", 10, info.due_ms, "node-b", TTL)
        .await
        .unwrap();
    assert_eq!(phones(&later), vec![got[0].phone_e164.clone()]);
    // node-a wakes up: its row is gone, so it must stop; its old lease is no longer its own.
    assert!(!s.renew_node("node-a", now, ttl).await.unwrap());
    assert!(matches!(
        s.begin_attempt(got[1].lead_id, "node-a", now).await,
        Err(StoreError::NotLeased { .. })
    ));
    // A node never recovers itself, however stale its row; a graceful stop leaves nothing.
    assert!(other
        .reap_dead_nodes(t0() + DAY, "node-b")
        .await
        .unwrap()
        .is_empty());
    other.deregister_node("node-b").await.unwrap();
    assert!(s
        .reap_dead_nodes(t0() + DAY, "node-a")
        .await
        .unwrap()
        .is_empty());
    other.close().await;
}

on_both_backends!(
    windows_follow_callee_time_zone,
    order_is_sla_then_priority_tier_due,
    every_retry_rule,
    both_attempt_caps,
    abandon_cooldown_spans_campaigns,
    contact_cap_and_in_flight_across_campaigns,
    contact_cap_of_several_calls,
    dnc_added_after_load_blocks_lease,
    expired_lease_returns_lead,
    crashed_node_attempts_are_recovered,
    dead_node_is_recovered_by_another,
    two_concurrent_leasers_never_share_a_lead,
);
