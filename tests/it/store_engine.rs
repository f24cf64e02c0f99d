//! Store: what engine nodes share — audit trail, pacing overrides (merged, seen by every node),
//! agent claims under concurrent claimers, agent wrap-up dispositions rescheduling leads, report
//! rows and abandon-rate windows — on SQLite and PostgreSQL; and `outdial report` run as a user
//! would.

use crate::common;

use std::collections::HashSet;
use std::process::Command;

use common::*;
use outdial::admin::report::{hourly, HourRow};
use outdial::admin::AuditRow;
use outdial::campaign::{CallDisposition, DialMode};
use outdial::store::{AttemptOutcome, Next, PacingOverride, Store, StoreError};

const TTL: i64 = 5 * MIN;
const SEC: i64 = 1000;

fn audit_row(at_ms: i64, campaign: &str, field: &str, old: &str, new: &str) -> AuditRow {
    AuditRow {
        at_ms,
        token: "supervisor-1".into(),
        campaign: campaign.into(),
        field: field.into(),
        old: old.into(),
        new: new.into(),
    }
}

async fn audit_round_trip(db: &TestDb) {
    let s = &db.store;
    s.audit(&[]).await.unwrap();
    assert!(s.audit_rows(None).await.unwrap().is_empty());
    let rows = vec![
        audit_row(t0(), "c1", "mode", "predictive", "power:2"),
        audit_row(t0(), "c1", "max_ratio", "3", "2.5"),
        audit_row(t0() + MIN, "c2", "paused", "false", "true"),
        audit_row(t0() + 2 * MIN, "c1", "target_abandon", "0.03", "0.02"),
    ];
    s.audit(&rows[..2]).await.unwrap();
    s.audit(&rows[2..]).await.unwrap();
    // Another node reads what this one wrote, oldest first.
    let other = db.second().await;
    assert_eq!(other.audit_rows(None).await.unwrap(), rows);
    let c1: Vec<AuditRow> = rows
        .iter()
        .filter(|r| r.campaign == "c1")
        .cloned()
        .collect();
    assert_eq!(other.audit_rows(Some("c1")).await.unwrap(), c1);
    assert!(other.audit_rows(Some("nope")).await.unwrap().is_empty());
    other.close().await;
}

async fn overrides_merge(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    apply(s, &campaign_yaml("c2", RETRY, "")).await;
    assert!(s.overrides().await.unwrap().is_empty());
    let got = s
        .set_override(
            "c1",
            &PacingOverride {
                mode: Some(DialMode::Power { ratio: Some(2.0) }),
                ratio: Some(1.5),
                ..PacingOverride::default()
            },
            t0(),
        )
        .await
        .unwrap();
    let first = PacingOverride {
        mode: Some(DialMode::Power { ratio: Some(2.0) }),
        ratio: Some(1.5),
        max_ratio: None,
        target_abandon: None,
        paused: Some(false),
    };
    assert_eq!(got, first);
    // None fields keep the stored value.
    let got = s
        .set_override(
            "c1",
            &PacingOverride {
                target_abandon: Some(0.02),
                max_ratio: Some(2.75),
                paused: Some(true),
                ..PacingOverride::default()
            },
            t0() + MIN,
        )
        .await
        .unwrap();
    let merged = PacingOverride {
        max_ratio: Some(2.75),
        target_abandon: Some(0.02),
        paused: Some(true),
        ..first.clone()
    };
    assert_eq!(got, merged);
    let got = s
        .set_override(
            "c1",
            &PacingOverride {
                ratio: Some(2.0),
                paused: Some(false),
                ..PacingOverride::default()
            },
            t0() + 2 * MIN,
        )
        .await
        .unwrap();
    let last = PacingOverride {
        ratio: Some(2.0),
        paused: Some(false),
        ..merged
    };
    assert_eq!(got, last);
    s.set_override(
        "c2",
        &PacingOverride {
            paused: Some(true),
            ..PacingOverride::default()
        },
        t0() + 3 * MIN,
    )
    .await
    .unwrap();
    // Every node sees them.
    let other = db.second().await;
    let all = other.overrides().await.unwrap();
    assert_eq!(
        all,
        vec![
            ("c1".to_string(), last, t0() + 2 * MIN),
            (
                "c2".to_string(),
                PacingOverride {
                    paused: Some(true),
                    ..PacingOverride::default()
                },
                t0() + 3 * MIN
            ),
        ]
    );
    other.close().await;
    let err = s
        .set_override("nope", &PacingOverride::default(), t0())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownCampaign(_)), "{err:?}");
}

