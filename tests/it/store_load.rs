//! Store: campaign applies and call-list loads (counts, rejects, fatal errors, reloads), on
//! SQLite and PostgreSQL.

use crate::common;

use common::*;
use outdial::campaign::Campaign;
use outdial::store::{ApplyOutcome, StoreError};

async fn apply_is_idempotent_and_updates(db: &TestDb) {
    let yaml = campaign_yaml("c1", RETRY, "");
    let c = Campaign::parse("c1.yaml", &yaml).unwrap();
    let s = &db.store;
    assert_eq!(
        s.apply_campaign(&c, t0()).await.unwrap(),
        ApplyOutcome::Created
    );
    assert_eq!(
        s.apply_campaign(&c, t0()).await.unwrap(),
        ApplyOutcome::Unchanged
    );
    let changed = Campaign::parse(
        "c1.yaml",
        &yaml.replace("ring_timeout: 20s", "ring_timeout: 30s"),
    )
    .unwrap();
    assert_eq!(
        s.apply_campaign(&changed, t0()).await.unwrap(),
        ApplyOutcome::Updated
    );
    assert_eq!(
        s.campaign("c1")
            .await
            .unwrap()
            .def
            .dialing
            .ring_timeout
            .millis(),
        30_000
    );
    // A broken file never reaches the store: the stored definition is untouched.
    let bad = yaml.replace("ring_timeout: 20s", "ring_timeout: 5s");
    let err = Campaign::parse("c1.yaml", &bad).unwrap_err().to_string();
    assert!(err.starts_with("c1.yaml:7: dialing.ring_timeout:"), "{err}");
    assert_eq!(s.campaign("c1").await.unwrap().hash, changed.content_hash());
    let list = s.list_campaigns().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].name.as_str(), list[0].mode.to_string().as_str()),
        ("c1", "predictive")
    );
}

async fn load_counts_rejects_duplicates_and_dnc(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    s.add_dnc(&[e164("13800000003")], "test", t0())
        .await
        .unwrap();
    let csv = "phone,name,external_id,tier,loan_amount\n\
               13800000001,Wang Fang,A-1,A,5000\n\
               13800000002,Li Na,A-2,B,7000\n\
               12345,Bad Number,A-3,A,1\n\
               13800000001,Dup In File,A-4,A,1\n\
               13800000003,On DNC,A-5,A,1\n\
               13800000004,Short Row\n\
               ,No Phone,A-7,A,1\n\
               +1 201 555 0123,US Customer,A-8,,9\n";
    let r = load(s, "c1", csv, t0()).await;
    assert_eq!(
        (r.read, r.loaded, r.duplicates, r.invalid, r.dnc),
        (8, 3, 1, 3, 1)
    );
    let lines: Vec<u64> = r.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![4, 7, 8]);
    assert!(!r.errors_truncated);
    let lead = s.find_lead("c1", "+12015550123").await.unwrap().unwrap();
    assert_eq!((lead.state.as_str(), lead.attempts), ("new", 0));
    // Reloading the same file loads nothing new.
    let again = load(s, "c1", csv, t0() + MIN).await;
    assert_eq!(
        (again.loaded, again.duplicates, again.dnc, again.invalid),
        (0, 4, 1, 3)
    );
    let stats = s.campaign_stats("c1", t0()).await.unwrap();
    assert_eq!(stats.leads, 3);
    assert_eq!(stats.by_state["new"], 3);
}

async fn fatal_errors_load_nothing(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    // Valid rows before the invalid UTF-8 must not be stored either.
    let mut bytes = b"phone,name\n13800000001,ok\n13800000002,ok\n".to_vec();
    bytes.extend_from_slice(b"13800000003,\xff\xfe\n");
    let err = s
        .load_list("c1", std::io::Cursor::new(bytes), "bad.csv", t0(), |_| {})
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "bad.csv:4: invalid UTF-8");
    let err = s
        .load_list(
            "c1",
            std::io::Cursor::new(b"name\nx\n".to_vec()),
            "np.csv",
            t0(),
            |_| {},
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no `phone` column"), "{err}");
    let err = s
        .load_list(
            "nope",
            std::io::Cursor::new(b"phone\n".to_vec()),
            "x.csv",
            t0(),
            |_| {},
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownCampaign(_)));
    assert_eq!(s.campaign_stats("c1", t0()).await.unwrap().leads, 0);
}

async fn errors_are_capped(db: &TestDb) {
    let s = &db.store;
    apply(s, &campaign_yaml("c1", RETRY, "")).await;
    let mut csv = String::from("phone\n");
    for _ in 0..1200 {
        csv.push_str("999\n");
    }
    csv.push_str("13800000001\n");
    let r = load(s, "c1", &csv, t0()).await;
    assert_eq!((r.read, r.invalid, r.loaded), (1201, 1200, 1));
    assert_eq!(r.errors.len(), 1000);
    assert!(r.errors_truncated);
    assert_eq!(r.errors[999].line, 1001);
}

on_both_backends!(
    apply_is_idempotent_and_updates,
    load_counts_rejects_duplicates_and_dnc,
    fatal_errors_load_nothing,
    errors_are_capped,
);
