//! The audited supervisor changes, one function each, shared by the JSON API (`http`) and the web
//! pages (`crate::web`): validate, hand the change to [`Control`], write one audit row per field
//! whose value changed with the caller's token name. Owns no routing and no HTML; a change made
//! from a page and one made with curl cannot differ in what they check or record.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;

use super::control::{AuditRow, Control, PacingRequest, PacingUpdate};
use super::http::{ApiError, PauseUpdate};
use super::validate;

/// Epoch milliseconds now (the audit rows' time).
pub(crate) fn now_ms() -> i64 {
    // A clock before 1970 is a broken machine; 0 then keeps the audit row rather than failing.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Writes audit rows; a failure after the change was applied is reported as 500 and logged.
async fn write_audit(control: &dyn Control, rows: Vec<AuditRow>) -> Result<(), ApiError> {
    if rows.is_empty() {
        return Ok(());
    }
    for r in &rows {
        tracing::info!(token = %r.token, campaign = %r.campaign, field = %r.field,
            old = %r.old, new = %r.new, "admin change");
    }
    control.audit(rows).await.map_err(|e| {
        tracing::error!(error = %e, "admin change applied but its audit rows were not written");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("change applied but the audit write failed: {e}"),
        )
    })
}

/// Checks and applies a pacing change to `campaign` for the token named `token`; audits every
/// field that changed. A rejected change changes nothing and writes no audit row.
pub(crate) async fn pacing(
    control: &dyn Control,
    token: &str,
    campaign: &str,
    request: PacingRequest,
) -> Result<PacingUpdate, ApiError> {
    let change = validate::pacing_request(request).map_err(ApiError::invalid)?;
    let current = control.campaign(campaign).await?;
    validate::pacing_against(&current.pacing, current.abandon_cap, &change)
        .map_err(ApiError::invalid)?;
    let update = control.set_pacing(campaign, change).await?;
    let at_ms = now_ms();
    let rows = validate::changed_fields(&update.old, &update.new)
        .into_iter()
        .map(|(field, old, new)| AuditRow {
            at_ms,
            token: token.to_string(),
            campaign: update.campaign.clone(),
            field: field.to_string(),
            old,
            new,
        })
        .collect();
    write_audit(control, rows).await?;
    Ok(update)
}

/// Pauses (`paused`) or resumes `campaign` for the token named `token`; audits the change when
/// there was one.
pub(crate) async fn paused(
    control: &dyn Control,
    token: &str,
    campaign: &str,
    paused: bool,
) -> Result<PauseUpdate, ApiError> {
    let was_paused = control.set_paused(campaign, paused).await?;
    if was_paused != paused {
        let row = AuditRow {
            at_ms: now_ms(),
            token: token.to_string(),
            campaign: campaign.to_string(),
            field: "paused".into(),
            old: was_paused.to_string(),
            new: paused.to_string(),
        };
        write_audit(control, vec![row]).await?;
    }
    Ok(PauseUpdate {
        campaign: campaign.to_string(),
        paused,
        was_paused,
    })
}