/// Every dial mode a supervisor can set comes back from the store as the same mode, and prints as
/// the same text it was given in JSON; a mode text no version accepts (an older one wrote it, or
/// a hand-edited row) voids that override's pacing fields and keeps its pause.
async fn override_modes_round_trip(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    let forms = [
        "preview",
        "progressive",
        "power",
        "power:2",
        "power:1.25",
        "predictive",
        "adaptive",
        "rate:0.5",
        "rate:12",
    ];
    for (i, text) in forms.into_iter().enumerate() {
        let mode: DialMode = serde_json::from_str(&format!("\"{text}\"")).unwrap();
        let stored = s
            .set_override(
                "c1",
                &PacingOverride {
                    mode: Some(mode),
                    ..PacingOverride::default()
                },
                t0() + i as i64,
            )
            .await
            .unwrap();
        assert_eq!(stored.mode, Some(mode), "{text}");
        let (_, read, _) = s.overrides().await.unwrap().remove(0);
        let back = read.mode.expect("mode read back");
        assert_eq!(back.to_string(), text);
        assert_eq!(serde_json::to_string(&back).unwrap(), format!("\"{text}\""));
    }
    // What the API refuses, written as text by something that did not ask it.
    let bad = PacingOverride {
        mode: Some(DialMode::Power { ratio: Some(1e308) }),
        ratio: Some(1.5),
        paused: Some(true),
        ..PacingOverride::default()
    };
    let got = s.set_override("c1", &bad, t0() + MIN).await.unwrap();
    assert_eq!(
        got,
        PacingOverride {
            paused: Some(true),
            ..PacingOverride::default()
        }
    );
}

fn agents(round: usize, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("agent-{round}-{i:03}")).collect()
}

