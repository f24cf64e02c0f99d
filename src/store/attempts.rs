//! Attempts as call-detail records, shaped for the live engine: [`Store::begin_attempt`] is
//! committed before the INVITE leaves (so a crash never loses an attempt), and
//! [`Store::finish_attempt`] writes the outcome and schedules the retry in one transaction.
//! In between, [`Store::record_progress`] writes what the call reaches as it happens (ringing,
//! answered live or by a machine, connected to an agent, and the SIP dialog state of the legs
//! that are up), so the abandon-rate windows count a live answer when it happens and
//! [`Store::recover_node`] closes what a crashed node left open with what each call reached,
//! handing back the dialogs that still need a BYE.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::db::{from_row, Arg, Tx};
use super::retry::{next_after, Counters, Next};
use super::{Store, StoreError, NO_SLA};
use crate::campaign::phone::parse_timezone;
use crate::campaign::window::local_day;
use crate::campaign::CallDisposition;

/// How an attempt ended: the call-detail record written by [`Store::finish_attempt`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptOutcome {
    /// The outcome.
    pub disposition: CallDisposition,
    /// Final SIP status code, if a response was received.
    pub sip_code: Option<u16>,
    /// Trunk the call left on.
    pub trunk: Option<String>,
    /// Agent the call was connected to.
    pub agent: Option<String>,
    /// When the INVITE was sent (only used by [`Store::record_attempt`]; `begin_attempt` time
    /// otherwise).
    pub dial_ms: Option<i64>,
    /// First 180/183.
    pub ring_ms: Option<i64>,
    /// 200 OK (live answer or machine).
    pub answer_ms: Option<i64>,
    /// Bridged to an agent.
    pub connect_ms: Option<i64>,
    /// Call ended (BYE, final failure, cancel).
    pub end_ms: Option<i64>,
    /// Wait between answer and agent connect (or abandon).
    pub wait_ms: Option<i64>,
    /// For `callback`: the time agreed with the customer.
    pub callback_at_ms: Option<i64>,
    /// What outdial's media plane saw of an anchored call (`None` under flow I); written with
    /// the call record, in its transaction.
    #[serde(default)]
    pub media: Option<Box<CallMedia>>,
}

/// An anchored call's media in its call record: the customer leg's figures, the recording and
/// the opt-out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CallMedia {
    /// The customer leg's figures (none when its leg did not report before the record was due).
    pub customer: Option<super::media::MediaFigures>,
    /// The recording's path, when the call was recorded.
    pub recording: Option<String>,
    /// When the recording started (epoch ms): its length is the call's end less this.
    pub recording_from_ms: Option<i64>,
    /// Why recording failed (the call went on).
    pub recording_failed: Option<String>,
    /// The customer pressed the opt-out key during the safe-harbour message (the number was
    /// put on the do-not-call list).
    pub opted_out: bool,
    /// What call-progress analysis decided, when it ran on the call.
    #[serde(default)]
    pub cpa: Option<super::media::CpaRecord>,
}

impl AttemptOutcome {
    /// An outcome with only a disposition and an end time.
    pub fn new(disposition: CallDisposition, end_ms: i64) -> AttemptOutcome {
        AttemptOutcome {
            disposition,
            sip_code: None,
            trunk: None,
            agent: None,
            dial_ms: None,
            ring_ms: None,
            answer_ms: None,
            connect_ms: None,
            end_ms: Some(end_ms),
            wait_ms: None,
            callback_at_ms: None,
            media: None,
        }
    }
}

