//! What crosses [`Core`](super::Core)'s edge: the typed ids, the inputs the shell feeds in
//! (SIP events and replies, store results, supervisor requests, media events) and the effects it
//! drains out (SIP, store and media commands, replies to supervisors). Plain data only: no channel, no
//! socket, no future. Owns no decision.

use std::path::PathBuf;
use std::time::Instant;

use crate::admin::{
    AgentAction, AgentView, CampaignView, ControlError, PacingChange, PacingUpdate, ScreenPop,
};
use crate::media::io::{LegId, MediaCommand, Prompt};
use crate::pacing::PastCall;
use crate::sip::endpoint::PlaceError;
use crate::sip::endpoint::{
    AgentCall, AgentLeg, CallId as SipCall, DialogSnapshot, Event, PlaceCall,
};
use crate::sip::values::SipUri;
use crate::store::{CallProgress, LeasedLead, OpenLeg, PacingOverride, StoreError};

use crate::engine::writes::Write;

/// One outbound call, from the dial that consumes its lease to its call record: the key of
/// [`SipCommand::Place`], [`StoreCommand::BeginAttempt`] and their results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallKey(pub u64);

/// A campaign of this run: its position in the run's campaign list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CampaignId(pub usize);

/// An agent of this run: its position in the config's expanded agent list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentIdx(pub usize);

/// A supervisor request waiting for its [`Effect::Reply`] (the shell keeps its reply channel
/// under this id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyId(pub u64);

/// What [`Core`](super::Core) asks the world to do, drained with
/// [`poll_effect`](super::Core::poll_effect) in the order it was decided.
#[derive(Debug)]
pub enum Effect {
    /// A command to the SIP endpoint.
    Sip(SipCommand),
    /// A command to the store; its result comes back through
    /// [`handle_store`](super::Core::handle_store).
    Store(StoreCommand),
    /// The answer to a supervisor request.
    Reply(ReplyId, AdminReply),
    /// A command to the media plane; what it reports comes back through
    /// [`handle_media`](super::Core::handle_media).
    Media(MediaCommand),
}

pub use crate::campaign::media::RecordingMode;

/// A campaign's call-progress analysis as the engine core runs it (the lead builds it from the
/// campaign's `cpa:` section, with the announcements loaded once at start, and sets it with
/// [`Core::set_cpa`](super::Core::set_cpa)); none: the campaign's calls are not analysed.
#[derive(Clone, Debug, PartialEq)]
pub struct CpaSetup {
    /// The classifiers' thresholds.
    pub settings: std::sync::Arc<crate::cpa::settings::CpaSettings>,
    /// The known announcements (none: no matching).
    pub library: Option<crate::media::io::Announcements>,
    /// What each verdict does.
    pub policy: crate::campaign::cpa::CpaPolicy,
}

/// A campaign's media settings the engine core acts on (the lead fills it from the campaign's
/// `abandon_message` and `recording:` with [`Core::set_media_setup`](super::Core::set_media_setup)).
#[derive(Clone, Debug, PartialEq)]
pub struct MediaSetup {
    /// The safe-harbour message outdial plays to an answered customer no agent takes within
    /// `patience`; `None`: the campaign's `announcement` URI, else a hang-up.
    pub abandon_prompt: Option<Prompt>,
    /// The DTMF key that, pressed during the message, puts the number on the do-not-call list.
    pub opt_out_key: char,
    /// What is recorded.
    pub recording: RecordingMode,
    /// Where: `<dir>/<campaign>/<yyyy-mm-dd>/<attempt>-<number>.wav` (UTC date of the answer).
    pub recording_dir: PathBuf,
}

impl Default for MediaSetup {
    fn default() -> Self {
        MediaSetup {
            abandon_prompt: None,
            opt_out_key: '9',
            recording: RecordingMode::None,
            recording_dir: PathBuf::from("recordings"),
        }
    }
}