async fn concurrent_claims(db: &TestDb) {
    let s1 = db.store.clone();
    let s2 = db.second().await;
    let now = t0();
    for round in 0..5 {
        let ids = agents(round, 100);
        let mut reversed = ids.clone();
        reversed.reverse();
        let (a, b) = {
            let (s1, s2) = (s1.clone(), s2.clone());
            let (ids1, ids2) = (ids.clone(), reversed.clone());
            let h1 = tokio::spawn(async move { s1.claim_agents("n1", &ids1, now, TTL).await });
            let h2 = tokio::spawn(async move { s2.claim_agents("n2", &ids2, now, TTL).await });
            (h1.await.unwrap().unwrap(), h2.await.unwrap().unwrap())
        };
        let a: HashSet<String> = a.into_iter().collect();
        let b: HashSet<String> = b.into_iter().collect();
        assert!(
            a.is_disjoint(&b),
            "round {round}: both own {:?}",
            a.intersection(&b)
        );
        assert_eq!(a.len() + b.len(), 100, "round {round}");
    }
    // Contended claims agent by agent: still never both.
    let ids = agents(9, 100);
    let mut handles = Vec::new();
    for (node, store) in [("n1", s1.clone()), ("n2", s2.clone())] {
        let ids = ids.clone();
        handles.push(tokio::spawn(async move {
            let mut owned = Vec::new();
            for id in &ids {
                owned.extend(
                    store
                        .claim_agents(node, std::slice::from_ref(id), now, TTL)
                        .await
                        .unwrap(),
                );
            }
            owned
        }));
    }
    let b = handles.pop().unwrap().await.unwrap();
    let a = handles.pop().unwrap().await.unwrap();
    let a: HashSet<String> = a.into_iter().collect();
    let b: HashSet<String> = b.into_iter().collect();
    assert!(a.is_disjoint(&b));
    assert_eq!(a.len() + b.len(), 100);

    // Renewal: the owner gets its own back, the other node nothing of them while they last.
    let ids = agents(0, 100);
    let mine = s1.claim_agents("n1", &ids, now, TTL).await.unwrap();
    let theirs = s2.claim_agents("n2", &ids, now, TTL).await.unwrap();
    assert_eq!(mine.len() + theirs.len(), 100);
    let renewed = s1
        .claim_agents("n1", &mine, now + TTL - 1, TTL)
        .await
        .unwrap();
    assert_eq!(renewed, mine);
    // n2 stops renewing: its claims expire at now + TTL, and n1 takes them after that.
    assert_eq!(
        s1.claim_agents("n1", &ids, now + TTL - 1, TTL)
            .await
            .unwrap(),
        mine
    );
    let all = s1.claim_agents("n1", &ids, now + TTL, TTL).await.unwrap();
    assert_eq!(all.len(), 100);
    assert!(s2
        .claim_agents("n2", &ids, now + TTL, TTL)
        .await
        .unwrap()
        .is_empty());
    // Release: free at once for the other node, whatever the time.
    let released = s1.release_agents("n1").await.unwrap();
    assert!(released >= 100, "{released}");
    assert_eq!(
        s2.claim_agents("n2", &ids, now + TTL, TTL)
            .await
            .unwrap()
            .len(),
        100
    );
    assert!(s1
        .claim_agents("n1", &[], now, TTL)
        .await
        .unwrap()
        .is_empty());
    s2.close().await;
}

/// A lead leased, dialled and closed as `connected` (the call ended; wrap-up follows).
async fn connected_call(s: &Store, campaign: &str, phone: &str, dial: i64) -> i64 {
    let (attempt, next) = connected_call_by(s, campaign, phone, dial, "a1").await;
    assert_eq!(next, Next::Done);
    attempt
}

/// Leases `phone` of `campaign` at `dial` (releasing the other leads leased with it), dials it
/// and closes the attempt as `connected` to `agent`; the attempt and what the store says next.
/// Shared with `store_callbacks`.
pub(crate) async fn connected_call_by(
    s: &Store,
    campaign: &str,
    phone: &str,
    dial: i64,
    agent: &str,
) -> (i64, Next) {
    let leased = s.lease(campaign, 100, dial, "n1", TTL).await.unwrap();
    let lead = leased
        .iter()
        .find(|l| l.phone_e164 == phone)
        .unwrap_or_else(|| panic!("{phone} not leased"));
    let others: Vec<i64> = leased
        .iter()
        .filter(|l| l.phone_e164 != phone)
        .map(|l| l.lead_id)
        .collect();
    s.release(&others).await.unwrap();
    let attempt = s.begin_attempt(lead.lead_id, "n1", dial).await.unwrap();
    let mut o = AttemptOutcome::new(CallDisposition::Connected, dial + 5 * MIN);
    o.answer_ms = Some(dial + 10 * SEC);
    o.connect_ms = Some(dial + 12 * SEC);
    o.agent = Some(agent.into());
    (attempt, s.finish_attempt(attempt, &o).await.unwrap())
}

