//! Test double of the engine for the admin API tests: an in-memory [`Control`] with two campaigns
//! and three agents, which records audit rows, dispositions and how often it was asked to change
//! something; plus a helper that serves the real router (JSON API and pages) on 127.0.0.1:0.
//! Tokens: supervisors `ana` and `bo`, and `desk-a1` of role agent bound to agent `a1`.
#![allow(dead_code)] // each test file uses a part

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use outdial::admin::wallboard::{AgentBoard, CampaignBoard, TrunkBoard, Wallboard};
use outdial::admin::{
    self, AbandonRates, AgentAction, AgentCounts, AgentState, AgentView, ApiToken, AuditRow,
    AuditSink, BoxFuture, CampaignView, Control, ControlError, PacingChange, PacingSettings,
    PacingUpdate, ScreenPop, WrapUpCode,
};
use tokio::sync::oneshot;

/// Token of supervisor "ana".
pub const ANA: &str = "tok-ana-0123456789";
/// Token of supervisor "bo".
pub const BO: &str = "tok-bo-9876543210";
/// Token "desk-a1" of role agent, bound to agent `a1`.
pub const DESK_A1: &str = "tok-desk-a1-5555555555";

pub fn tokens() -> Vec<ApiToken> {
    vec![
        ApiToken::supervisor("ana", ANA),
        ApiToken::supervisor("bo", BO),
        ApiToken::agent("desk-a1", DESK_A1, "a1"),
    ]
}

#[derive(Debug, Default)]
pub struct State {
    pub campaigns: BTreeMap<String, CampaignView>,
    pub agents: BTreeMap<String, AgentView>,
    pub current: BTreeMap<String, ScreenPop>,
    pub audit: Vec<AuditRow>,
    /// Dispositions received with wrap-up done, by agent.
    pub dispositions: Vec<(String, WrapUpCode)>,
    /// Number of set_pacing / set_paused calls that reached the engine.
    pub changes: usize,
}

/// In-memory engine.
#[derive(Debug, Default)]
pub struct FakeEngine {
    pub state: Mutex<State>,
}

fn campaign(name: &str, mode: &str, ratio: f64) -> CampaignView {
    CampaignView {
        name: name.into(),
        pacing: PacingSettings {
            mode: mode.parse().expect("mode"),
            ratio,
            max_ratio: 2.0,
            target_abandon: 0.03,
        },
        abandon_cap: 0.03,
        paused: false,
        dial_level: 1.8,
        calls_in_flight: 7,
        abandon_rate: AbandonRates {
            run: Some(0.012),
            last_24h: Some(0.015),
            last_30d: None,
        },
        abandon_parts: admin::AbandonParts {
            abandoned: 3,
            estimated_false_positives: 1.5,
            machine_verdicts: 75,
            fp_rate: 0.02,
            fp_source: "configured".into(),
            machine_marks: 0,
            rate: Some(0.018),
            analysis: true,
            analysis_delay_s: Some(1.75),
        },
        occupancy: Some(0.87),
        agents: AgentCounts {
            ready: 1,
            talking: 1,
            logged_out: 1,
            ..AgentCounts::default()
        },
    }
}

fn agent(id: &str, state: AgentState) -> AgentView {
    AgentView {
        id: id.into(),
        uri: format!("sip:{id}@127.0.0.1:5070"),
        state,
        pause_reason: None,
        skills: vec!["outbound".into()],
        group: Some("verifiers".into()),
        campaign: None,
        lead: None,
    }
}

