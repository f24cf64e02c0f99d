//! Call-progress analysis in the engine (issue 18): when an anchored call's audio is analysed,
//! and what each verdict does to the call, per the campaign's `cpa:` policy.
//!
//! - Early media (a 183 with SDP) is analysed in [`Phase::Early`]; an announcement or SIT there
//!   cancels the call before any answer, with the verdict's disposition.
//! - On the answer a fresh [`Phase::Answer`] analysis starts, and the call waits for its verdict:
//!   the customer is not bridged and not offered to an agent, and the dialer hears only that the
//!   call is in analysis (`handle_call_analysing`: it plans with the learned chance of a person
//!   after the learned delay). At the verdict the dialer learns the answer (`Live` for connect,
//!   `Machine` otherwise), as an answer without analysis would have told it.
//! - The abandon clock (`patience`) starts at the verdict: Ofcom counts the 2 s from the end of
//!   the greeting, and the verdict is the moment outdial knows a person is there. The analysis
//!   delay itself is part of the person's wait, so the call record keeps it and the report
//!   shows it.
//! - A voicemail with a `message` policy hears the message after its beep (or after the wait
//!   for one), then the call ends.
//! - An announcement verdict can come before its name (the audio so far is words several known
//!   messages share). Its class decides at once what does not depend on the name: the customer
//!   is not bridged, and after the answer the dialer learns the answer was not live. Hanging up
//!   (or cancelling, in early media) waits for the name, up to [`NAME_WAIT`] or the media
//!   plane's end of listening: the retry rule is the name's (a powered-off phone is retried in
//!   hours, a vacant number never), nobody is on the line to wait, and an unanswered call's
//!   extra ringing costs only the trunk. Without a name the call gets the generic
//!   `announcement` disposition.
//!
//! Must not touch: audio (the media plane's classifiers decide), SIP beyond commands, the
//! store beyond the call record's `cpa` part. Without a campaign's [`CpaSetup`], or under flow
//! I, nothing here runs and calls behave as before.

use std::time::{Duration, Instant};

use crate::campaign::cpa::{disposition_of, CpaAction};
use crate::campaign::CallDisposition;
use crate::cpa::{CpaEvent, Decision, Phase, Verdict, VerdictClass};
use crate::media::io::{LegId, MediaCommand, Prompt};
use crate::pacing::call::{AnswerKind, CallEnd};
use crate::store::{CallProgress, CpaRecord};

use super::{noted, CallKey, Core, CpaSetup, LegOwner, SipCommand};

/// How long the engine waits for a verdict after the answer before deciding `unsure` itself:
/// past every documented analysis limit (app_amd's total is 5 s), so it only fires when the
/// media plane failed to report (a classifier that panicked, a stalled tap).
pub(crate) const VERDICT_WAIT: Duration = Duration::from_secs(10);

/// How long a voicemail's message waits for the beep (or the classifier's end of waiting for
/// one) before it is played anyway.
pub(crate) const BEEP_WAIT: Duration = Duration::from_secs(20);

/// How long an announcement verdict without a name waits for it before the call is hung up
/// anyway: past the classifier's own `announcement_name_wait` (default 4 s), so it only fires
/// when the media plane failed to say it stopped listening.
pub(crate) const NAME_WAIT: Duration = Duration::from_secs(10);

/// One call's analysis, as the engine follows it.
#[derive(Debug)]
pub(crate) struct CallCpa {
    /// The phase analysed now.
    pub phase: Phase,
    /// When that phase's analysis started (the answer, or the early media).
    pub since: Instant,
    /// Where the call is in its analysis.
    pub state: CpaState,
    /// The disposition the verdict gave a call it ended (hang-up, cancel, message).
    pub disposition: Option<CallDisposition>,
}

/// Where an analysed call is.
#[derive(Debug)]
pub(crate) enum CpaState {
    /// Listening: no verdict yet in this phase.
    Listening,
    /// A voicemail: its message plays after the beep (or the wait for one).
    AwaitBeep(Prompt),
    /// The message is playing; the call ends after it.
    Messaging,
    /// An announcement, to be hung up (or cancelled) once its name is known.
    AwaitName,
    /// Decided; nothing more to do here.
    Decided,
}

