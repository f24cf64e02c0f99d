//! What the live engine keeps in the store so that several nodes on one database act as one: the
//! supervisors' audit trail, pacing overrides, agent ownership claims, agent sessions (staffed
//! time), agent wrap-up dispositions on closed attempts, and the rows behind `outdial report` and
//! the abandon-rate windows.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::db::{from_row, Arg, Tx};
use super::retry::{next_after, Counters, Next};
use super::rows::{AuditRow, CdrRow, InboundRow, StaffedInterval};
use super::{Store, StoreError};
use crate::campaign::disposition::AGENT_NOT_SET;
use crate::campaign::phone::parse_timezone;
use crate::campaign::{CallDisposition, DialMode};

const DAY_MS: i64 = 86_400_000;

/// A supervisor's pacing settings for a campaign, as stored for every node to read. `None` fields
/// are not overridden (the campaign definition's value holds); in [`Store::set_override`] they
/// keep whatever was stored before.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PacingOverride {
    /// Dial mode (`predictive`, `power:2`, …), stored as its text.
    pub mode: Option<DialMode>,
    /// Lines per ready agent.
    pub ratio: Option<f64>,
    /// Upper bound of the dial level.
    pub max_ratio: Option<f64>,
    /// Abandon rate to keep under.
    pub target_abandon: Option<f64>,
    /// Whether the campaign is paused (no new dials). Always `Some` when read back.
    pub paused: Option<bool>,
}

/// An agent's wrap-up of one call, as [`Store::apply_wrap_up`] records it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AgentWrapUp<'a> {
    /// The code.
    pub disposition: CallDisposition,
    /// The time agreed for a `callback` (epoch ms), if any.
    pub callback_at_ms: Option<i64>,
    /// Who gave it: a callback becomes theirs.
    pub agent: Option<&'a str>,
    /// The agent's note, kept on the call record.
    pub note: Option<&'a str>,
}

/// What [`Store::report_input`] returns: everything `outdial report` needs of one campaign.
#[derive(Clone, Debug)]
pub struct ReportInput {
    /// The campaign's default time zone (hours are local to it).
    pub tz: Tz,
    /// Its attempts dialled at or after `since`, oldest first.
    pub calls: Vec<CdrRow>,
    /// Staffed intervals of its agents (`None` when no session was ever recorded for it).
    pub sessions: Option<Vec<StaffedInterval>>,
    /// Inbound calls that arrived for it at or after `since`, oldest first.
    pub inbound: Vec<InboundRow>,
}

from_row! {
    struct AuditDbRow {
        at_ms: i64,
        token: String,
        campaign: String,
        field: String,
        old: String,
        new: String,
    }
}

from_row! {
    struct OverrideRow {
        name: String,
        mode: Option<String>,
        ratio: Option<f64>,
        max_ratio: Option<f64>,
        target_abandon: Option<f64>,
        paused: i64,
        updated_ms: i64,
    }
}

impl OverrideRow {
    /// The row as an override. The mode text is parsed here, at the store boundary; a text
    /// that is no mode (another node or an older version may have written it) voids the row's
    /// pacing fields, as the engine would refuse the whole change, and keeps its pause.
    fn split(self) -> (String, PacingOverride, i64) {
        let paused = Some(self.paused != 0);
        let pacing = match self.mode.as_deref().map(str::parse::<DialMode>).transpose() {
            Ok(mode) => PacingOverride {
                mode,
                ratio: self.ratio,
                max_ratio: self.max_ratio,
                target_abandon: self.target_abandon,
                paused,
            },
            Err(e) => {
                tracing::warn!(campaign = %self.name, error = %e, "stored override not applied");
                PacingOverride {
                    paused,
                    ..PacingOverride::default()
                }
            }
        };
        (self.name, pacing, self.updated_ms)
    }
}

from_row! {
    struct WrapAttempt {
        lead_id: i64,
        is_open: i64,
        end_ms: Option<i64>,
        dial_ms: i64,
        agent_disposition: Option<String>,
    }
}

from_row! {
    struct WrapLead {
        campaign_id: i64,
        phone: String,
        timezone: String,
        state: String,
        attempts: i64,
        day_key: i64,
        day_attempts: i64,
    }
}