async fn agent_dispositions_reschedule(db: &TestDb) {
    let s = &db.store;
    let c = apply(s, &campaign_yaml("c1", RETRY, "")).await;
    apply(s, &campaign_yaml("c2", RETRY, "")).await;
    let nums = mobiles(1, 6);
    let csv = format!("phone\n{}\n", nums.join("\n"));
    load(s, "c1", &csv, t0() - HOUR).await;
    // The do_not_call number is also on another campaign's list.
    load(s, "c2", &format!("phone\n{}\n", nums[3]), t0() - HOUR).await;
    let p: Vec<String> = nums.iter().map(|n| e164(n)).collect();
    let wrap = t0() + 10 * MIN;

    // Callback at an agreed time: due then, not before.
    let a = connected_call(s, "c1", &p[0], t0()).await;
    let cb = sh(2026, 3, 5, 15, 30);
    assert_eq!(
        s.apply_agent_disposition(a, CallDisposition::Callback, Some(cb), wrap)
            .await
            .unwrap(),
        Next::Retry { due_ms: cb }
    );
    let info = s.find_lead("c1", &p[0]).await.unwrap().unwrap();
    assert_eq!(
        (
            info.state.as_str(),
            info.due_ms,
            info.last_disposition.as_deref()
        ),
        ("scheduled", cb, Some("callback"))
    );
    let before = s.lease("c1", 100, cb - 1, "n2", TTL).await.unwrap();
    assert!(!before.iter().any(|l| l.phone_e164 == p[0]));
    s.release(&before.iter().map(|l| l.lead_id).collect::<Vec<_>>())
        .await
        .unwrap();
    let at = s.lease("c1", 100, cb, "n2", TTL).await.unwrap();
    assert!(at.iter().any(|l| l.phone_e164 == p[0]));
    s.release(&at.iter().map(|l| l.lead_id).collect::<Vec<_>>())
        .await
        .unwrap();

    // Callback without a time: the campaign's callback delay, from the end of wrap-up.
    let a = connected_call(s, "c1", &p[1], t0() + MIN).await;
    let due = wrap + c.rule(CallDisposition::Callback).delay.millis();
    assert_eq!(
        s.apply_agent_disposition(a, CallDisposition::Callback, None, wrap)
            .await
            .unwrap(),
        Next::Retry { due_ms: due }
    );

    // not_interested and completed: done (no retry in the rules).
    for (phone, d) in [
        (&p[2], CallDisposition::NotInterested),
        (&p[4], CallDisposition::Completed),
    ] {
        let a = connected_call(s, "c1", phone, t0() + 2 * MIN).await;
        assert_eq!(
            s.apply_agent_disposition(a, d, None, wrap).await.unwrap(),
            Next::Done,
            "{d}"
        );
        let info = s.find_lead("c1", phone).await.unwrap().unwrap();
        assert_eq!(
            (info.state.as_str(), info.last_disposition.as_deref()),
            ("done", Some(d.as_str()))
        );
    }

    // do_not_call: listed, and the number is not leased again by any campaign.
    let a = connected_call(s, "c1", &p[3], t0() + 3 * MIN).await;
    assert!(!s.is_dnc(&p[3]).await.unwrap());
    assert_eq!(
        s.apply_agent_disposition(a, CallDisposition::DoNotCall, None, wrap)
            .await
            .unwrap(),
        Next::Done
    );
    assert!(s.is_dnc(&p[3]).await.unwrap());
    let info = s.find_lead("c1", &p[3]).await.unwrap().unwrap();
    assert_eq!(info.state, "done");
    for when in [wrap + DAY, wrap + 5 * DAY] {
        for campaign in ["c1", "c2"] {
            let got = s.lease(campaign, 100, when, "n3", TTL).await.unwrap();
            assert!(!got.iter().any(|l| l.phone_e164 == p[3]), "{campaign}");
            s.release(&got.iter().map(|l| l.lead_id).collect::<Vec<_>>())
                .await
                .unwrap();
        }
    }

    // The wrap-up end is on the record.
    let outdial::store::ReportInput { calls: rows, .. } =
        s.report_input("c1", None, wrap).await.unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r.wrapup_end_ms == Some(wrap)));

    // Refusals change nothing: twice, unknown, still open, lead moved on.
    let err = s
        .apply_agent_disposition(a, CallDisposition::Completed, None, wrap)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyDisposed(_)), "{err:?}");
    let err = s
        .apply_agent_disposition(999_999, CallDisposition::Completed, None, wrap)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownAttempt(_)), "{err:?}");

    let leased = s.lease("c1", 100, t0() + 4 * MIN, "n1", TTL).await.unwrap();
    let lead = leased.iter().find(|l| l.phone_e164 == p[5]).unwrap();
    let open = s
        .begin_attempt(lead.lead_id, "n1", t0() + 4 * MIN)
        .await
        .unwrap();
    let err = s
        .apply_agent_disposition(open, CallDisposition::Completed, None, wrap)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AttemptOpen(_)), "{err:?}");
    // Busy: retried in 10 minutes; leased again before the (late) wrap-up arrives.
    s.finish_attempt(
        open,
        &AttemptOutcome::new(CallDisposition::Busy, t0() + 5 * MIN),
    )
    .await
    .unwrap();
    let again = s
        .lease("c1", 100, t0() + 16 * MIN, "n1", TTL)
        .await
        .unwrap();
    let lead = again.iter().find(|l| l.phone_e164 == p[5]).unwrap();
    let err = s
        .apply_agent_disposition(open, CallDisposition::Callback, None, t0() + 17 * MIN)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeadBusy { .. }), "{err:?}");
    let info = s.find_lead("c1", &p[5]).await.unwrap().unwrap();
    assert_eq!(info.state, "leased");
    // do_not_call still applies to a lead that moved on: listed, lease dropped, lead done.
    assert_eq!(
        s.apply_agent_disposition(open, CallDisposition::DoNotCall, None, t0() + 17 * MIN)
            .await
            .unwrap(),
        Next::Done
    );
    assert!(s.is_dnc(&p[5]).await.unwrap());
    let info = s.find_lead("c1", &p[5]).await.unwrap().unwrap();
    assert_eq!(info.state, "done");
    assert!(s
        .begin_attempt(lead.lead_id, "n1", t0() + 18 * MIN)
        .await
        .is_err());
}