impl Core {
    /// The campaign of `key` analyses its calls, and the call has a customer leg.
    fn cpa_of(&self, key: CallKey) -> Option<(CpaSetup, LegId)> {
        let rec = self.calls.get(&key)?;
        let setup = self.camps[rec.camp].cpa.clone()?;
        let leg = rec.media.as_ref()?.customer;
        Some((setup, leg))
    }

    /// Early media arrived on an anchored call: analyse it for announcements and SIT.
    pub(crate) fn cpa_early_media(&mut self, key: CallKey) {
        let Some((setup, leg)) = self.cpa_of(key) else {
            return;
        };
        let now = self.now;
        let Some(m) = self.calls.get_mut(&key).and_then(|r| r.media.as_mut()) else {
            return;
        };
        if m.cpa.is_some() || m.answered_at.is_some() {
            return; // a second 183, or one after the answer: the analysis already runs
        }
        m.cpa = Some(CallCpa {
            phase: Phase::Early,
            since: now,
            state: CpaState::Listening,
            disposition: None,
        });
        self.emit_media(MediaCommand::Analyse {
            leg,
            phase: Phase::Early,
            settings: setup.settings,
            library: setup.library,
        });
    }

    /// A person-or-not answer on an anchored call: when its campaign analyses, the analysis
    /// starts and the call waits for the verdict (returns true: the dialer hears of the answer
    /// at the verdict, and meanwhile only that the call is in analysis).
    pub(crate) fn cpa_answered(&mut self, key: CallKey) -> bool {
        let Some((setup, leg)) = self.cpa_of(key) else {
            return false;
        };
        let now = self.now;
        let Some(m) = self.calls.get_mut(&key).and_then(|r| r.media.as_mut()) else {
            return false;
        };
        m.cpa = Some(CallCpa {
            phase: Phase::Answer,
            since: now,
            state: CpaState::Listening,
            disposition: None,
        });
        self.media.cpa_due.insert(key, now + VERDICT_WAIT);
        tracing::debug!(?key, ?leg, "cpa timing: answer, analysis starts");
        self.emit_media(MediaCommand::Analyse {
            leg,
            phase: Phase::Answer,
            settings: setup.settings,
            library: setup.library,
        });
        // The dialer plans with the call in analysis (a person with the learned chance, after
        // the learned delay) and stops its ring timer; the verdict reaches it later.
        let pnow = self.pnow();
        if let Some(rec) = self.calls.get(&key) {
            if rec.in_dialer {
                noted(
                    "call in analysis",
                    self.camps[rec.camp]
                        .dialer
                        .handle_call_analysing(pnow, rec.dcall),
                );
            }
        }
        true
    }

    /// The call is waiting for its answer's verdict (the dialer does not know of the answer).
    pub(crate) fn cpa_listening(&self, key: CallKey) -> bool {
        self.call_cpa(key)
            .is_some_and(|c| c.phase == Phase::Answer && matches!(c.state, CpaState::Listening))
    }

    /// The disposition a verdict gave the call, if one ended it.
    pub(crate) fn cpa_disposition(&self, key: CallKey) -> Option<CallDisposition> {
        self.call_cpa(key)?.disposition
    }

    /// The analysis part of a call's media, while the call has one.
    fn call_cpa(&self, key: CallKey) -> Option<&CallCpa> {
        self.calls.get(&key)?.media.as_ref()?.cpa.as_ref()
    }

    /// A call ended by the far end while its answer was being analysed: no verdict, no live
    /// answer the dialer knew of. The dialer learns the answer was not live; the record says
    /// `analysis_hangup` (a late verdict from the media plane may still fill its `cpa` part).
    pub(crate) fn cpa_hung_up_listening(&mut self, key: CallKey) -> CallDisposition {
        self.media.cpa_due.remove(&key);
        self.tell_dialer(key, AnswerKind::Machine);
        CallDisposition::AnalysisHangup
    }

    /// An event of the media plane's analysis.
    pub(crate) fn on_cpa_event(&mut self, leg: LegId, event: CpaEvent) {
        let Some(&LegOwner::Customer(key)) = self.media.legs.get(&leg) else {
            return;
        };
        match event {
            CpaEvent::Verdict(d) => self.on_verdict(key, leg, d),
            CpaEvent::Beep { at_ms } => {
                tracing::debug!(?key, at_ms, "voicemail beep");
                self.play_message(key);
            }
            CpaEvent::Named { name, at_ms } => {
                tracing::debug!(?key, %name, at_ms, "announcement named");
                self.announcement_named(key, Some((name, at_ms)));
            }
        }
    }