/// One thing the engine asks of the SIP endpoint. Those marked "answered by" expect the shell to
/// feed the named [`SipInput`] back; the others report nothing (a failure is the shell's to log).
#[derive(Debug)]
pub enum SipCommand {
    /// Place an outbound call (the attempt is committed). Answered by [`SipInput::Placed`].
    Place {
        /// The call.
        key: CallKey,
        /// The INVITE.
        req: PlaceCall,
    },
    /// Join an answered customer (or a queued inbound caller) to an agent.
    Connect {
        /// The customer's call.
        call: SipCall,
        /// The agent's phone.
        agent: SipUri,
        /// What the agent's phone is shown.
        shown: AgentLeg,
    },
    /// Join an inbound caller to the campaign's announcement (queue timeout).
    Announce {
        /// The caller.
        call: SipCall,
        /// The announcement.
        announcement: SipUri,
    },
    /// Abandon an answered customer: to the announcement if any, else hang up.
    Abandon {
        /// The call.
        call: SipCall,
        /// The campaign's announcement.
        announcement: Option<SipUri>,
    },
    /// Hang up (or cancel, before an answer).
    Hangup {
        /// The call.
        call: SipCall,
    },
    /// 200 to an anchored inbound caller with outdial's SDP answer (its leg is open).
    Answer {
        /// The caller.
        call: SipCall,
        /// outdial's SDP answer to the caller's offer.
        sdp: String,
    },
    /// 180 to a queued inbound caller.
    Ring {
        /// The caller.
        call: SipCall,
    },
    /// Refuse an inbound caller with `code`.
    Reject {
        /// The caller.
        call: SipCall,
        /// The SIP status.
        code: u16,
    },
    /// Refuse a dial-in agent's INVITE with a digest challenge (401).
    Challenge {
        /// The phone's call.
        call: SipCall,
        /// The engine's realm.
        realm: String,
        /// A fresh nonce.
        nonce: String,
        /// The credentials were right over an expired nonce (`stale=true`).
        stale: bool,
    },
    /// Which trunk carries `call` now. Answered by [`SipInput::Trunk`].
    QueryTrunk {
        /// The call.
        key: CallKey,
        /// Its SIP call.
        call: SipCall,
    },
    /// Complete a milestone with what only SIP knows (trunk, dialogs of the legs up). Answered by
    /// [`SipInput::Progress`].
    CompleteProgress {
        /// The call.
        call: SipCall,
        /// The milestone.
        progress: CallProgress,
    },
    /// Trunk lines free now in each group. Answered by [`SipInput::FreeLines`]; the
    /// housekeeping tick waits for it.
    FreeLines {
        /// Trunk groups.
        groups: Vec<String>,
    },
    /// Rebuild a leg a crashed run left up from its stored dialog and send BYE. Answered by
    /// [`SipInput::LegEnding`].
    EndLeg {
        /// The stored dialog.
        snapshot: DialogSnapshot,
        /// The agent whose leg it was.
        agent: Option<String>,
        /// The attempt.
        attempt: i64,
    },
    /// Push the endpoint's trunk gauges to `/metrics`.
    PushTrunkGauges,
    /// Call an agent's phone with outdial's offer (`Endpoint::call_agent`): a nailed-up
    /// connection or a per-call anchored join. Answered by [`SipInput::AgentPlaced`]; then the
    /// call's events (`Ringing`, `Answered` with the phone's SDP, `Failed`, `Ended`) as for a
    /// customer call.
    CallAgent {
        /// The media leg the call is for.
        leg: LegId,
        /// The INVITE.
        req: AgentCall,
    },
}