impl FakeEngine {
    /// Campaigns `credit-verification` (power, ratio 1.5) and `welcome` (progressive); agents
    /// `a1` ready, `a2` talking on lead 42 (with a screen pop and a long skill list), `a3`
    /// logged out.
    pub fn new() -> Arc<Self> {
        let mut s = State::default();
        for c in [
            campaign("credit-verification", "power", 1.5),
            campaign("welcome", "progressive", 1.0),
        ] {
            s.campaigns.insert(c.name.clone(), c);
        }
        let mut a2 = agent("a2", AgentState::Talking);
        a2.campaign = Some("credit-verification".into());
        a2.lead = Some(42);
        a2.skills = [
            "outbound",
            "inbound",
            "verification",
            "mandarin",
            "cantonese",
        ]
        .map(String::from)
        .to_vec();
        for a in [
            agent("a1", AgentState::Ready),
            a2,
            agent("a3", AgentState::LoggedOut),
        ] {
            s.agents.insert(a.id.clone(), a);
        }
        s.current.insert(
            "a2".into(),
            ScreenPop {
                campaign: "credit-verification".into(),
                lead: 42,
                name: Some("王小明".into()),
                external_id: Some("APP-000042".into()),
                phone: "+8613800000042".into(),
                attributes: serde_json::json!({"loan_amount": "12000", "tier": "A"}),
                connected_at_ms: 1_714_525_200_000,
                tier: Some("A".into()),
                attempt: Some(9),
                history: Vec::new(),
            },
        );
        Arc::new(FakeEngine {
            state: Mutex::new(s),
        })
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

fn not_found(what: &str, name: &str) -> ControlError {
    ControlError::NotFound(format!("no {what} named {name:?}"))
}

impl AuditSink for FakeEngine {
    fn audit(&self, rows: Vec<AuditRow>) -> BoxFuture<'_, Result<(), ControlError>> {
        Box::pin(async move {
            self.lock().audit.extend(rows);
            Ok(())
        })
    }
}

impl Control for FakeEngine {
    fn campaigns(&self) -> BoxFuture<'_, Result<Vec<CampaignView>, ControlError>> {
        Box::pin(async move { Ok(self.lock().campaigns.values().cloned().collect()) })
    }

    fn campaign<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<CampaignView, ControlError>> {
        Box::pin(async move {
            self.lock()
                .campaigns
                .get(name)
                .cloned()
                .ok_or_else(|| not_found("campaign", name))
        })
    }