    /// The media plane's analysis of `leg` is over.
    pub(crate) fn on_analysis_done(&mut self, leg: LegId) {
        let Some(&LegOwner::Customer(key)) = self.media.legs.get(&leg) else {
            return;
        };
        // A voicemail that never beeped: its message plays now.
        self.play_message(key);
        // An announcement whose name never came: hung up without it.
        self.announcement_named(key, None);
    }

    fn on_verdict(&mut self, key: CallKey, leg: LegId, d: Decision) {
        /// What the verdict does, decided while the call's state is borrowed.
        enum Then {
            Cancel(CallDisposition),
            AwaitName,
            Connect,
            Hangup,
            AwaitBeep,
            HangupAfterAll,
        }
        let now = self.now;
        let Some(ci) = self.calls.get(&key).map(|r| r.camp) else {
            return;
        };
        let Some(policy) = self.camps[ci].cpa.as_ref().map(|s| s.policy.clone()) else {
            return;
        };
        let class = VerdictClass::from(&d.verdict);
        self.board_verdict(ci, d.verdict.name());
        let action = policy.action(class).clone();
        let Some(m) = self.calls.get_mut(&key).and_then(|r| r.media.as_mut()) else {
            return;
        };
        let Some(c) = m.cpa.as_mut() else {
            return;
        };
        let delay_ms = now.saturating_duration_since(c.since).as_millis() as i64;
        if m.closed {
            // A late verdict (the analysis stopped when the far end hung up): the record, still
            // waiting for the leg's figures, keeps what the audio so far said.
            if m.record.cpa.is_none() {
                m.record.cpa = Some(cpa_record(&d, delay_ms, "none"));
            }
            return;
        }
        if !matches!(c.state, CpaState::Listening) {
            return;
        }
        let campaign = &self.camps[ci].name;
        let then = match c.phase {
            Phase::Early => {
                // Only what ends a call before its answer is acted on: announcements and SIT
                // (ringback and coloured ringback tones give no verdict).
                let ends = matches!(class, VerdictClass::Announcement | VerdictClass::Sit);
                if !ends || action != CpaAction::Hangup {
                    return;
                }
                let disp = disposition_of(&d.verdict);
                if d.verdict == Verdict::Announcement(None) {
                    // Cancelled at the name (the call rings on meanwhile); a failure of the
                    // call before then is still an announcement.
                    c.state = CpaState::AwaitName;
                    c.disposition = Some(disp);
                    m.record.cpa = Some(cpa_record(&d, delay_ms, "cancel"));
                    tracing::info!(?key, detail = %d.detail, "early media: an announcement, awaiting its name");
                    return;
                }
                crate::admin::metrics::cpa_verdict(campaign, class.name());
                c.state = CpaState::Decided;
                c.disposition = Some(disp);
                m.record.cpa = Some(cpa_record(&d, delay_ms, "cancel"));
                tracing::info!(?key, verdict = %d.verdict, detail = %d.detail, "early media: cancelling");
                Then::Cancel(disp)
            }
            Phase::Answer => {
                let name = match &action {
                    CpaAction::Connect => "connect",
                    CpaAction::Hangup => "hangup",
                    CpaAction::Message(_) => "message",
                };
                m.record.cpa = Some(cpa_record(&d, delay_ms, name));
                crate::admin::metrics::cpa_verdict(campaign, class.name());
                tracing::debug!(?key, ?leg, verdict = %d.verdict, delay_ms, decided_ms = d.decided_ms, action = name, "cpa timing: verdict");
                match action {
                    CpaAction::Connect => {
                        c.state = CpaState::Decided;
                        Then::Connect
                    }
                    CpaAction::Hangup if d.verdict == Verdict::Announcement(None) => {
                        c.state = CpaState::AwaitName;
                        c.disposition = Some(disposition_of(&d.verdict));
                        Then::AwaitName
                    }
                    CpaAction::Hangup => {
                        c.state = CpaState::Decided;
                        c.disposition = Some(disposition_of(&d.verdict));
                        Then::Hangup
                    }
                    CpaAction::Message(msg) => {
                        c.disposition = Some(CallDisposition::Machine);
                        match msg.prompt() {
                            // The analysis goes on: it is listening for the beep.
                            Some(p) if class == VerdictClass::Machine => {
                                c.state = CpaState::AwaitBeep(p);
                                Then::AwaitBeep
                            }
                            _ => {
                                c.state = CpaState::Decided;
                                Then::HangupAfterAll
                            }
                        }
                    }
                }
            }
        };
        let sip = self.calls.get(&key).and_then(|r| r.sip);
        let hang_up = |core: &mut Core| {
            if let Some(call) = sip {
                core.emit_sip(SipCommand::Hangup { call });
            }
        };
        if !matches!(then, Then::Cancel(_)) {
            self.media.cpa_due.remove(&key);
            self.stats
                .cpa_delay(Duration::from_millis(delay_ms.max(0) as u64));
        }
        match then {
            Then::Cancel(disp) => {
                self.emit_media(MediaCommand::StopAnalysis { leg });
                let end = match disp {
                    CallDisposition::Busy => CallEnd::Busy,
                    _ => CallEnd::Invalid,
                };
                self.dialer_end_early(key, end);
                hang_up(self);
            }
            Then::Connect => {
                self.emit_media(MediaCommand::StopAnalysis { leg });
                self.cpa_connect(key);
            }
            Then::Hangup | Then::HangupAfterAll => {
                self.emit_media(MediaCommand::StopAnalysis { leg });
                self.tell_dialer(key, AnswerKind::Machine);
                hang_up(self);
            }
            Then::AwaitBeep => {
                self.media.cpa_due.insert(key, now + BEEP_WAIT);
                self.tell_dialer(key, AnswerKind::Machine);
            }
            Then::AwaitName => {
                self.media.cpa_due.insert(key, now + NAME_WAIT);
                self.tell_dialer(key, AnswerKind::Machine);
            }
        }
    }