/// What the SIP side tells [`Core`](super::Core).
#[derive(Debug)]
pub enum SipInput {
    /// An endpoint event.
    Event(Event),
    /// Reply to [`SipCommand::Place`]: the SIP call and its first trunk, or why not.
    Placed {
        /// The call.
        key: CallKey,
        /// The SIP call and trunk.
        result: Result<(SipCall, Option<String>), PlaceFailure>,
    },
    /// Reply to [`SipCommand::QueryTrunk`].
    Trunk {
        /// The call.
        key: CallKey,
        /// Its trunk.
        trunk: Option<String>,
    },
    /// Reply to [`SipCommand::CompleteProgress`].
    Progress(CallProgress),
    /// Reply to [`SipCommand::FreeLines`]: free lines per group (0 when unknown).
    FreeLines(Vec<(String, u32)>),
    /// Reply to [`SipCommand::EndLeg`]: the restored call being ended, if the dialog could be
    /// restored.
    LegEnding {
        /// The call, `None` when nothing was restored.
        call: Option<SipCall>,
        /// The agent whose leg it was.
        agent: Option<String>,
        /// The attempt.
        attempt: i64,
    },
    /// Reply to [`SipCommand::CallAgent`]: the SIP call, or why the INVITE could not leave.
    AgentPlaced {
        /// The media leg the call is for.
        leg: LegId,
        /// The call, or the endpoint's refusal as text.
        result: Result<SipCall, String>,
    },
}

