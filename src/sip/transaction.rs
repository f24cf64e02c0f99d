//! The transaction layer (RFC 3261 §17 with RFC 6026): client transactions keyed by a typed
//! [`TransactionKey`] (our branch number plus the method), their retransmit and give-up schedule
//! (timers A/B for INVITE, E/F for the others, D/M once completed or accepted), the ACK of a
//! non-2xx final, the server side's INVITE state (timers G/H, 2xx retransmission) and the cache
//! of responses to non-INVITE requests (timer J), keyed by [`ServerKey`], plus the branch
//! generator. Plain data in, decisions out: it sends nothing and sets no timer itself (the
//! endpoint does, with what these methods return), and it knows no dialog, leg or call.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::Rng;
use rand_chacha::ChaCha20Rng;
use rsip::Method;

use super::message::{Builder, Msg};
use super::trunk::Transport;

/// A client transaction (RFC 3261 §17.1.3): the branch of our request, by its number (the whole
/// branch is derived from it, see [`Branches`]), and the method. A CANCEL shares the branch of
/// the INVITE it cancels but is a transaction of its own, so the method is part of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionKey {
    /// The number in our branch `z9hG4bK<number>.<keystream>`.
    pub branch: u64,
    /// The CSeq method of the request (and so of its responses).
    pub method: TxMethod,
}

/// The methods outdial starts client transactions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxMethod {
    /// INVITE (timers A, B, D, M).
    Invite,
    /// BYE (timers E, F, K).
    Bye,
    /// CANCEL of an INVITE (timers E, F, K).
    Cancel,
    /// OPTIONS ping of a trunk (timers E, F, K).
    Options,
}

impl TxMethod {
    /// The method of a response's CSeq, if we ever send a request of that method in a
    /// transaction (ACK has none: it is part of the INVITE's or stands alone).
    pub fn of(method: &Method) -> Option<TxMethod> {
        match method {
            Method::Invite => Some(TxMethod::Invite),
            Method::Bye => Some(TxMethod::Bye),
            Method::Cancel => Some(TxMethod::Cancel),
            Method::Options => Some(TxMethod::Options),
            _ => None,
        }
    }
}

/// A request we answer that is not an INVITE (RFC 3261 §17.2.3): the peer's branch and the
/// method, so a retransmission gets the same response again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerKey {
    branch: String,
    method: String,
}

impl ServerKey {
    /// The key of request `msg`.
    pub fn of(msg: &Msg) -> ServerKey {
        ServerKey {
            branch: msg.branch.clone(),
            method: msg.method().map(|m| m.to_string()).unwrap_or_default(),
        }
    }
}

/// Who a client transaction reports to when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxOwner {
    /// A leg of a call (INVITE, BYE, CANCEL), by leg id.
    Leg(u64),
    /// A trunk's health check (OPTIONS), by trunk index.
    Trunk(usize),
}

/// Where a client transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxState {
    /// Request sent, nothing back (A/E running).
    Trying,
    /// Provisional received.
    Proceeding,
    /// INVITE final non-2xx: ACK stored; absorbing retransmissions (timer D).
    Completed,
    /// INVITE 2xx (RFC 6026 Accepted): retransmitted 2xx are re-ACKed by the dialog (timer M).
    Accepted,
}

/// One client transaction.
#[derive(Debug)]
pub struct ClientTx {
    /// What it is for.
    pub owner: TxOwner,
    /// Where it is.
    pub state: TxState,
    /// Where (re)transmissions and ACKs go.
    pub dest: SocketAddr,
    /// Where the request went (or the connection it went on): its responses must come from
    /// that IP address. Unlike `dest`, a 2xx ACK does not move it.
    pub sent_to: SocketAddr,
    /// Over what.
    pub transport: Transport,
    /// The request (for retransmission), then the ACK (for re-ACKing retransmitted finals).
    pub bytes: Vec<u8>,
    retx_at: Option<Instant>,
    interval: Duration,
    /// When it gives up (B, F) or, once completed, is forgotten (D, M, K).
    pub end_at: Instant,
    /// An INVITE a CANCEL was sent for (at most one CANCEL per INVITE).
    pub cancelled: bool,
    /// A provisional arrived (a CANCEL may be sent; a timeout is then not a dead trunk).
    pub got_provisional: bool,
}

/// What an INVITE transaction makes of a 2xx.
#[derive(Debug, PartialEq, Eq)]
pub enum On2xx {
    /// The first: now Accepted until `end_at` (timer M); the dialog takes it.
    Accepted {
        /// Timer M.
        end_at: Instant,
    },
    /// A retransmission: send the stored ACK again (empty while flow I holds the ACK).
    Reack(Vec<u8>),
    /// Nothing to do.
    Ignore,
}