/// 10:00 Shanghai on 2026-03-04 plus `m` minutes and `sec` seconds.
fn at(m: i64, sec: i64) -> i64 {
    t0() + m * MIN + sec * SEC
}

/// Four calls and two agents, worked out by hand (hours in Asia/Shanghai):
/// - 10:05 busy; 10:10 connected after a 2 s wait, talk to 10:15:12, wrap-up to 10:15:42 (330 s
///   busy); 10:20 abandoned; 11:30 no answer.
/// - a1 staffed 10:00–12:00 (ended); a2 from 10:30, still open at `now` = 11:45.
async fn seed_report(s: &Store) -> i64 {
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    load(
        s,
        "c1",
        &format!("phone\n{}\n", mobiles(1, 4).join("\n")),
        at(-60, 0),
    )
    .await;
    let leased = s.lease("c1", 10, t0(), "n1", 3 * HOUR).await.unwrap();
    assert_eq!(leased.len(), 4);
    let id = |i: u64| {
        let phone = e164(&mobiles(1 + i, 1)[0]);
        leased
            .iter()
            .find(|l| l.phone_e164 == phone)
            .map(|l| l.lead_id)
            .unwrap()
    };
    let busy = AttemptOutcome {
        dial_ms: Some(at(5, 0)),
        ..AttemptOutcome::new(CallDisposition::Busy, at(5, 20))
    };
    s.record_attempt(id(0), &busy).await.unwrap();
    let talk = AttemptOutcome {
        dial_ms: Some(at(10, 0)),
        answer_ms: Some(at(10, 10)),
        connect_ms: Some(at(10, 12)),
        agent: Some("a1".into()),
        ..AttemptOutcome::new(CallDisposition::Connected, at(15, 12))
    };
    let (talked, _) = s.record_attempt(id(1), &talk).await.unwrap();
    s.apply_agent_disposition(talked, CallDisposition::Completed, None, at(15, 42))
        .await
        .unwrap();
    let abandoned = AttemptOutcome {
        dial_ms: Some(at(20, 0)),
        answer_ms: Some(at(20, 5)),
        ..AttemptOutcome::new(CallDisposition::Abandoned, at(20, 7))
    };
    s.record_attempt(id(2), &abandoned).await.unwrap();
    let no_answer = AttemptOutcome {
        dial_ms: Some(at(90, 0)),
        ..AttemptOutcome::new(CallDisposition::NoAnswer, at(90, 20))
    };
    s.record_attempt(id(3), &no_answer).await.unwrap();
    let a1 = s.session_start("a1", "c1", "n1", t0()).await.unwrap();
    s.session_end(a1, at(120, 0), 330 * SEC).await.unwrap();
    s.session_start("a2", "c1", "n1", at(30, 0)).await.unwrap();
    at(105, 0)
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

fn figures(h: &HourRow) -> (u64, u64, u64) {
    (h.attempts, h.live_answers, h.abandoned)
}

async fn report_per_hour(db: &TestDb) {
    let s = &db.store;
    let now = seed_report(s).await;
    let outdial::store::ReportInput {
        tz,
        calls: rows,
        sessions,
        ..
    } = s.report_input("c1", None, now).await.unwrap();
    assert_eq!(tz, chrono_tz::Asia::Shanghai);
    assert_eq!(rows.len(), 4);
    let sessions = sessions.unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[1].end_ms, now, "an open session ends now");
    let h = hourly(&rows, Some(&sessions), tz, None);
    let labels: Vec<&str> = h.iter().map(|r| r.hour.as_str()).collect();
    assert_eq!(labels, ["2026-03-04 10:00", "2026-03-04 11:00"]);
    assert_eq!(figures(&h[0]), (3, 2, 1));
    assert!(close(h[0].abandon_pct, 50.0));
    assert!(close(h[0].mean_wait_s, 2.0));
    // Busy 330 s; staffed a1 60 min + a2 30 min.
    assert!(
        close(h[0].occupancy, 330.0 / 5400.0),
        "{:?}",
        h[0].occupancy
    );
    assert_eq!(figures(&h[1]), (1, 0, 0));
    assert_eq!(h[1].abandon_pct, None);
    // Staffed a1 60 min + a2 45 min (until now), nobody busy.
    assert!(close(h[1].occupancy, 0.0));

    // Since 11:00: one call, sessions that end after it.
    let outdial::store::ReportInput {
        calls: rows,
        sessions,
        ..
    } = s.report_input("c1", Some(at(60, 0)), now).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(sessions.map(|v| v.len()), Some(2));

    // No session ever recorded for a campaign: occupancy unknown, not zero.
    apply(s, &campaign_yaml("c2", RETRY, "")).await;
    let outdial::store::ReportInput {
        calls: rows,
        sessions,
        ..
    } = s.report_input("c2", None, now).await.unwrap();
    assert!(rows.is_empty() && sessions.is_none());
    let err = s.report_input("nope", None, now).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownCampaign(_)), "{err:?}");

    // Abandon windows: live = connected + abandoned.
    assert_eq!(s.abandon_rates("c1", now).await.unwrap(), (2, 1, 2, 1));
    assert_eq!(
        s.abandon_rates("c1", at(20, 1) + DAY).await.unwrap(),
        (0, 0, 2, 1)
    );
    assert_eq!(
        s.abandon_rates("c1", at(20, 0) + 31 * DAY).await.unwrap(),
        (0, 0, 0, 0)
    );
    assert_eq!(
        s.abandon_counts("c1", now - DAY).await.unwrap(),
        (2, 1),
        "agrees with abandon_counts"
    );
}