/// What an open call reached, written while it is up by [`Store::record_progress`]. `None`
/// fields leave the stored value as it is; an update for an attempt already closed is ignored
/// (the call record written at the end is the authority).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallProgress {
    /// The open attempt.
    pub attempt: i64,
    /// First 180/183.
    pub ring_ms: Option<i64>,
    /// 200 OK.
    pub answer_ms: Option<i64>,
    /// Answered by a person (`true`: counted as a live answer at once) or a machine.
    pub live: Option<bool>,
    /// Trunk the call is on.
    pub trunk: Option<String>,
    /// Bridged to an agent.
    pub connect_ms: Option<i64>,
    /// The agent it is bridged to (written when the agent is chosen, before its leg answers).
    pub agent: Option<String>,
    /// The customer leg's SIP dialog (the SIP layer's snapshot, opaque here).
    pub customer_dialog: Option<String>,
    /// The agent leg's SIP dialog.
    pub agent_dialog: Option<String>,
}

impl CallProgress {
    /// Progress of `attempt` with nothing in it yet.
    pub fn new(attempt: i64) -> CallProgress {
        CallProgress {
            attempt,
            ..CallProgress::default()
        }
    }
}

/// A SIP leg that was up (or being set up) when its node crashed: recovery hands it back so the
/// recovering node sends BYE on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpenLeg {
    /// The attempt it belonged to.
    pub attempt: i64,
    /// For an agent leg, the agent (who must not be offered a call before the leg is ended).
    pub agent: Option<String>,
    /// The dialog snapshot stored by [`Store::record_progress`]; `None` for an agent leg whose
    /// INVITE was sent but not answered yet (nothing to BYE: its transaction times out).
    pub dialog: Option<String>,
}

/// What [`Store::recover_node`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RecoverReport {
    /// Attempts that were open and are now closed with what they reached: `interrupted` when
    /// connected to an agent, `abandoned` when answered live but not connected, `machine` when a
    /// machine answered, `unknown` otherwise.
    pub attempts_closed: u64,
    /// Leases (not yet dialled) returned to the pool.
    pub leases_released: u64,
    /// The legs that were up (customer and agent), to be ended with BYE.
    pub legs: Vec<OpenLeg>,
}

from_row! {
    struct LeadRow {
        campaign_id: i64,
        phone: String,
        timezone: String,
        state: String,
        lease_node: Option<String>,
        attempts: i64,
        day_key: i64,
        day_attempts: i64,
    }
}

from_row! {
    struct OpenAttemptRow {
        id: i64,
        trunk: Option<String>,
        agent: Option<String>,
        ring_ms: Option<i64>,
        answer_ms: Option<i64>,
        connect_ms: Option<i64>,
        live: i64,
        customer_dialog: Option<String>,
        agent_dialog: Option<String>,
    }
}

impl OpenAttemptRow {
    /// The call record of a call cut by a crash: what it reached, ended at `now_ms`.
    fn outcome(&self, now_ms: i64) -> AttemptOutcome {
        let disposition = match (self.connect_ms, self.answer_ms) {
            (Some(_), _) => CallDisposition::Interrupted,
            // Answered by a person who never reached an agent: hung up on by the recovery, an
            // abandon from the customer's point of view (and for the abandon rate).
            (None, Some(_)) if self.live != 0 => CallDisposition::Abandoned,
            (None, Some(_)) => CallDisposition::Machine,
            (None, None) => CallDisposition::Unknown,
        };
        let mut o = AttemptOutcome::new(disposition, now_ms);
        // An answered call's final response was a 200; before an answer it is not known.
        o.sip_code = self.answer_ms.map(|_| 200);
        o.trunk = self.trunk.clone();
        o.agent = self.agent.clone();
        o.ring_ms = self.ring_ms;
        o.answer_ms = self.answer_ms;
        o.connect_ms = self.connect_ms;
        o.wait_ms = self
            .answer_ms
            .map(|a| self.connect_ms.unwrap_or(now_ms).max(a) - a);
        o
    }
}

from_row! {
    struct AttemptRow {
        lead_id: i64,
        is_open: i64,
        dial_ms: i64,
    }
}

const LEAD_FOR_UPDATE: &str = "SELECT campaign_id, phone, timezone, state, lease_node, attempts, \
     day_key, day_attempts FROM leads WHERE id = $1 FOR UPDATE";