/// What an INVITE transaction makes of a final non-2xx.
#[derive(Debug, PartialEq, Eq)]
pub enum OnFailure {
    /// The first: send `ack`, completed until `end_at` (timer D); the call layer takes it.
    Completed {
        /// The ACK (same branch as the INVITE).
        ack: Vec<u8>,
        /// Timer D.
        end_at: Instant,
    },
    /// A retransmission: send the ACK again.
    Reack(Vec<u8>),
    /// Nothing to do.
    Ignore,
}

impl ClientTx {
    /// A transaction for `bytes`, sent now: retransmitted from T1 on over UDP (not over TCP),
    /// given up after 64·T1.
    pub fn new(
        now: Instant,
        owner: TxOwner,
        dest: SocketAddr,
        transport: Transport,
        bytes: Vec<u8>,
        t1: Duration,
    ) -> ClientTx {
        let reliable = transport == Transport::Tcp;
        ClientTx {
            owner,
            state: TxState::Trying,
            dest,
            sent_to: dest,
            transport,
            bytes,
            retx_at: (!reliable).then_some(now + t1),
            interval: t1,
            end_at: now + t1 * 64,
            cancelled: false,
            got_provisional: false,
        }
    }

    /// The first retransmission, if any (timer A or E).
    pub fn retransmit_at(&self) -> Option<Instant> {
        self.retx_at
    }

    /// Timer A/E fired at `at`: the next retransmission time when the request is to be sent
    /// again now (INVITE: doubling while Trying; others: doubling up to T2, then every T2 once
    /// a provisional came), `None` when the timer is stale or retransmission is over.
    pub fn on_retransmit_timer(
        &mut self,
        method: TxMethod,
        now: Instant,
        at: Instant,
        t2: Duration,
    ) -> Option<Instant> {
        if self.retx_at != Some(at) {
            return None;
        }
        let next = match (method, self.state) {
            (TxMethod::Invite, TxState::Trying) => self.interval * 2,
            (TxMethod::Invite, _) => return None,
            (_, TxState::Trying) => (self.interval * 2).min(t2),
            (_, TxState::Proceeding) => t2,
            _ => return None,
        };
        self.interval = next;
        self.retx_at = Some(now + next);
        self.retx_at
    }

    /// A provisional response to an INVITE: retransmissions stop (timer A).
    pub fn on_invite_provisional(&mut self) {
        if self.state == TxState::Trying {
            self.state = TxState::Proceeding;
            self.retx_at = None;
        }
        self.got_provisional = true;
    }

    /// A 2xx to an INVITE (RFC 6026 §8.4: Accepted absorbs retransmitted 2xx for 64·T1).
    pub fn on_invite_2xx(&mut self, now: Instant, t1: Duration) -> On2xx {
        match self.state {
            TxState::Trying | TxState::Proceeding => {
                self.state = TxState::Accepted;
                self.retx_at = None;
                self.bytes.clear();
                self.end_at = now + t1 * 64;
                On2xx::Accepted {
                    end_at: self.end_at,
                }
            }
            // Retransmitted 2xx: re-ACK (RFC 6026) unless flow I still holds the ACK.
            TxState::Accepted if !self.bytes.is_empty() => On2xx::Reack(self.bytes.clone()),
            TxState::Accepted | TxState::Completed => On2xx::Ignore,
        }
    }

    /// A final non-2xx to an INVITE: the transaction ACKs it (RFC 3261 §17.1.1.3) and keeps the
    /// ACK for the response's retransmissions until timer D (zero over TCP).
    pub fn on_invite_failure(&mut self, now: Instant, t1: Duration, resp: &Msg) -> OnFailure {
        match self.state {
            TxState::Trying | TxState::Proceeding => {
                let ack = build_non2xx_ack(&String::from_utf8_lossy(&self.bytes), resp);
                self.state = TxState::Completed;
                self.retx_at = None;
                self.bytes = ack.clone();
                self.end_at = now
                    + if self.transport == Transport::Udp {
                        t1 * 64
                    } else {
                        Duration::ZERO
                    };
                OnFailure::Completed {
                    ack,
                    end_at: self.end_at,
                }
            }
            TxState::Completed => OnFailure::Reack(self.bytes.clone()),
            TxState::Accepted => OnFailure::Ignore,
        }
    }

    /// A non-INVITE response: a provisional keeps the transaction (retransmitting every T2), a
    /// final ends it (true).
    pub fn on_non_invite_response(&mut self, code: u16) -> bool {
        if code < 200 {
            self.state = TxState::Proceeding;
            return false;
        }
        true
    }