    /// An announcement awaiting its name: named (`Some((name, at_ms))`) or not to be named
    /// (`None`: the classifier stopped listening, or [`NAME_WAIT`] passed). The call ends now
    /// with the name's disposition, or the generic one without.
    fn announcement_named(&mut self, key: CallKey, named: Option<(String, u32)>) {
        let Some(m) = self.calls.get_mut(&key).and_then(|r| r.media.as_mut()) else {
            return;
        };
        let leg = m.customer;
        let Some(c) = m.cpa.as_mut() else {
            return;
        };
        if !matches!(c.state, CpaState::AwaitName) {
            return;
        }
        c.state = CpaState::Decided;
        if let Some((name, at_ms)) = &named {
            c.disposition = Some(disposition_of(&Verdict::Announcement(Some(name.clone()))));
            if let Some(r) = m.record.cpa.as_mut() {
                r.detail = format!("{name}: {}; named at {at_ms} ms", r.detail);
            }
        }
        let (phase, disp) = (c.phase, c.disposition);
        let closed = m.closed;
        self.media.cpa_due.remove(&key);
        self.emit_media(MediaCommand::StopAnalysis { leg });
        if closed {
            return;
        }
        if phase == Phase::Early {
            let end = match disp {
                Some(CallDisposition::Busy) => CallEnd::Busy,
                _ => CallEnd::Invalid,
            };
            self.dialer_end_early(key, end);
        }
        if let Some(call) = self.calls.get(&key).and_then(|r| r.sip) {
            self.emit_sip(SipCommand::Hangup { call });
        }
    }

    /// A person (or "not sure", connected by policy): a live answer now. The dialer connects
    /// it in the same drain (a switch in the relay with nailed-up agents), or its patience
    /// starts.
    fn cpa_connect(&mut self, key: CallKey) {
        let Some(rec) = self.calls.get(&key) else {
            return;
        };
        if !rec.in_dialer {
            // The dialer gave the call up while it was analysed (its ring timeout ran out
            // mid-analysis): no agent can be offered, so the person is abandoned to the message.
            tracing::warn!(
                ?key,
                "a person answered after the dialer gave up on the call: abandoned"
            );
            if let Some(rec) = self.calls.get_mut(&key) {
                rec.abandoned = true;
            }
            self.abandon_customer(key);
            return;
        }
        self.tell_dialer(key, AnswerKind::Live);
    }