fn tz_of(name: &str) -> Tz {
    parse_timezone(name).unwrap_or(chrono_tz::UTC)
}

impl Store {
    /// Opens an attempt on a lead leased to `node`: the lead becomes in-flight (it will not expire)
    /// and the attempt counts against both caps. Commit happens before this returns, so call it
    /// before the INVITE is sent.
    pub async fn begin_attempt(
        &self,
        lead_id: i64,
        node: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let mut tx = self.write_tx().await?;
        if let Some(reason) = self.blocked_at_dial(&mut tx, lead_id, now_ms).await? {
            // Nothing is dialled: the lead goes back to the pool, where the lease skips it.
            release_in(&mut tx, &[lead_id]).await?;
            tx.commit().await?;
            return Err(StoreError::NotDialable {
                lead: lead_id,
                reason,
            });
        }
        let id = begin_in(&mut tx, lead_id, Some(node), now_ms).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The dial-time re-check, inside the attempt's transaction: a number put on the DNC list or
    /// a calling window that closed after the lease was taken stops the call here.
    async fn blocked_at_dial(
        &self,
        tx: &mut Tx,
        lead_id: i64,
        now_ms: i64,
    ) -> Result<Option<&'static str>, StoreError> {
        let row: Option<(i64, String, i64)> = tx
            .opt(
                "SELECT campaign_id, timezone, \
                 CAST((SELECT COUNT(*) FROM dnc WHERE dnc.phone = leads.phone) AS BIGINT) \
                 FROM leads WHERE id = $1",
                &[Arg::I(lead_id)],
            )
            .await?;
        let Some((campaign_id, tz, dnc)) = row else {
            return Err(StoreError::UnknownLead(lead_id));
        };
        if dnc > 0 {
            return Ok(Some("number is on the do-not-call list"));
        }
        let rec = self.campaign_by_id(tx, campaign_id).await?;
        if !rec.def.window.is_open(tz_of(&tz), now_ms) {
            return Ok(Some("outside the calling window in the callee's time zone"));
        }
        Ok(None)
    }

    /// A [`Store::begin_attempt`] whose reply was lost (the connection dropped): `node` did not
    /// place the call. If the attempt committed anyway (open, on `lead_id`, by `node`, at
    /// `dial_ms`) it is closed `unknown` — what recovery says of a call whose outcome nobody
    /// knows — and scheduled by the campaign's rules; otherwise the lead goes back to the pool.
    /// Safe to call again. Returns whether an attempt was closed.
    pub async fn close_undialled(
        &self,
        lead_id: i64,
        node: &str,
        dial_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let open: Option<(i64,)> = tx
            .opt(
                "SELECT id FROM attempts WHERE lead_id = $1 AND node = $2 AND dial_ms = $3 \
                 AND is_open = 1",
                &[Arg::I(lead_id), Arg::S(node), Arg::I(dial_ms)],
            )
            .await?;
        let closed = match open {
            Some((id,)) => {
                let outcome = AttemptOutcome::new(CallDisposition::Unknown, dial_ms);
                self.finish_in(&mut tx, id, &outcome).await?;
                true
            }
            None => {
                release_in(&mut tx, &[lead_id]).await?;
                false
            }
        };
        tx.commit().await?;
        Ok(closed)
    }