    /// True when the end timer that fired at `at` is this transaction's current one.
    pub fn ends_at(&self, at: Instant) -> bool {
        self.end_at == at
    }
}

/// The server side of an INVITE we received (RFC 3261 §17.2.1 with RFC 6026): the request,
/// the last response sent, its retransmit schedule and when to give up waiting for the ACK.
#[derive(Debug)]
pub struct ServerInviteTx {
    /// The INVITE.
    pub request: Box<Msg>,
    /// The last response sent (100, 180, or the final).
    pub last: Option<Vec<u8>>,
    /// Next retransmission of the final response and the current interval (timer G).
    pub retx: Option<(Instant, Duration)>,
    /// When waiting for the ACK stops (timer H, 64·T1).
    pub giveup: Option<Instant>,
}

impl ServerInviteTx {
    /// An INVITE answered with `trying` (100).
    pub fn new(request: Msg, trying: Vec<u8>) -> ServerInviteTx {
        ServerInviteTx {
            request: Box::new(request),
            last: Some(trying),
            retx: None,
            giveup: None,
        }
    }

    /// Timer G fired at `at`: the next retransmission time (doubling up to T2) when the final
    /// response is to be sent again now, `None` when the timer is stale.
    pub fn on_retransmit_timer(
        &mut self,
        now: Instant,
        at: Instant,
        t2: Duration,
    ) -> Option<Instant> {
        let (due, iv) = self.retx?;
        if due != at {
            return None;
        }
        let next = (iv * 2).min(t2);
        self.retx = Some((now + next, next));
        Some(now + next)
    }

    /// The ACK arrived (or the exchange is over): no more retransmissions nor give-up.
    pub fn stop(&mut self) {
        self.retx = None;
        self.giveup = None;
    }
}

/// Responses to non-INVITE requests we answered, kept 64·T1 for their retransmissions (timer J).
#[derive(Debug, Default)]
pub struct ServerCache {
    responses: HashMap<ServerKey, (u64, Vec<u8>)>,
    /// Keys in insertion order, with the id of their entry (ids grow).
    order: VecDeque<(u64, ServerKey)>,
}

impl ServerCache {
    /// The response sent to the request `key`, if still kept.
    pub fn get(&self, key: &ServerKey) -> Option<&Vec<u8>> {
        self.responses.get(key).map(|(_, r)| r)
    }
    /// Keeps `response` under `key` as entry `id` (ids must grow).
    pub fn insert(&mut self, id: u64, key: ServerKey, response: Vec<u8>) {
        self.responses.insert(key.clone(), (id, response));
        self.order.push_back((id, key));
    }
    /// Forgets every entry up to `id` (its timer J fired) that was not replaced since.
    pub fn expire(&mut self, id: u64) {
        while self.order.front().is_some_and(|(cid, _)| *cid <= id) {
            if let Some((cid, k)) = self.order.pop_front() {
                if self.responses.get(&k).map(|(i, _)| *i) == Some(cid) {
                    self.responses.remove(&k);
                }
            }
        }
    }
}

/// Branches `z9hG4bK<id>.<128 bits of ChaCha20 keystream for that id>`: the id finds the
/// transaction, the keystream (which no one without the key can compute) proves the response
/// echoes a branch of this process.
#[derive(Debug)]
pub struct Branches {
    key: ChaCha20Rng,
}

impl Branches {
    /// A generator keyed by `key` (itself seeded from the endpoint's secret).
    pub fn new(key: ChaCha20Rng) -> Branches {
        Branches { key }
    }
    /// The branch of transaction number `id`.
    pub fn branch(&self, id: u64) -> String {
        let mut r = self.key.clone();
        r.set_stream(id);
        r.set_word_pos(0);
        format!("z9hG4bK{id:x}.{:032x}", r.gen::<u128>())
    }
    /// The number of `branch` when all of it is one we made, else `None`.
    pub fn id_of(&self, branch: &str) -> Option<u64> {
        let rest = branch.strip_prefix("z9hG4bK")?;
        let (id, _) = rest.split_once('.')?;
        let id = u64::from_str_radix(id, 16).ok()?;
        (self.branch(id) == branch).then_some(id)
    }
}

