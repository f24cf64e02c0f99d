//! A direct call to an agent's phone with outdial's SDP offer: the nailed-up connection held
//! all shift, or an anchored per-call join. It is a call of its own (its own [`CallId`]) whose
//! one leg is an early-offer UAC leg towards the phone, reported like a customer call (Ringing,
//! Answered, Failed, Ended) but using no trunk: no group, no channel, no failover, no digest
//! retry. It does not relay SDP between legs (media are joined in the media plane).

use std::time::Instant;

use super::{agent_presentation, Call, Calls, Leg, LegState, Role};
use crate::sip::dialog::Dialog;
use crate::sip::endpoint::{AgentCall, CallId, Shared};
use crate::sip::session::Session;
use crate::sip::timer::Timer;
use crate::sip::values::CallerId;

impl Calls {
    /// [`Endpoint::call_agent`](crate::sip::Endpoint::call_agent).
    pub(in crate::sip) fn call_agent(
        &mut self,
        io: &mut Shared,
        now: Instant,
        req: AgentCall,
    ) -> CallId {
        let call = CallId(io.id());
        let shown = &req.shown;
        let ip = io.cfg.local_addr.ip();
        // Shown on the phone: the customer's number when the engine passes it (per-call join),
        // else outdial (a nailed-up connection is not any one customer's call).
        let from_user = shown
            .from_user
            .clone()
            .or_else(|| CallerId::new("outdial").ok());
        let (local, extra) = agent_presentation(shown, from_user.as_ref(), ip);
        let local_tag = io.tag();
        let call_id = io.new_call_id();
        let leg_id = io.id();
        let dialog = Dialog::to_phone(call_id.clone(), &local, &local_tag, &req.uri);
        // The Customer role gives the call rules of an early-offer outbound call (ACK at once,
        // ring timeout, CANCEL, BYE); `agent_call` makes its BYE count as the agent's.
        let session = Session::anchored_offer(req.offer);
        let mut leg = Leg::new(call, Role::Customer, LegState::Calling, dialog, session);
        leg.extra = extra;
        leg.agent = Some(req.uri);
        leg.ring_at = Some(now + req.ring_timeout);
        self.legs.insert(leg_id, leg);
        self.by_call_id.insert(call_id, leg_id);
        let mut c = Call::new(leg_id, None, None);
        c.agent_call = true;
        self.calls.insert(call, c);
        io.timers.set(now + req.ring_timeout, Timer::Ring(leg_id));
        self.send_invite(io, now, leg_id, None);
        call
    }
}
