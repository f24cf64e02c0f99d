//! The admin API's handle on the running engine: [`EngineControl`] implements
//! [`Control`](crate::admin::Control) by sending each request to the engine loop, which hands it
//! to [`Core`](super::Core) and sends the answer back on a oneshot channel. The audit trail goes
//! straight to the store. Owns no rule (those are `core::control`'s).

use tokio::sync::{mpsc, oneshot};

use crate::admin::wallboard::{Wallboard, AUDIT_ROWS, SLA_RISK_MS};
use crate::admin::{
    AgentAction, AgentView, AuditRow, AuditSink, BoxFuture, CampaignView, Control, ControlError,
    PacingChange, PacingUpdate, ScreenPop,
};
use crate::sip::SipHandle;
use crate::store::Store;

use super::core::{AdminReply, AdminRequest};
use super::shell::ShellMsg;

/// The admin API's handle on the engine.
pub struct EngineControl {
    tx: mpsc::Sender<ShellMsg>,
    store: Store,
    /// The SIP task, asked for the trunks' rows of the wallboard.
    sip: SipHandle,
}

fn gone() -> ControlError {
    ControlError::Unavailable("the engine has stopped".into())
}

fn mismatch() -> ControlError {
    ControlError::Internal("the engine answered another request".into())
}

impl EngineControl {
    pub(crate) fn new(tx: mpsc::Sender<ShellMsg>, store: Store, sip: SipHandle) -> Self {
        EngineControl { tx, store, sip }
    }

    async fn ask(&self, req: AdminRequest) -> Result<AdminReply, ControlError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(ShellMsg::Admin(req, tx))
            .await
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())
    }
}

impl AuditSink for EngineControl {
    fn audit(&self, rows: Vec<AuditRow>) -> BoxFuture<'_, Result<(), ControlError>> {
        Box::pin(async move {
            self.store
                .audit(&rows)
                .await
                .map_err(|e| ControlError::Internal(e.to_string()))
        })
    }
}

impl Control for EngineControl {
    fn campaigns(&self) -> BoxFuture<'_, Result<Vec<CampaignView>, ControlError>> {
        Box::pin(async move {
            match self.ask(AdminRequest::Campaigns).await? {
                AdminReply::Campaigns(r) => r,
                _ => Err(mismatch()),
            }
        })
    }

    fn campaign<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<CampaignView, ControlError>> {
        Box::pin(async move {
            match self.ask(AdminRequest::Campaign(name.to_string())).await? {
                AdminReply::Campaign(r) => r,
                _ => Err(mismatch()),
            }
        })
    }

    fn set_pacing<'a>(
        &'a self,
        campaign: &'a str,
        change: PacingChange,
    ) -> BoxFuture<'a, Result<PacingUpdate, ControlError>> {
        Box::pin(async move {
            match self
                .ask(AdminRequest::SetPacing(campaign.to_string(), change))
                .await?
            {
                AdminReply::Pacing(r) => r,
                _ => Err(mismatch()),
            }
        })
    }

    fn set_paused<'a>(
        &'a self,
        campaign: &'a str,
        paused: bool,
    ) -> BoxFuture<'a, Result<bool, ControlError>> {
        Box::pin(async move {
            match self
                .ask(AdminRequest::SetPaused(campaign.to_string(), paused))
                .await?
            {
                AdminReply::Paused(r) => r,
                _ => Err(mismatch()),
            }
        })
    }

    fn agents(&self) -> BoxFuture<'_, Result<Vec<AgentView>, ControlError>> {
        Box::pin(async move {
            match self.ask(AdminRequest::Agents).await? {
                AdminReply::Agents(r) => r,
                _ => Err(mismatch()),
            }
        })
    }

    fn agent_action<'a>(
        &'a self,
        agent: &'a str,
        action: AgentAction,
    ) -> BoxFuture<'a, Result<AgentView, ControlError>> {
        Box::pin(async move {
            match self
                .ask(AdminRequest::AgentAction(agent.to_string(), action))
                .await?
            {
                AdminReply::Agent(r) => r,
                _ => Err(mismatch()),
            }
        })
    }

    fn current_call<'a>(
        &'a self,
        agent: &'a str,
    ) -> BoxFuture<'a, Result<Option<ScreenPop>, ControlError>> {
        Box::pin(async move {
            match self.ask(AdminRequest::Current(agent.to_string())).await? {
                AdminReply::Current(r) => r,
                _ => Err(mismatch()),
            }
        })
    }

    fn wallboard(&self) -> BoxFuture<'_, Result<Wallboard, ControlError>> {
        Box::pin(async move {
            let mut board = match self.ask(AdminRequest::Wallboard).await? {
                AdminReply::Wallboard(r) => r?,
                _ => return Err(mismatch()),
            };
            self.add_store_figures(&mut board).await;
            Ok(board)
        })
    }
}

impl EngineControl {
    /// The wallboard's figures the core does not hold: from the store, leads dialable now, SLA
    /// leads at risk and the latest audit rows; from the SIP task, the trunks. A part that
    /// cannot answer is left empty (logged): the live figures still show.
    async fn add_store_figures(&self, board: &mut Wallboard) {
        let now = board.at_ms;
        for c in &mut board.campaigns {
            match self
                .store
                .wallboard_leads(&c.view.name, now, SLA_RISK_MS)
                .await
            {
                Ok((dialable, at_risk)) => {
                    c.dialable_now = Some(dialable);
                    c.sla_at_risk = Some(at_risk);
                }
                Err(e) => tracing::debug!(campaign = %c.view.name, error = %e, "wallboard leads"),
            }
        }
        match self.sip.trunks().await {
            Ok(rows) => board.trunks = rows,
            Err(e) => tracing::debug!(error = %e, "wallboard trunks"),
        }
        match self.store.recent_audit(AUDIT_ROWS).await {
            Ok(rows) => board.audit = rows,
            Err(e) => tracing::debug!(error = %e, "wallboard audit rows"),
        }
    }
}
