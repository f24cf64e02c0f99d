//! Crash recovery of dialogs: a snapshot of an answered leg's dialog (RFC 3261 §12: Call-ID,
//! tags, remote target, route set, local CSeq, where it was sent) that the application stores
//! while the call is up, the restore that ends such a leg with BYE from another process (the
//! restarted node, or the node that recovers a dead one), and the rule for a 2xx to an INVITE
//! this endpoint has no transaction for (RFC 6026 §7.1 leaves it to the core): ACK it, and BYE
//! it at once unless the dialog is one we know. Restored legs are ordinary legs: their BYE and
//! ACK are built by their [`Dialog`], so its routing applies.

use std::net::SocketAddr;
use std::time::Instant;

use rsip::Method;
use serde::{Deserialize, Serialize};

use super::{Calls, Leg, LegState, Role};
use crate::sip::dialog::Dialog;
use crate::sip::endpoint::{CallId, Event, Shared};
use crate::sip::message::uri_of;
use crate::sip::message::Msg;
use crate::sip::session::{decline_answer, Session};
use crate::sip::trunk::Transport;

/// Which leg of a call a [`DialogSnapshot`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegSide {
    /// The customer (trunk) leg.
    Customer,
    /// The agent (or announcement) leg.
    Agent,
}

/// What it takes to send an in-dialog request on an answered UAC leg from another process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogSnapshot {
    /// Customer or agent leg.
    pub side: LegSide,
    /// SIP Call-ID.
    pub call_id: String,
    /// Our party (From of our requests) with our tag.
    pub local: String,
    /// Their party (To of our requests) with their tag.
    pub remote: String,
    /// Remote target (the Contact of their 2xx): the Request-URI of in-dialog requests.
    pub remote_target: String,
    /// Route set (their Record-Route, reversed), in the order of the Route headers.
    pub route_set: Vec<String>,
    /// The last CSeq number we used on the dialog (the INVITE's, unless more followed).
    pub local_cseq: u32,
    /// Where the leg's requests were sent.
    pub dest: SocketAddr,
    /// Over what.
    pub transport: Transport,
}

impl DialogSnapshot {
    /// The snapshot as stored (JSON).
    pub fn to_json(&self) -> String {
        // Plain strings, numbers and an address: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A stored snapshot; `None` when it is not one (a clear log line names the problem).
    pub fn from_json(text: &str) -> Option<DialogSnapshot> {
        match serde_json::from_str(text) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, "stored dialog snapshot unreadable: leg not ended");
                None
            }
        }
    }
}

impl Calls {
    /// [`Endpoint::dialog_snapshots`](crate::sip::Endpoint::dialog_snapshots).
    pub(in crate::sip) fn dialog_snapshots(&self, call: CallId) -> Vec<DialogSnapshot> {
        let Some(c) = self.calls.get(&call) else {
            return Vec::new();
        };
        [Some(c.customer), c.agent]
            .into_iter()
            .flatten()
            .filter_map(|id| self.legs.get(&id))
            .filter(|l| {
                l.dialog.remote_tag.is_some()
                    && matches!(l.state, LegState::AwaitingAck | LegState::Confirmed)
            })
            .filter_map(|l| {
                let side = match l.role {
                    Role::Customer => LegSide::Customer,
                    Role::Agent => LegSide::Agent,
                    Role::Inbound => return None,
                };
                let d = &l.dialog;
                Some(DialogSnapshot {
                    side,
                    call_id: d.call_id.clone(),
                    local: d.local.clone(),
                    remote: d.remote.clone(),
                    remote_target: d.target.clone(),
                    route_set: d.route_set.clone(),
                    local_cseq: d.local_cseq,
                    dest: d.dest,
                    transport: d.transport,
                })
            })
            .collect()
    }

    /// [`Endpoint::restore_and_end`](crate::sip::Endpoint::restore_and_end).
    pub(in crate::sip) fn restore_and_end(
        &mut self,
        io: &mut Shared,
        now: Instant,
        snap: &DialogSnapshot,
    ) -> Option<CallId> {
        if self.by_call_id.contains_key(&snap.call_id) {
            return None;
        }
        let call = CallId(io.id());
        let leg_id = self.restore_leg(io, call, snap);
        self.send_bye(io, now, leg_id, &[]);
        Some(call)
    }