    /// Tells the dialer (still tracking the call) how its answer turned out, with the answer's
    /// milestone for the store's live-answer windows.
    fn tell_dialer(&mut self, key: CallKey, kind: AnswerKind) {
        let now = self.pnow();
        let Some(rec) = self.calls.get_mut(&key) else {
            return;
        };
        if let (Some(attempt), Some(call)) = (rec.attempt, rec.sip) {
            let mut p = CallProgress::new(attempt);
            p.answer_ms = rec.answer_ms;
            p.live = Some(kind == AnswerKind::Live);
            self.effects
                .push_back(super::Effect::Sip(SipCommand::CompleteProgress {
                    call,
                    progress: p,
                }));
        }
        if !rec.in_dialer {
            return;
        }
        let c = &mut self.camps[rec.camp];
        if kind == AnswerKind::Machine {
            rec.in_dialer = false;
        } else {
            crate::admin::metrics::live_answer(&c.name);
        }
        noted(
            "answer after analysis",
            c.dialer.handle_call_answered(now, rec.dcall, kind),
        );
    }

    /// Ends the dialer's part of a call cancelled in early media.
    fn dialer_end_early(&mut self, key: CallKey, end: CallEnd) {
        let now = self.pnow();
        if let Some(rec) = self.calls.get_mut(&key) {
            if rec.in_dialer {
                rec.in_dialer = false;
                rec.cancelled = true;
                noted(
                    "cancelled in early media",
                    self.camps[rec.camp]
                        .dialer
                        .handle_call_ended(now, rec.dcall, end),
                );
            }
        }
    }

    /// A voicemail waiting for its beep: the message plays now (hung up after it).
    fn play_message(&mut self, key: CallKey) {
        let Some(m) = self.calls.get_mut(&key).and_then(|r| r.media.as_mut()) else {
            return;
        };
        if m.closed {
            return;
        }
        let Some(c) = m.cpa.as_mut() else {
            return;
        };
        let CpaState::AwaitBeep(prompt) = std::mem::replace(&mut c.state, CpaState::Messaging)
        else {
            return;
        };
        let leg = m.customer;
        self.media.cpa_due.remove(&key);
        self.emit_media(MediaCommand::StopAnalysis { leg });
        self.emit_media(MediaCommand::Play { leg, prompt });
    }

    /// The message after the beep ended: the call ends. True when `leg`'s prompt was one.
    pub(crate) fn cpa_prompt_done(&mut self, key: CallKey) -> bool {
        let messaging = self
            .call_cpa(key)
            .is_some_and(|c| matches!(c.state, CpaState::Messaging));
        if messaging {
            if let Some(call) = self.calls.get(&key).and_then(|r| r.sip) {
                self.emit_sip(SipCommand::Hangup { call });
            }
        }
        messaging
    }

    /// Every housekeeping tick: calls whose verdict (or beep) is overdue are decided without
    /// it — `unsure` by the campaign's policy, or the message played.
    pub(crate) fn cpa_housekeeping(&mut self) {
        let now = self.now;
        let mut late: Vec<CallKey> = self
            .media
            .cpa_due
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(k, _)| *k)
            .collect();
        // In call order, so a run repeats exactly.
        late.sort_unstable();
        for key in late {
            self.media.cpa_due.remove(&key);
            let awaiting_name = self
                .call_cpa(key)
                .is_some_and(|c| matches!(c.state, CpaState::AwaitName));
            if awaiting_name {
                self.announcement_named(key, None);
            } else if self.cpa_listening(key) {
                let Some(leg) = self
                    .calls
                    .get(&key)
                    .and_then(|r| r.media.as_ref())
                    .map(|m| m.customer)
                else {
                    continue;
                };
                tracing::warn!(?key, "no verdict from the media plane in time: unsure");
                let d = Decision {
                    verdict: Verdict::Unsure,
                    decided_ms: VERDICT_WAIT.as_millis() as u32,
                    detail: format!(
                        "no verdict from the media plane within {} s",
                        VERDICT_WAIT.as_secs()
                    ),
                };
                self.on_verdict(key, leg, d);
            } else {
                self.play_message(key);
            }
        }
    }
}

fn cpa_record(d: &Decision, delay_ms: i64, action: &str) -> CpaRecord {
    CpaRecord {
        verdict: d.verdict.name().to_string(),
        detail: match &d.verdict {
            Verdict::Announcement(Some(name)) if !d.detail.contains(name.as_str()) => {
                format!("{name}: {}", d.detail)
            }
            _ => d.detail.clone(),
        },
        delay_ms,
        action: action.to_string(),
    }
}