async fn sessions_end(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    let a = s.session_start("a1", "c1", "n1", t0()).await.unwrap();
    let b = s.session_start("a2", "c1", "n1", t0()).await.unwrap();
    s.session_start("a3", "c1", "n2", t0()).await.unwrap();
    s.session_end(a, t0() + HOUR, 0).await.unwrap();
    let err = s.session_end(a, t0() + HOUR, 0).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownSession(_)), "{err:?}");
    // A crashed node's open sessions are closed at recovery.
    assert_eq!(s.end_sessions("n1", t0() + 2 * HOUR).await.unwrap(), 1);
    assert!(s.session_end(b, t0() + 3 * HOUR, 0).await.is_err());
    let outdial::store::ReportInput { sessions, .. } =
        s.report_input("c1", None, t0() + 4 * HOUR).await.unwrap();
    let mut ends: Vec<i64> = sessions.unwrap().iter().map(|i| i.end_ms).collect();
    ends.sort();
    assert_eq!(ends, [t0() + HOUR, t0() + 2 * HOUR, t0() + 4 * HOUR]);
    let err = s.session_start("a1", "nope", "n1", t0()).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownCampaign(_)), "{err:?}");
}

on_both_backends!(
    audit_round_trip,
    overrides_merge,
    override_modes_round_trip,
    concurrent_claims,
    agent_dispositions_reschedule,
    report_per_hour,
    sessions_end,
);