/// Why a call was not placed.
#[derive(Debug, thiserror::Error)]
pub enum PlaceFailure {
    /// The endpoint refused it (no trunk, bad request).
    #[error(transparent)]
    Refused(#[from] PlaceError),
    /// The SIP task has stopped.
    #[error("the sip driver has stopped")]
    DriverGone,
}

/// One thing the engine asks of the store. Each carries what the shell needs to route the
/// result back as a [`StoreResult`].
#[derive(Debug)]
pub enum StoreCommand {
    /// Lease up to `n` leads. Answered by [`StoreResult::Leased`].
    Lease {
        /// The campaign.
        camp: CampaignId,
        /// Its name.
        campaign: String,
        /// How many.
        n: usize,
        /// Now, epoch ms.
        wall_ms: i64,
        /// This node.
        node: String,
        /// Lease duration.
        ttl_ms: i64,
    },
    /// Lease the due callbacks `agents` own (one each at most). Answered by
    /// [`StoreResult::LeasedOwned`].
    LeaseOwned {
        /// The campaign.
        camp: CampaignId,
        /// Its name.
        campaign: String,
        /// The agents (ids) working this campaign on this node with no callback at hand.
        agents: Vec<String>,
        /// Now, epoch ms.
        wall_ms: i64,
        /// This node.
        node: String,
        /// Lease duration.
        ttl_ms: i64,
    },
    /// Commit the attempt before the INVITE leaves. Answered by [`StoreResult::Begun`].
    BeginAttempt {
        /// The call.
        key: CallKey,
        /// The lead.
        lead: i64,
        /// This node.
        node: String,
        /// Now, epoch ms.
        wall_ms: i64,
    },
    /// A write the engine owes the store, queued in order and retried until it lands. Answered
    /// by [`StoreResult::Written`] (and [`StoreResult::Session`] for a session start).
    Write(Write),
    /// Renew this node's liveness row. Answered by [`StoreResult::Renewed`],
    /// [`StoreResult::NodeLost`] or [`StoreResult::StoreDown`].
    RenewNode {
        /// When it was sent (the row runs `node_ttl` from then).
        sent: Instant,
        /// This node.
        node: String,
        /// Now, epoch ms.
        wall_ms: i64,
        /// `node_ttl`.
        ttl_ms: i64,
    },
    /// Recover nodes whose row expired. Answered by [`StoreResult::Recovered`] when they left
    /// legs up.
    ReapDeadNodes {
        /// This node.
        node: String,
        /// Now, epoch ms.
        wall_ms: i64,
    },
    /// Claim (or renew) agents for this node. Answered by [`StoreResult::Claimed`].
    ClaimAgents {
        /// This node.
        node: String,
        /// Agent ids.
        ids: Vec<String>,
        /// Now, epoch ms.
        wall_ms: i64,
        /// Claim duration.
        ttl_ms: i64,
    },
    /// The customer pressed the opt-out key during the safe-harbour message: put `phone` on the
    /// do-not-call list at once (one statement: it holds even if the call record is late). The
    /// call record says so too ([`crate::store::CallMedia::opted_out`]). Reports nothing.
    OptOut {
        /// The attempt.
        attempt: i64,
        /// The customer's E.164 number.
        phone: String,
        /// Now, epoch ms.
        wall_ms: i64,
    },
    /// Read supervisor overrides. Answered by [`StoreResult::Overrides`].
    ReadOverrides,
    /// Read a campaign's abandon figures over 24 h and 30 days. Answered by
    /// [`StoreResult::Rates`].
    ReadRates {
        /// The campaign.
        camp: CampaignId,
        /// Its name.
        campaign: String,
        /// Now, epoch ms.
        wall_ms: i64,
    },
}

/// A store result fed back with [`handle_store`](super::Core::handle_store).
#[derive(Debug)]
pub enum StoreResult {
    /// A lease returned.
    Leased {
        /// The campaign.
        camp: CampaignId,
        /// The leads.
        result: Result<Vec<LeasedLead>, StoreError>,
    },
    /// A lease of owned callbacks returned (each lead names its owner).
    LeasedOwned {
        /// The campaign.
        camp: CampaignId,
        /// The leads.
        result: Result<Vec<LeasedLead>, StoreError>,
    },
    /// `begin_attempt` returned.
    Begun {
        /// The call.
        key: CallKey,
        /// The attempt id.
        result: Result<i64, StoreError>,
    },
    /// A queued write landed (or was refused for good), in queue order.
    Written,
    /// Campaign-wide abandon figures: (live, abandoned) over 24 h and 30 days.
    Rates {
        /// The campaign.
        camp: CampaignId,
        /// Last 24 h.
        day: (i64, i64),
        /// Last 30 days.
        month: (i64, i64),
    },
    /// Supervisor overrides (shared by every node): (campaign, override, wall-clock ms of the
    /// write that left it so).
    Overrides(Vec<(String, PacingOverride, i64)>),
    /// A session row was written for an agent.
    Session {
        /// The agent.
        agent: AgentIdx,
        /// The row.
        id: i64,
    },
    /// Agents this node owns now.
    Claimed(Vec<String>),
    /// This node's row was gone when it tried to renew it: another node reaped it.
    NodeLost,
    /// This node's row was renewed by the renewal sent at this instant.
    Renewed(Instant),
    /// A lease, an attempt or a renewal could not reach the store.
    StoreDown,
    /// Legs that were up on a node recovered by this one: end them.
    Recovered(Vec<OpenLeg>),
    /// Past calls of a campaign (warm start of its dialer), already read.
    PastCalls {
        /// The campaign.
        camp: CampaignId,
        /// Its recent calls, store (wall) times.
        calls: Vec<PastCall>,
    },
}

/// A supervisor request (admin API).
#[derive(Debug)]
pub enum AdminRequest {
    /// Every campaign.
    Campaigns,
    /// One campaign.
    Campaign(String),
    /// Change a campaign's pacing.
    SetPacing(String, PacingChange),
    /// Pause or resume a campaign.
    SetPaused(String, bool),
    /// Every agent.
    Agents,
    /// An action on an agent.
    AgentAction(String, AgentAction),
    /// An agent's current call.
    Current(String),
    /// The wallboard's live figures (the store's are added by the shell).
    Wallboard,
}

/// The answer to an [`AdminRequest`], variant for variant.
#[derive(Debug)]
pub enum AdminReply {
    /// To [`AdminRequest::Campaigns`].
    Campaigns(Result<Vec<CampaignView>, ControlError>),
    /// To [`AdminRequest::Campaign`].
    Campaign(Result<CampaignView, ControlError>),
    /// To [`AdminRequest::SetPacing`].
    Pacing(Result<PacingUpdate, ControlError>),
    /// To [`AdminRequest::SetPaused`]: whether it was paused.
    Paused(Result<bool, ControlError>),
    /// To [`AdminRequest::Agents`].
    Agents(Result<Vec<AgentView>, ControlError>),
    /// To [`AdminRequest::AgentAction`].
    Agent(Result<AgentView, ControlError>),
    /// To [`AdminRequest::Current`].
    Current(Result<Option<ScreenPop>, ControlError>),
    /// To [`AdminRequest::Wallboard`].
    Wallboard(Result<crate::admin::wallboard::Wallboard, ControlError>),
}