    /// Inserts a confirmed UAC leg rebuilt from `snap`, reported by [`Event::Released`] when it
    /// is forgotten.
    fn restore_leg(&mut self, io: &mut Shared, call: CallId, snap: &DialogSnapshot) -> u64 {
        let leg_id = io.id();
        let remote_tag = snap
            .remote
            .split(';')
            .skip(1)
            .find_map(|p| p.trim().strip_prefix("tag="))
            .map(str::to_string);
        let role = match snap.side {
            LegSide::Customer => Role::Customer,
            LegSide::Agent => Role::Agent,
        };
        let dialog = Dialog {
            call_id: snap.call_id.clone(),
            local: snap.local.clone(),
            remote: snap.remote.clone(),
            remote_tag,
            target: snap.remote_target.clone(),
            route_set: snap.route_set.clone(),
            dest: snap.dest,
            transport: snap.transport,
            local_cseq: snap.local_cseq,
            remote_cseq: 0,
        };
        let leg = Leg::new(call, role, LegState::Confirmed, dialog, Session::default());
        self.legs.insert(leg_id, leg);
        self.by_call_id.insert(snap.call_id.clone(), leg_id);
        self.restored.insert(leg_id, call);
        leg_id
    }

    /// A restored leg is forgotten (BYE answered, timed out, or BYE from the far end).
    pub(in crate::sip) fn restored_leg_gone(&mut self, io: &mut Shared, leg_id: u64) {
        if let Some(call) = self.restored.remove(&leg_id) {
            io.events.push_back(Event::Released { call });
        }
    }

    /// A 2xx to an INVITE with no client transaction here (sent before a restart, or after its
    /// transaction ended). A dialog we know (a leg being ended, or a confirmed one) gets its ACK
    /// again; an unknown one is ACKed and ended with BYE at once, so the callee is neither left
    /// retransmitting its 200 nor talking to nobody (RFC 6026 §7.1, RFC 3261 §13.2.2.4).
    pub(in crate::sip) fn on_stray_2xx(
        &mut self,
        io: &mut Shared,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        msg: &Msg,
    ) {
        if msg.to_tag.is_none() {
            return; // no dialog can be formed from it
        }
        if !io.may_send(from) {
            // Only a trunk or an agent can have answered an INVITE of ours: a 2xx from anyone
            // else is a forgery, and answering it would send our ACK and BYE where it points.
            io.stats.wrong_source += 1;
            return;
        }
        if let Some(&leg_id) = self.by_call_id.get(&msg.call_id) {
            let role = self.legs.get(&leg_id).and_then(|l| {
                let up = matches!(l.state, LegState::Confirmed | LegState::Closing);
                (up && l.role != Role::Inbound).then_some(l.role)
            });
            if let Some(role) = role {
                let answer = answer_in_ack(role, msg);
                self.ack_cseq(io, leg_id, msg.cseq, answer.as_deref());
            }
            return;
        }
        // A trunk answers our offerless INVITE (flow I: its 2xx carries the offer); anything else
        // is an agent leg, whose INVITE carried the offer.
        let role = if io.trunks.all().iter().any(|t| t.addr == from) {
            Role::Customer
        } else {
            Role::Agent
        };
        tracing::info!(call_id = %msg.call_id, %from, "2xx for an unknown dialog: ACK and BYE");
        let snap = DialogSnapshot {
            side: if role == Role::Customer {
                LegSide::Customer
            } else {
                LegSide::Agent
            },
            call_id: msg.call_id.clone(),
            local: msg.from.clone(),
            remote: msg.to.clone(),
            remote_target: msg
                .contact
                .clone()
                .unwrap_or_else(|| uri_of(&msg.to).to_string()),
            route_set: msg.record_route.iter().rev().cloned().collect(),
            local_cseq: msg.cseq,
            dest: from,
            transport,
        };
        let call = CallId(io.id());
        let leg_id = self.restore_leg(io, call, &snap);
        let answer = answer_in_ack(role, msg);
        self.ack_cseq(io, leg_id, msg.cseq, answer.as_deref());
        self.send_bye(io, now, leg_id, &[]);
    }

    /// Sends an ACK on UAC leg `leg_id` for the 2xx of the INVITE numbered `cseq`, with `sdp`.
    fn ack_cseq(&mut self, io: &mut Shared, leg_id: u64, cseq: u32, sdp: Option<&str>) {
        let Some(saved) = self.legs.get_mut(&leg_id).map(|l| {
            let saved = l.dialog.local_cseq;
            l.dialog.local_cseq = cseq;
            saved
        }) else {
            return;
        };
        let branch = io.id();
        let built = self.in_dialog_request(io, leg_id, Method::Ack, branch, &[], sdp);
        if let Some(l) = self.legs.get_mut(&leg_id) {
            l.dialog.local_cseq = saved;
        }
        if let Some((bytes, dest, transport)) = built {
            io.send(dest, transport, bytes);
        }
    }
}

/// The body of the ACK for a stray 2xx on a leg of `role`: a customer leg's INVITE had no offer
/// (flow I), so its 2xx carries one and the ACK must answer it (every stream declined, as for any
/// flow I leg nobody is connected to); an agent leg's INVITE carried the offer: no body.
fn answer_in_ack(role: Role, msg: &Msg) -> Option<String> {
    match role {
        Role::Customer => decline_answer(msg.body_str().as_deref()),
        Role::Agent | Role::Inbound => None,
    }
}