    fn set_pacing<'a>(
        &'a self,
        name: &'a str,
        change: PacingChange,
    ) -> BoxFuture<'a, Result<PacingUpdate, ControlError>> {
        Box::pin(async move {
            let mut s = self.lock();
            s.changes += 1;
            let c = s
                .campaigns
                .get_mut(name)
                .ok_or_else(|| not_found("campaign", name))?;
            let old = c.pacing.clone();
            if let Some(m) = change.mode {
                c.pacing.mode = m;
            }
            if let Some(r) = change.ratio {
                c.pacing.ratio = r;
            }
            if let Some(r) = change.max_ratio {
                c.pacing.max_ratio = r;
            }
            if let Some(t) = change.target_abandon {
                c.pacing.target_abandon = t;
            }
            Ok(PacingUpdate {
                campaign: name.into(),
                old,
                new: c.pacing.clone(),
            })
        })
    }

    fn set_paused<'a>(
        &'a self,
        name: &'a str,
        paused: bool,
    ) -> BoxFuture<'a, Result<bool, ControlError>> {
        Box::pin(async move {
            let mut s = self.lock();
            s.changes += 1;
            let c = s
                .campaigns
                .get_mut(name)
                .ok_or_else(|| not_found("campaign", name))?;
            Ok(std::mem::replace(&mut c.paused, paused))
        })
    }

    fn agents(&self) -> BoxFuture<'_, Result<Vec<AgentView>, ControlError>> {
        Box::pin(async move { Ok(self.lock().agents.values().cloned().collect()) })
    }

    fn agent_action<'a>(
        &'a self,
        id: &'a str,
        action: AgentAction,
    ) -> BoxFuture<'a, Result<AgentView, ControlError>> {
        Box::pin(async move {
            use AgentState::*;
            let mut s = self.lock();
            let a = s.agents.get_mut(id).ok_or_else(|| not_found("agent", id))?;
            let conflict = |a: &AgentView| {
                ControlError::Conflict(format!("agent {} is {}", a.id, a.state.as_str()))
            };
            let mut disposition = None;
            match (&action, a.state) {
                (AgentAction::Login, LoggedOut) => a.state = Paused,
                (AgentAction::Ready, Paused | WrapUp) => a.state = Ready,
                (AgentAction::Pause { reason }, Ready | WrapUp) => {
                    a.state = Paused;
                    a.pause_reason = Some(reason.clone());
                }
                (AgentAction::Logout, Ready | Paused | WrapUp) => a.state = LoggedOut,
                (AgentAction::WrapUp { disposition: d, .. }, WrapUp) => {
                    a.state = Ready;
                    disposition = Some(d.clone());
                }
                _ => return Err(conflict(a)),
            }
            if a.state != Paused {
                a.pause_reason = None;
            }
            let view = a.clone();
            if let Some(d) = disposition {
                s.dispositions.push((id.to_string(), d));
            }
            Ok(view)
        })
    }

    fn current_call<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ScreenPop>, ControlError>> {
        Box::pin(async move {
            let s = self.lock();
            if !s.agents.contains_key(id) {
                return Err(not_found("agent", id));
            }
            Ok(s.current.get(id).cloned())
        })
    }

    fn wallboard(&self) -> BoxFuture<'_, Result<Wallboard, ControlError>> {
        Box::pin(async move {
            let s = self.lock();
            Ok(Wallboard {
                at_ms: chrono::Utc::now().timestamp_millis(),
                campaigns: s
                    .campaigns
                    .values()
                    .map(|c| CampaignBoard {
                        view: c.clone(),
                        ringing: 4,
                        waiting: 1,
                        connected: 2,
                        live_answers: 120,
                        mean_wait_ms: Some(850.0),
                        dialable_now: Some(2400),
                        sla_at_risk: Some(3),
                        verdicts: vec![("human".into(), 120), ("machine".into(), 75)],
                    })
                    .collect(),
                agents: s
                    .agents
                    .values()
                    .map(|a| AgentBoard {
                        view: a.clone(),
                        in_state_ms: 65_000,
                        calls_today: 12,
                        occupancy: Some(0.8),
                    })
                    .collect(),
                trunks: vec![TrunkBoard {
                    name: "carrier-a".into(),
                    in_use: 7,
                    max: 30,
                    calls_per_s: 2.0,
                    healthy: true,
                    last_error: None,
                }],
                audit: s.audit.iter().rev().take(20).cloned().collect(),
            })
        })
    }
}

/// A running admin server over a fake engine.
pub struct Server {
    pub url: String,
    pub engine: Arc<FakeEngine>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Serves the real router over a fresh fake engine on 127.0.0.1:0.
    pub async fn start() -> Server {
        Server::start_with(admin::DEFAULT_LIMITS).await
    }

    /// [`Server::start`] with the listener's connection limits given.
    pub async fn start_with(limits: outdial::limits::ConnLimits) -> Server {
        let engine = FakeEngine::new();
        let pages = outdial::web::WebState::new(
            engine.clone(),
            tokens(),
            std::time::Duration::from_secs(3600),
        );
        let router = admin::router(engine.clone(), tokens()).merge(outdial::web::router(pages));
        let listener = admin::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(admin::serve_with(listener, router, limits, async {
            let _ = rx.await;
        }));
        Server {
            url,
            engine,
            stop: Some(tx),
            task,
        }
    }

    /// Signals shutdown and waits (bounded) for the server to return.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let done = tokio::time::timeout(std::time::Duration::from_secs(5), &mut self.task).await;
        assert!(
            matches!(done, Ok(Ok(Ok(())))),
            "server did not stop cleanly: {done:?}"
        );
    }

    pub fn client(&self, token: &str) -> admin::Client {
        admin::Client::new(&self.url, token).unwrap()
    }
}