from_row! {
    struct CdrDbRow {
        dial_ms: i64,
        answer_ms: Option<i64>,
        connect_ms: Option<i64>,
        end_ms: Option<i64>,
        wrapup_end_ms: Option<i64>,
        disposition: Option<String>,
        cpa_verdict: Option<String>,
        cpa_delay_ms: Option<i64>,
    }
}

const OVERRIDE_COLUMNS: &str = "SELECT c.name, o.mode, o.ratio, o.max_ratio, o.target_abandon, \
     o.paused, o.updated_ms FROM pacing_overrides o JOIN campaigns c ON c.id = o.campaign_id";

impl Store {
    /// Durably writes audit rows, all or none.
    pub async fn audit(&self, rows: &[AuditRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        for r in rows {
            tx.exec(
                "INSERT INTO audit (at_ms, token, campaign, field, old, new) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    Arg::I(r.at_ms),
                    Arg::S(&r.token),
                    Arg::S(&r.campaign),
                    Arg::S(&r.field),
                    Arg::S(&r.old),
                    Arg::S(&r.new),
                ],
            )
            .await?;
        }
        tx.commit().await
    }

    /// Audit rows, oldest first; only those of `campaign` when given.
    pub async fn audit_rows(&self, campaign: Option<&str>) -> Result<Vec<AuditRow>, StoreError> {
        let mut tx = self.read_tx().await?;
        let rows: Vec<AuditDbRow> = tx
            .all(
                "SELECT at_ms, token, campaign, field, old, new FROM audit \
                 WHERE ($1 IS NULL OR campaign = $1) ORDER BY id",
                &[Arg::OS(campaign)],
            )
            .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditRow {
                at_ms: r.at_ms,
                token: r.token,
                campaign: r.campaign,
                field: r.field,
                old: r.old,
                new: r.new,
            })
            .collect())
    }

    /// Merges `change` into the campaign's stored override (`None` fields keep the stored value;
    /// a first override starts unpaused) and returns the override now stored.
    pub async fn set_override(
        &self,
        campaign: &str,
        change: &PacingOverride,
        now_ms: i64,
    ) -> Result<PacingOverride, StoreError> {
        let mut tx = self.write_tx().await?;
        let rec = self.campaign_in(&mut tx, campaign).await?;
        let paused = change.paused.map(i64::from);
        let mode = change.mode.map(|m| m.to_string());
        tx.exec(
            "INSERT INTO pacing_overrides \
             (campaign_id, mode, ratio, max_ratio, target_abandon, paused, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, COALESCE($6, 0), $7) \
             ON CONFLICT (campaign_id) DO UPDATE SET \
             mode = COALESCE($2, pacing_overrides.mode), \
             ratio = COALESCE($3, pacing_overrides.ratio), \
             max_ratio = COALESCE($4, pacing_overrides.max_ratio), \
             target_abandon = COALESCE($5, pacing_overrides.target_abandon), \
             paused = COALESCE($6, pacing_overrides.paused), \
             updated_ms = $7",
            &[
                Arg::I(rec.id),
                Arg::OS(mode.as_deref()),
                Arg::OF(change.ratio),
                Arg::OF(change.max_ratio),
                Arg::OF(change.target_abandon),
                Arg::OI(paused),
                Arg::I(now_ms),
            ],
        )
        .await?;
        let row: OverrideRow = tx
            .one(
                &format!("{OVERRIDE_COLUMNS} WHERE o.campaign_id = $1"),
                &[Arg::I(rec.id)],
            )
            .await?;
        tx.commit().await?;
        Ok(row.split().1)
    }

    /// Every stored override as `(campaign name, override, updated_ms)`, by campaign name.
    pub async fn overrides(&self) -> Result<Vec<(String, PacingOverride, i64)>, StoreError> {
        let mut tx = self.read_tx().await?;
        let rows: Vec<OverrideRow> = tx
            .all(&format!("{OVERRIDE_COLUMNS} ORDER BY c.name"), &[])
            .await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(OverrideRow::split).collect())
    }

    /// Claims (or renews) `agents` for `node` until `now_ms + ttl_ms`: an agent is taken when it is
    /// unclaimed, its claim expired, or it is already this node's. Returns the agents this node now
    /// owns among those asked, sorted. Atomic across nodes: two nodes never both get one agent.
    pub async fn claim_agents(
        &self,
        node: &str,
        agents: &[String],
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut agents = agents.to_vec();
        agents.sort();
        agents.dedup();
        if agents.is_empty() {
            return Ok(Vec::new());
        }
        let until = now_ms.saturating_add(ttl_ms);
        let mut tx = self.write_tx().await?;
        // Sorted input: concurrent claimers lock rows in the same order (no deadlock on PG).
        let source = if tx.is_pg() {
            "SELECT a, $2, $3 FROM UNNEST($1::text[]) AS a ORDER BY a"
        } else {
            "SELECT value, $2, $3 FROM json_each($1) WHERE true"
        };
        let sql = format!(
            "INSERT INTO agent_claims (agent, node, until_ms) {source} \
             ON CONFLICT (agent) DO UPDATE SET node = $2, until_ms = $3 \
             WHERE agent_claims.until_ms <= $4 OR agent_claims.node = $2 \
             RETURNING agent"
        );
        let mut owned: Vec<(String,)> = Vec::with_capacity(agents.len());
        for chunk in agents.chunks(10_000) {
            owned.extend(
                tx.all::<(String,)>(
                    &sql,
                    &[
                        Arg::Strs(chunk),
                        Arg::S(node),
                        Arg::I(until),
                        Arg::I(now_ms),
                    ],
                )
                .await?,
            );
        }
        tx.commit().await?;
        let mut owned: Vec<String> = owned.into_iter().map(|(a,)| a).collect();
        owned.sort();
        Ok(owned)
    }

    /// Releases every claim of `node` (shutdown); returns how many it held.
    pub async fn release_agents(&self, node: &str) -> Result<u64, StoreError> {
        let mut tx = self.write_tx().await?;
        let n = release_agents_in(&mut tx, node).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Opens a staffed session of `agent` on `campaign` at `now_ms`; returns its id. Idempotent:
    /// the same start sent again (a retry whose first reply was lost) returns the session it
    /// opened.
    pub async fn session_start(
        &self,
        agent: &str,
        campaign: &str,
        node: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let mut tx = self.write_tx().await?;
        let rec = self.campaign_in(&mut tx, campaign).await?;
        let same: Option<(i64,)> = tx
            .opt(
                "SELECT id FROM agent_sessions WHERE agent = $1 AND campaign_id = $2 AND node = $3 \
                 AND start_ms = $4 AND end_ms IS NULL",
                &[Arg::S(agent), Arg::I(rec.id), Arg::S(node), Arg::I(now_ms)],
            )
            .await?;
        if let Some((id,)) = same {
            tx.commit().await?;
            return Ok(id);
        }
        let (id,): (i64,) = tx
            .one(
                "INSERT INTO agent_sessions (agent, campaign_id, node, start_ms) \
                 VALUES ($1, $2, $3, $4) RETURNING id",
                &[Arg::S(agent), Arg::I(rec.id), Arg::S(node), Arg::I(now_ms)],
            )
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Ends the open session `id` at `now_ms` with `busy_ms` of talk + wrap-up time in it.
    pub async fn session_end(&self, id: i64, now_ms: i64, busy_ms: i64) -> Result<(), StoreError> {
        let n = self
            .write_one(
                "UPDATE agent_sessions SET end_ms = CASE WHEN $2 > start_ms THEN $2 ELSE start_ms END, busy_ms = $3 \
                 WHERE id = $1 AND end_ms IS NULL",
                &[Arg::I(id), Arg::I(now_ms), Arg::I(busy_ms.max(0))],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::UnknownSession(id));
        }
        Ok(())
    }

    /// Ends every session `node` left open (after a crash, or at shutdown); returns how many.
    pub async fn end_sessions(&self, node: &str, now_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.write_tx().await?;
        let n = end_sessions_in(&mut tx, node, now_ms).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Applies the agent's wrap-up `disposition` to a closed attempt (the engine closed it when the
    /// call ended): records it with the wrap-up end (`now_ms`) and re-schedules the lead by the
    /// campaign's rule for it, counted from `now_ms` (`callback` at `callback_at_ms` when given),
    /// all in one transaction. `do_not_call` puts the number on the DNC list (source `agent`).
    ///
    /// When the lead has moved on since this attempt (leased, dialling or attempted again), its
    /// schedule belongs to the newer attempt: nothing changes and [`StoreError::LeadBusy`] is
    /// returned, except for `do_not_call`, which is always recorded and listed (the lead is then
    /// ended unless a call to it is in flight) and returns [`Next::Done`].
    pub async fn apply_agent_disposition(
        &self,
        attempt_id: i64,
        disposition: CallDisposition,
        callback_at_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<Next, StoreError> {
        let wrap = AgentWrapUp {
            disposition,
            callback_at_ms,
            agent: None,
            note: None,
        };
        self.apply_wrap_up(attempt_id, &wrap, now_ms).await
    }

    /// [`Store::apply_agent_disposition`] with who gave it and the agent's note: the note is kept
    /// on the call record, and a `callback` rescheduled by it is owned by `agent` until its time
    /// plus the campaign's `callbacks.owner_grace` (only [`Store::lease_owned`] for that agent
    /// takes it until then; see `lease`).
    pub async fn apply_wrap_up(
        &self,
        attempt_id: i64,
        wrap: &AgentWrapUp<'_>,
        now_ms: i64,
    ) -> Result<Next, StoreError> {
        let AgentWrapUp {
            disposition,
            callback_at_ms,
            agent,
            note,
        } = *wrap;
        let mut tx = self.write_tx().await?;
        let att: WrapAttempt = tx
            .opt(
                "SELECT lead_id, is_open, end_ms, dial_ms, agent_disposition FROM attempts \
                 WHERE id = $1 FOR UPDATE",
                &[Arg::I(attempt_id)],
            )
            .await?
            .ok_or(StoreError::UnknownAttempt(attempt_id))?;
        if att.is_open != 0 {
            return Err(StoreError::AttemptOpen(attempt_id));
        }
        if att.agent_disposition.is_some() {
            return Err(StoreError::AlreadyDisposed(attempt_id));
        }
        let lead: WrapLead = tx
            .opt(
                "SELECT campaign_id, phone, timezone, state, attempts, day_key, day_attempts \
                 FROM leads WHERE id = $1 FOR UPDATE",
                &[Arg::I(att.lead_id)],
            )
            .await?
            .ok_or(StoreError::UnknownLead(att.lead_id))?;
        let (newer,): (i64,) = tx
            .one(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM attempts WHERE lead_id = $1 AND id > $2",
                &[Arg::I(att.lead_id), Arg::I(attempt_id)],
            )
            .await?;
        let in_flight = lead.state == "leased" || lead.state == "dialing";
        let moved_on = in_flight || newer > 0;
        let is_dnc = disposition == CallDisposition::DoNotCall;
        if moved_on && !is_dnc {
            return Err(StoreError::LeadBusy {
                lead: att.lead_id,
                attempt: attempt_id,
            });
        }
        let wrap_end = now_ms.max(att.end_ms.unwrap_or(att.dial_ms));
        tx.exec(
            "UPDATE attempts SET agent_disposition = $2, wrapup_end_ms = $3, agent_note = $4 \
             WHERE id = $1",
            &[
                Arg::I(attempt_id),
                Arg::S(disposition.as_str()),
                Arg::I(wrap_end),
                Arg::OS(note),
            ],
        )
        .await?;
        if is_dnc {
            tx.exec(
                "INSERT INTO dnc (phone, added_ms, source) VALUES ($1, $2, 'agent') \
                 ON CONFLICT (phone) DO NOTHING",
                &[Arg::S(&lead.phone), Arg::I(now_ms)],
            )
            .await?;
        }
        let next = if moved_on {
            // do_not_call on a lead that moved on: end it unless a call is in flight (the DNC
            // entry stops every later lease and dial).
            if lead.state != "dialing" {
                end_lead(&mut tx, att.lead_id, &lead.phone, disposition).await?;
            }
            Next::Done
        } else {
            let rec = self.campaign_by_id(&mut tx, lead.campaign_id).await?;
            let counters = Counters {
                attempts: lead.attempts.max(0) as u32,
                day_key: lead.day_key,
                day_attempts: lead.day_attempts.max(0) as u32,
            };
            let next = next_after(
                &rec.def,
                parse_timezone(&lead.timezone).unwrap_or(chrono_tz::UTC),
                counters,
                disposition,
                callback_at_ms,
                wrap_end,
            );
            let (state, due) = match next {
                Next::Retry { due_ms } => ("scheduled", Some(due_ms)),
                Next::Done => ("done", None),
            };
            // A callback the agent scheduled is theirs until its time plus the grace.
            let owner = match (disposition, agent, due) {
                (CallDisposition::Callback, Some(a), Some(due_ms)) => Some((
                    a,
                    due_ms.saturating_add(rec.def.callbacks.owner_grace.millis()),
                )),
                _ => None,
            };
            tx.exec(
                "UPDATE leads SET state = $2, due_ms = COALESCE($3, due_ms), \
                 last_disposition = $4, owner_agent = $5, owner_until_ms = $6 WHERE id = $1",
                &[
                    Arg::I(att.lead_id),
                    Arg::S(state),
                    Arg::OI(due),
                    Arg::S(disposition.as_str()),
                    Arg::OS(owner.map(|(a, _)| a)),
                    Arg::OI(owner.map(|(_, until)| until)),
                ],
            )
            .await?;
            next
        };
        tx.commit().await?;
        Ok(next)
    }

    /// Marks a closed attempt whose agent gave no wrap-up code before the engine stopped with
    /// the explicit [`AGENT_NOT_SET`] agent disposition (wrap-up ending `now_ms`). The lead is not
    /// touched: it keeps the schedule its call outcome gave it. An attempt that already has an
    /// agent disposition keeps it; returns whether this one was marked.
    pub async fn mark_agent_disposition_not_set(
        &self,
        attempt_id: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let n = tx
            .exec(
                "UPDATE attempts SET agent_disposition = $2, wrapup_end_ms = $3 \
                 WHERE id = $1 AND is_open = 0 AND agent_disposition IS NULL",
                &[Arg::I(attempt_id), Arg::S(AGENT_NOT_SET), Arg::I(now_ms)],
            )
            .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// What `outdial report` needs, in one read: the campaign's time zone, its attempts dialled
    /// at or after `since_ms` (oldest first), the staffed intervals of its sessions that end
    /// after `since_ms` (open sessions end at `now_ms`; `None` when it never had a session) and
    /// its inbound calls that arrived at or after `since_ms`.
    pub async fn report_input(
        &self,
        campaign: &str,
        since_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<ReportInput, StoreError> {
        let since = since_ms.unwrap_or(i64::MIN);
        let mut tx = self.read_tx().await?;
        let rec = self.campaign_in(&mut tx, campaign).await?;
        let rows: Vec<CdrDbRow> = tx
            .all(
                "SELECT dial_ms, answer_ms, connect_ms, end_ms, wrapup_end_ms, disposition, \
                 cpa_verdict, cpa_delay_ms FROM attempts WHERE campaign_id = $1 AND dial_ms >= $2 ORDER BY dial_ms, id",
                &[Arg::I(rec.id), Arg::I(since)],
            )
            .await?;
        let (sessions_ever,): (i64,) = tx
            .one(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM agent_sessions WHERE campaign_id = $1",
                &[Arg::I(rec.id)],
            )
            .await?;
        let sessions = if sessions_ever == 0 {
            None
        } else {
            let spans: Vec<(i64, Option<i64>)> = tx
                .all(
                    "SELECT start_ms, end_ms FROM agent_sessions WHERE campaign_id = $1 \
                     AND (end_ms IS NULL OR end_ms > $2) ORDER BY start_ms, id",
                    &[Arg::I(rec.id), Arg::I(since)],
                )
                .await?;
            Some(
                spans
                    .into_iter()
                    .map(|(start_ms, end_ms)| StaffedInterval {
                        start_ms,
                        end_ms: end_ms.unwrap_or(now_ms).max(start_ms),
                    })
                    .collect(),
            )
        };
        let inbound: Vec<(i64, Option<i64>, i64)> = tx
            .all(
                "SELECT arrive_ms, connect_ms, end_ms FROM inbound_calls \
                 WHERE campaign_id = $1 AND arrive_ms >= $2 ORDER BY arrive_ms, id",
                &[Arg::I(rec.id), Arg::I(since)],
            )
            .await?;
        tx.commit().await?;
        let calls = rows
            .into_iter()
            .map(|r| CdrRow {
                dial_ms: r.dial_ms,
                answer_ms: r.answer_ms,
                connect_ms: r.connect_ms,
                end_ms: r.end_ms,
                wrapup_end_ms: r.wrapup_end_ms,
                disposition: r.disposition,
                cpa_verdict: r.cpa_verdict,
                cpa_delay_ms: r.cpa_delay_ms,
            })
            .collect();
        let inbound = inbound
            .into_iter()
            .map(|(arrive_ms, connect_ms, end_ms)| InboundRow {
                arrive_ms,
                connect_ms,
                end_ms,
            })
            .collect();
        Ok(ReportInput {
            tz: rec.def.tz(),
            calls,
            sessions,
            inbound,
        })
    }

    /// The abandon-rate windows in one read: `(live answers, abandoned)` of the campaign's
    /// attempts dialled in the last 24 hours, then in the last 30 days, as
    /// `(live_24h, abandoned_24h, live_30d, abandoned_30d)`.
    pub async fn abandon_rates(
        &self,
        campaign: &str,
        now_ms: i64,
    ) -> Result<(i64, i64, i64, i64), StoreError> {
        let mut tx = self.read_tx().await?;
        let rec = self.campaign_in(&mut tx, campaign).await?;
        let counts: (i64, i64, i64, i64) = tx
            .one(
                "SELECT \
                 CAST(COALESCE(SUM(CASE WHEN dial_ms >= $2 THEN live ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN dial_ms >= $2 AND disposition = 'abandoned' \
                 THEN 1 ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(live), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN disposition = 'abandoned' THEN 1 ELSE 0 END), 0) \
                 AS BIGINT) \
                 FROM attempts WHERE campaign_id = $1 AND dial_ms >= $3",
                &[
                    Arg::I(rec.id),
                    Arg::I(now_ms.saturating_sub(DAY_MS)),
                    Arg::I(now_ms.saturating_sub(30 * DAY_MS)),
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(counts)
    }
}

/// Marks a lead done with `disposition`, dropping any lease it holds.
async fn end_lead(
    tx: &mut Tx,
    lead_id: i64,
    phone: &str,
    disposition: CallDisposition,
) -> Result<(), StoreError> {
    tx.exec(
        "UPDATE leads SET state = 'done', lease_node = NULL, lease_until_ms = NULL, \
         last_disposition = $2 WHERE id = $1",
        &[Arg::I(lead_id), Arg::S(disposition.as_str())],
    )
    .await?;
    tx.exec(
        "DELETE FROM inflight WHERE phone = $1 AND lead_id = $2",
        &[Arg::S(phone), Arg::I(lead_id)],
    )
    .await?;
    Ok(())
}

/// [`Store::end_sessions`] inside the caller's transaction.
pub(crate) async fn end_sessions_in(
    tx: &mut Tx,
    node: &str,
    at_ms: i64,
) -> Result<u64, StoreError> {
    tx.exec(
        "UPDATE agent_sessions SET end_ms = CASE WHEN $2 > start_ms THEN $2 ELSE start_ms END \
         WHERE node = $1 AND end_ms IS NULL",
        &[Arg::S(node), Arg::I(at_ms)],
    )
    .await
}

/// [`Store::release_agents`] inside the caller's transaction.
pub(crate) async fn release_agents_in(tx: &mut Tx, node: &str) -> Result<u64, StoreError> {
    tx.exec("DELETE FROM agent_claims WHERE node = $1", &[Arg::S(node)])
        .await
}
