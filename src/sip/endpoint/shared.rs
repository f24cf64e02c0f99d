//! What every layer of the endpoint shares: configuration and trunks, ids, tags and branches,
//! the client transaction table, the timer heap, the outgoing queues (messages and events),
//! the counters, the non-INVITE response cache and who may send requests outside a dialog.
//! The services here send and schedule; they decide nothing about calls or dialogs.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::{EndpointConfig, Event, Stats, Transmit};
use crate::sip::message::Msg;
use crate::sip::timer::{Timer, Timers};
use crate::sip::transaction::{
    Branches, ClientTx, ServerCache, ServerKey, TransactionKey, TxOwner,
};
use crate::sip::trunk::{Transport, TrunkSet};

/// The endpoint's shared state and services, handed to each layer as `io`.
pub(in crate::sip) struct Shared {
    pub cfg: EndpointConfig,
    pub trunks: TrunkSet,
    /// Tags, Call-IDs (ChaCha20: not predictable from its outputs).
    rng: ChaCha20Rng,
    /// Keys branches: the branch of transaction `n` is keystream block of stream `n`.
    pub branches: Branches,
    /// Out-of-dialog sources allowed (trunks plus `accept_from`); `None`: anyone.
    accept_from: Option<HashSet<IpAddr>>,
    /// Salts ping Call-IDs.
    pub salt: u32,
    next_id: u64,
    pub txs: HashMap<TransactionKey, ClientTx>,
    /// Responses to non-INVITE requests we answered, for their retransmissions (timer J).
    pub server_cache: ServerCache,
    /// Per trunk: an OPTIONS ping is out.
    pub ping_in_flight: Vec<bool>,
    pub timers: Timers,
    transmits: VecDeque<Transmit>,
    pub events: VecDeque<Event>,
    pub stats: Stats,
}

impl Shared {
    /// Keys the generators from `cfg.secret` (else `cfg.seed`); trunks' IPs join `accept_from`.
    pub fn new(cfg: EndpointConfig, trunks: TrunkSet) -> Shared {
        let key = cfg
            .secret
            .unwrap_or_else(|| ChaCha20Rng::seed_from_u64(cfg.seed).gen());
        let mut rng = ChaCha20Rng::from_seed(key);
        let branches = Branches::new(ChaCha20Rng::from_seed(rng.gen()));
        let salt = rng.gen();
        let accept_from = cfg.accept_from.clone().map(|mut ips| {
            ips.extend(trunks.source_ips());
            ips
        });
        Shared {
            ping_in_flight: vec![false; trunks.len()],
            cfg,
            trunks,
            rng,
            branches,
            accept_from,
            salt,
            next_id: 1,
            txs: HashMap::new(),
            server_cache: ServerCache::default(),
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// Next message to send.
    pub fn pop_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// A fresh id (calls, legs, transactions, cache entries share one sequence).
    pub fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
    /// A fresh tag (also a digest cnonce).
    pub fn tag(&mut self) -> String {
        format!("{:x}", self.rng.gen::<u64>())
    }
    /// A fresh SIP Call-ID.
    pub fn new_call_id(&mut self) -> String {
        format!(
            "{:x}{:x}@{}",
            self.rng.gen::<u64>(),
            self.next_id,
            self.cfg.local_addr.ip()
        )
    }
    /// Our Via for transaction (branch number) `branch`.
    pub fn via(&self, transport: Transport, branch: u64) -> String {
        let t = match transport {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        };
        let branch = self.branches.branch(branch);
        format!("SIP/2.0/{t} {};branch={branch};rport", self.cfg.local_addr)
    }
    /// Our Contact.
    pub fn contact(&self, transport: Transport) -> String {
        match transport {
            Transport::Udp => format!("<sip:outdial@{}>", self.cfg.local_addr),
            Transport::Tcp => format!("<sip:outdial@{};transport=tcp>", self.cfg.local_addr),
        }
    }
    /// Queues a first copy.
    pub fn send(&mut self, dest: SocketAddr, transport: Transport, payload: Vec<u8>) {
        self.stats.sent += 1;
        self.transmits.push_back(Transmit {
            dest,
            transport,
            payload,
        });
    }
    /// Queues a retransmission.
    pub fn resend(&mut self, dest: SocketAddr, transport: Transport, payload: Vec<u8>) {
        self.stats.retransmissions += 1;
        self.transmits.push_back(Transmit {
            dest,
            transport,
            payload,
        });
    }
    /// 64·T1: transaction and ACK-wait lifetime.
    pub fn sixty_four_t1(&self) -> Duration {
        self.cfg.t1 * 64
    }

    /// Starts client transaction `key` for `bytes`, sends it and sets its timers.
    pub fn start_tx(
        &mut self,
        now: Instant,
        key: TransactionKey,
        owner: TxOwner,
        (dest, transport): (SocketAddr, Transport),
        bytes: Vec<u8>,
    ) {
        let tx = ClientTx::new(now, owner, dest, transport, bytes.clone(), self.cfg.t1);
        if let Some(at) = tx.retransmit_at() {
            self.timers.set(at, Timer::Retransmit(key));
        }
        self.timers.set(tx.end_at, Timer::TxEnd(key));
        self.send(dest, transport, bytes);
        self.txs.insert(key, tx);
    }

    /// Timer A/E of transaction `key` fired at `at`: retransmit if still due.
    pub fn on_retransmit(&mut self, now: Instant, at: Instant, key: TransactionKey) {
        let t2 = self.cfg.t2;
        let Some(tx) = self.txs.get_mut(&key) else {
            return;
        };
        let Some(next) = tx.on_retransmit_timer(key.method, now, at, t2) else {
            return;
        };
        let (d, t, b) = (tx.dest, tx.transport, tx.bytes.clone());
        self.timers.set(next, Timer::Retransmit(key));
        self.resend(d, t, b);
    }

    /// True when `from` may send requests outside a dialog ([`EndpointConfig::accept_from`]).
    pub fn may_send(&self, from: SocketAddr) -> bool {
        self.accept_from
            .as_ref()
            .is_none_or(|ips| ips.contains(&from.ip()))
    }

    /// Sends a response to a non-INVITE request and keeps it for retransmissions (timer J).
    pub fn reply_cached(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        msg: &Msg,
        bytes: Vec<u8>,
    ) {
        if transport == Transport::Udp {
            let id = self.id();
            self.server_cache
                .insert(id, ServerKey::of(msg), bytes.clone());
            self.timers
                .set(now + self.sixty_four_t1(), Timer::ServerCacheEnd(id));
        }
        self.send(from, transport, bytes);
    }
}