    /// Closes an open attempt with `outcome` and schedules the lead by the campaign's rules, in one
    /// transaction. Returns what happens to the lead next.
    pub async fn finish_attempt(
        &self,
        attempt_id: i64,
        outcome: &AttemptOutcome,
    ) -> Result<Next, StoreError> {
        let mut tx = self.write_tx().await?;
        let next = self.finish_in(&mut tx, attempt_id, outcome).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Begin and finish in one transaction, for a leased lead (any node): the attempt started at
    /// `outcome.dial_ms` (or `end_ms`). Returns the attempt id and the lead's next state.
    pub async fn record_attempt(
        &self,
        lead_id: i64,
        outcome: &AttemptOutcome,
    ) -> Result<(i64, Next), StoreError> {
        let dial = outcome
            .dial_ms
            .or(outcome.end_ms)
            .ok_or(StoreError::MissingTime)?;
        let mut tx = self.write_tx().await?;
        let id = begin_in(&mut tx, lead_id, None, dial).await?;
        let next = self.finish_in(&mut tx, id, outcome).await?;
        tx.commit().await?;
        Ok((id, next))
    }

    /// Writes what open calls reached so far, in one transaction (the engine batches them). A
    /// live answer counts in the abandon-rate windows from here on, and recovery after a crash
    /// closes the call with what it reached. Updates for attempts already closed are ignored.
    pub async fn record_progress(&self, batch: &[CallProgress]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        for p in batch {
            tx.exec(
                "UPDATE attempts SET ring_ms = COALESCE($2, ring_ms), \
                 answer_ms = COALESCE($3, answer_ms), live = COALESCE($4, live), \
                 trunk = COALESCE($5, trunk), connect_ms = COALESCE($6, connect_ms), \
                 agent = COALESCE($7, agent), connected = COALESCE($8, connected), \
                 customer_dialog = COALESCE($9, customer_dialog), \
                 agent_dialog = COALESCE($10, agent_dialog) WHERE id = $1 AND is_open = 1",
                &[
                    Arg::I(p.attempt),
                    Arg::OI(p.ring_ms),
                    Arg::OI(p.answer_ms),
                    Arg::OI(p.live.map(i64::from)),
                    Arg::OS(p.trunk.as_deref()),
                    Arg::OI(p.connect_ms),
                    Arg::OS(p.agent.as_deref()),
                    Arg::OI(p.connect_ms.map(|_| 1)),
                    Arg::OS(p.customer_dialog.as_deref()),
                    Arg::OS(p.agent_dialog.as_deref()),
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// After node `node` crashed: its open attempts are closed (end = `now_ms`) with what they
    /// reached (see [`RecoverReport::attempts_closed`]) and scheduled by the campaign's rules;
    /// its undialled leases return to the pool. The report lists the legs that were up.
    pub async fn recover_node(&self, node: &str, now_ms: i64) -> Result<RecoverReport, StoreError> {
        let mut tx = self.write_tx().await?;
        let report = self.recover_in(&mut tx, node, now_ms).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// [`Store::recover_node`] inside the caller's transaction.
    pub(crate) async fn recover_in(
        &self,
        tx: &mut Tx,
        node: &str,
        now_ms: i64,
    ) -> Result<RecoverReport, StoreError> {
        let open: Vec<OpenAttemptRow> = tx
            .all(
                "SELECT id, trunk, agent, ring_ms, answer_ms, connect_ms, live, customer_dialog, \
                 agent_dialog FROM attempts WHERE node = $1 AND is_open = 1 ORDER BY id",
                &[Arg::S(node)],
            )
            .await?;
        let mut legs = Vec::new();
        for a in &open {
            self.finish_in(tx, a.id, &a.outcome(now_ms)).await?;
            if let Some(dialog) = &a.customer_dialog {
                legs.push(OpenLeg {
                    attempt: a.id,
                    agent: None,
                    dialog: Some(dialog.clone()),
                });
            }
            if a.agent.is_some() {
                legs.push(OpenLeg {
                    attempt: a.id,
                    agent: a.agent.clone(),
                    dialog: a.agent_dialog.clone(),
                });
            }
        }
        let ids: Vec<(i64,)> = tx
            .all(
                "SELECT id FROM leads WHERE lease_node = $1 AND state = 'leased'",
                &[Arg::S(node)],
            )
            .await?;
        let ids: Vec<i64> = ids.into_iter().map(|(id,)| id).collect();
        let released = release_in(tx, &ids).await?;
        Ok(RecoverReport {
            attempts_closed: open.len() as u64,
            leases_released: released,
            legs,
        })
    }

    /// Returns leased (not yet dialled) leads to the pool.
    pub async fn release(&self, lead_ids: &[i64]) -> Result<u64, StoreError> {
        let mut tx = self.write_tx().await?;
        let n = release_in(&mut tx, lead_ids).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// `(live answers, abandoned)` of a campaign's attempts dialled since `since_ms` (the abandon
    /// rate's numerator and denominator over 24 h or 30 days).
    pub async fn abandon_counts(
        &self,
        campaign: &str,
        since_ms: i64,
    ) -> Result<(i64, i64), StoreError> {
        let mut tx = self.read_tx().await?;
        let rec = self.campaign_in(&mut tx, campaign).await?;
        let counts: (i64, i64) = tx
            .one(
                "SELECT CAST(COALESCE(SUM(live), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN disposition = 'abandoned' THEN 1 ELSE 0 END), 0) \
                 AS BIGINT) FROM attempts WHERE campaign_id = $1 AND dial_ms >= $2",
                &[Arg::I(rec.id), Arg::I(since_ms)],
            )
            .await?;
        tx.commit().await?;
        Ok(counts)
    }

    pub(crate) async fn finish_in(
        &self,
        tx: &mut Tx,
        attempt_id: i64,
        o: &AttemptOutcome,
    ) -> Result<Next, StoreError> {
        let att: AttemptRow = tx
            .opt(
                "SELECT lead_id, is_open, dial_ms FROM attempts WHERE id = $1 FOR UPDATE",
                &[Arg::I(attempt_id)],
            )
            .await?
            .ok_or(StoreError::UnknownAttempt(attempt_id))?;
        if att.is_open == 0 {
            return Err(StoreError::AttemptClosed(attempt_id));
        }
        let lead: LeadRow = tx
            .opt(LEAD_FOR_UPDATE, &[Arg::I(att.lead_id)])
            .await?
            .ok_or(StoreError::UnknownLead(att.lead_id))?;
        let rec = self.campaign_by_id(tx, lead.campaign_id).await?;
        let end = o
            .end_ms
            .or(o.connect_ms)
            .or(o.answer_ms)
            .or(o.ring_ms)
            .unwrap_or(att.dial_ms);
        let counters = Counters {
            attempts: lead.attempts.max(0) as u32,
            day_key: lead.day_key,
            day_attempts: lead.day_attempts.max(0) as u32,
        };
        let d = o.disposition;
        let next = next_after(
            &rec.def,
            tz_of(&lead.timezone),
            counters,
            d,
            o.callback_at_ms,
            end,
        );
        tx.exec(
            "UPDATE attempts SET is_open = 0, disposition = $2, sip_code = $3, trunk = $4, \
             agent = $5, ring_ms = $6, answer_ms = $7, connect_ms = $8, end_ms = $9, \
             wait_ms = $10, live = $11, connected = $12, customer_dialog = NULL, \
             agent_dialog = NULL WHERE id = $1",
            &[
                Arg::I(attempt_id),
                Arg::S(d.as_str()),
                Arg::OI(o.sip_code.map(i64::from)),
                Arg::OS(o.trunk.as_deref()),
                Arg::OS(o.agent.as_deref()),
                Arg::OI(o.ring_ms),
                Arg::OI(o.answer_ms),
                Arg::OI(o.connect_ms),
                Arg::I(end),
                Arg::OI(o.wait_ms),
                Arg::I(d.is_live_answer() as i64),
                Arg::I(d.is_connected() as i64),
            ],
        )
        .await?;
        let (state, due) = match next {
            Next::Retry { due_ms } => ("scheduled", Some(due_ms)),
            Next::Done => ("done", None),
        };
        tx.exec(
            "UPDATE leads SET state = $2, due_ms = COALESCE($3, due_ms), lease_node = NULL, \
             lease_until_ms = NULL, last_disposition = $4 WHERE id = $1",
            &[
                Arg::I(att.lead_id),
                Arg::S(state),
                Arg::OI(due),
                Arg::S(d.as_str()),
            ],
        )
        .await?;
        tx.exec(
            "DELETE FROM inflight WHERE phone = $1 AND lead_id = $2",
            &[Arg::S(&lead.phone), Arg::I(att.lead_id)],
        )
        .await?;
        if let Some(m) = &o.media {
            super::media::write_call_media(tx, attempt_id, m, end).await?;
        }
        if d == CallDisposition::DoNotCall {
            tx.exec(
                "INSERT INTO dnc (phone, added_ms, source) VALUES ($1, $2, $3) \
                 ON CONFLICT (phone) DO NOTHING",
                &[Arg::S(&lead.phone), Arg::I(end), Arg::S("agent")],
            )
            .await?;
        }
        Ok(next)
    }
}

async fn begin_in(
    tx: &mut Tx,
    lead_id: i64,
    node: Option<&str>,
    dial_ms: i64,
) -> Result<i64, StoreError> {
    let lead: LeadRow = tx
        .opt(LEAD_FOR_UPDATE, &[Arg::I(lead_id)])
        .await?
        .ok_or(StoreError::UnknownLead(lead_id))?;
    let holder = lead.lease_node.clone().unwrap_or_default();
    if lead.state != "leased" || node.is_some_and(|n| n != holder) {
        return Err(StoreError::NotLeased {
            lead: lead_id,
            node: node.unwrap_or(&holder).to_string(),
        });
    }
    let day = local_day(tz_of(&lead.timezone), dial_ms);
    let day_attempts = if day == lead.day_key {
        lead.day_attempts + 1
    } else {
        1
    };
    let (id,): (i64,) = tx
        .one(
            "INSERT INTO attempts (lead_id, campaign_id, phone, node, is_open, dial_ms, \
             phone_rev) VALUES ($1, $2, $3, $4, 1, $5, $6) RETURNING id",
            &[
                Arg::I(lead_id),
                Arg::I(lead.campaign_id),
                Arg::S(&lead.phone),
                Arg::S(&holder),
                Arg::I(dial_ms),
                Arg::S(&super::records::phone_rev(&lead.phone)),
            ],
        )
        .await?;
    // The first attempt meets the SLA: the lead no longer jumps the queue. An owned callback is
    // being made (for its owner, or for anyone once its grace passed): it is nobody's any more.
    tx.exec(
        "UPDATE leads SET state = 'dialing', attempts = attempts + 1, day_key = $2, \
         day_attempts = $3, sla_ms = $4, last_attempt_ms = $5, owner_agent = NULL, \
         owner_until_ms = NULL WHERE id = $1",
        &[
            Arg::I(lead_id),
            Arg::I(day),
            Arg::I(day_attempts),
            Arg::I(NO_SLA),
            Arg::I(dial_ms),
        ],
    )
    .await?;
    tx.exec(
        "INSERT INTO inflight (phone, lead_id, until_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (phone) DO UPDATE SET lead_id = excluded.lead_id, until_ms = excluded.until_ms",
        &[Arg::S(&lead.phone), Arg::I(lead_id), Arg::I(NO_SLA)],
    )
    .await?;
    Ok(id)
}

pub(crate) async fn release_in(tx: &mut Tx, ids: &[i64]) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let n = tx
        .exec(
            "UPDATE leads SET state = CASE WHEN attempts = 0 THEN 'new' ELSE 'scheduled' END, \
             lease_node = NULL, lease_until_ms = NULL WHERE id = ANY($1) AND state = 'leased'",
            &[Arg::Ints(ids)],
        )
        .await?;
    tx.exec(
        "DELETE FROM inflight WHERE lead_id = ANY($1)",
        &[Arg::Ints(ids)],
    )
    .await?;
    Ok(n)
}