fn outdial(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_outdial"))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_report() {
    let dir = temp_dir("report");
    let db = format!("sqlite://{}", dir.join("r.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = Store::open(&db).await.unwrap();
        seed_report(&s).await;
        s.close().await;
    });

    let out = outdial(&db, &["report", "c1", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["campaign"], "c1");
    assert_eq!(v["timezone"], "Asia/Shanghai");
    let hours = v["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 2);
    assert_eq!(hours[0]["hour"], "2026-03-04 10:00");
    assert_eq!(hours[0]["attempts"], 3);
    assert_eq!(hours[0]["live_answers"], 2);
    assert_eq!(hours[0]["abandoned"], 1);
    assert_eq!(hours[0]["abandon_pct"], 50.0);
    assert_eq!(hours[0]["mean_wait_s"], 2.0);
    assert!(hours[0]["occupancy"].as_f64().unwrap() > 0.0);
    assert_eq!(v["total"]["attempts"], 4);

    // Since 10:15 local: the abandoned call and the 11:30 one.
    let out = outdial(
        &db,
        &[
            "report",
            "c1",
            "--since",
            "2026-03-04T10:15:00+08:00",
            "--json",
        ],
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["total"]["attempts"], 2);
    assert_eq!(v["total"]["abandoned"], 1);

    // The table.
    let out = outdial(&db, &["report", "c1"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("campaign c1 (hours in Asia/Shanghai)\n"),
        "{text}"
    );
    assert!(text.contains("2026-03-04 10:00"), "{text}");
    let total: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("total"))
        .unwrap_or_else(|| panic!("{text}"))
        .split_whitespace()
        .collect();
    // No call of c1 was analysed: no AMD false-positive estimate (est_fp, abandon+fp%).
    assert_eq!((total[6], total[7]), ("-", "-"), "{text}");
    assert_ne!(total[4], "-", "{text}");
    assert!(outdial(&db, &["report", "c1", "--since", "24h"])
        .status
        .success());

    // Unknown campaign, bad --since: one line on stderr, non-zero exit.
    for args in [
        &["report", "nope"][..],
        &["report", "c1", "--since", "yesterday-ish"][..],
    ] {
        let out = outdial(&db, args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.starts_with("outdial: error:"), "{err}");
    }
    let err = String::from_utf8(outdial(&db, &["report", "nope"]).stderr).unwrap();
    assert!(err.contains("unknown campaign \"nope\""), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