/// The ACK for a non-2xx final response: same Request-URI, Via (top), From, Call-ID and CSeq
/// number as the INVITE, To from the response (RFC 3261 §17.1.1.3).
fn build_non2xx_ack(invite: &str, resp: &Msg) -> Vec<u8> {
    let mut lines = invite.split("\r\n");
    let uri = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("sip:invalid")
        .to_string();
    let mut b = Builder::request(Method::Ack, &uri);
    for l in lines {
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap_or((l, ""));
        let v = v.trim();
        match k {
            "Via" | "From" | "Call-ID" | "Max-Forwards" | "Route" => b = b.header(k, v),
            "CSeq" => {
                let n = v.split(' ').next().unwrap_or("1");
                b = b.header("CSeq", format_args!("{n} ACK"));
            }
            _ => {}
        }
    }
    b.header("To", &resp.to).finish(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const T1: Duration = Duration::from_millis(500);
    const T2: Duration = Duration::from_secs(4);

    fn addr() -> SocketAddr {
        "192.0.2.1:5060".parse().expect("literal address")
    }

    /// Runs the retransmit timer until it stops; offsets from `t0` of each retransmission.
    fn schedule(tx: &mut ClientTx, method: TxMethod, t0: Instant) -> Vec<Duration> {
        let mut out = Vec::new();
        let mut at = tx.retransmit_at();
        while let Some(due) = at.filter(|d| *d < tx.end_at) {
            out.push(due - t0);
            at = tx.on_retransmit_timer(method, due, due, T2);
        }
        out
    }

    #[test]
    fn invite_retransmits_on_timer_a_doubling_until_timer_b() {
        let t0 = Instant::now();
        let owner = TxOwner::Leg(1);
        let mut tx = ClientTx::new(t0, owner, addr(), Transport::Udp, b"INVITE".to_vec(), T1);
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        // A: 0.5 s, then doubling without cap; B: gives up at 64·T1 = 32 s.
        assert_eq!(
            schedule(&mut tx, TxMethod::Invite, t0),
            ms(&[500, 1500, 3500, 7500, 15500, 31500])
        );
        assert_eq!(tx.end_at - t0, Duration::from_secs(32));
        assert!(tx.ends_at(t0 + Duration::from_secs(32)));
    }

    #[test]
    fn non_invite_retransmits_are_capped_at_t2_and_tcp_never_retransmits() {
        let t0 = Instant::now();
        let owner = TxOwner::Leg(1);
        let mut bye = ClientTx::new(t0, owner, addr(), Transport::Udp, b"BYE".to_vec(), T1);
        let times = schedule(&mut bye, TxMethod::Bye, t0);
        let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps[..3], [T1 * 2, T1 * 4, T2]);
        assert!(gaps.iter().all(|g| *g <= T2), "{gaps:?}");
        let tcp = ClientTx::new(t0, owner, addr(), Transport::Tcp, b"BYE".to_vec(), T1);
        assert_eq!(tcp.retransmit_at(), None);
    }

    #[test]
    fn a_provisional_stops_invite_retransmissions_and_a_stale_timer_does_nothing() {
        let t0 = Instant::now();
        let owner = TxOwner::Leg(1);
        let mut tx = ClientTx::new(t0, owner, addr(), Transport::Udp, b"INVITE".to_vec(), T1);
        let first = tx.retransmit_at().expect("UDP retransmits");
        tx.on_invite_provisional();
        assert_eq!(
            tx.on_retransmit_timer(TxMethod::Invite, first, first, T2),
            None
        );
        assert!(tx.got_provisional);
    }

    #[test]
    fn only_our_whole_branch_is_recognised() {
        let b = Branches::new(ChaCha20Rng::seed_from_u64(7));
        let branch = b.branch(42);
        assert_eq!(b.id_of(&branch), Some(42));
        // The right number with another keystream (a guess, or an earlier run) is refused.
        let other = Branches::new(ChaCha20Rng::seed_from_u64(8)).branch(42);
        assert_eq!(b.id_of(&other), None);
        assert_eq!(b.id_of("z9hG4bK2a.0"), None);
    }

    #[test]
    fn the_server_cache_forgets_only_expired_entries() {
        let key = |method: &str, branch: &str| {
            let text = format!(
                "{method} sip:a@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch={branch}\r\n\
                 From: <sip:b@192.0.2.1>;tag=1\r\nTo: <sip:a@192.0.2.1>\r\nCall-ID: c\r\n\
                 CSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
            );
            ServerKey::of(&crate::sip::message::parse(text.as_bytes()).expect("valid request"))
        };
        let mut c = ServerCache::default();
        let (a, b) = (key("OPTIONS", "z9hG4bKa"), key("OPTIONS", "z9hG4bKb"));
        c.insert(1, a.clone(), b"200 a".to_vec());
        c.insert(2, b.clone(), b"200 b".to_vec());
        c.expire(1);
        assert_eq!(c.get(&a), None);
        assert_eq!(c.get(&b).map(Vec::as_slice), Some(&b"200 b"[..]));
        // Same branch, another method: another transaction.
        assert_eq!(c.get(&key("BYE", "z9hG4bKb")), None);
    }
}
