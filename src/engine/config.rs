//! The engine config file (`outdial run --config FILE`): store, node name, SIP listen address,
//! trunks and trunk groups, agents, campaigns, admin API and tokens. Parsed with file/line/field
//! errors (unknown keys are errors) and checked before anything starts. Owns no runtime state.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::admin::ApiToken;
use crate::agents::Skills;
use crate::limits::ConnLimits;
use crate::pacing::dist::Dist;
use crate::sip::trunk::TrunksConfig;
use crate::sip::values::SipUri;
use crate::yaml::{check_count, check_dur, Dur, YamlError};

/// The whole config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// Store URL (`sqlite://FILE` or `postgres://…`). When absent, `--db` / `OUTDIAL_DB` is used.
    #[serde(default)]
    pub store: Option<String>,
    /// This engine's name in leases, attempts and agent claims. Must be unique among the engines
    /// sharing a store, and the same across restarts of one engine (crash recovery closes what
    /// this name left open). Default: `node-1`.
    #[serde(default = "default_node")]
    pub node: String,
    /// SIP signalling.
    pub sip: SipSection,
    /// Supervisor API.
    #[serde(default)]
    pub admin: AdminSection,
    /// Agents (SIP endpoints), one entry per agent or per numbered range.
    pub agents: Vec<AgentEntry>,
    /// Campaigns to run (applied to the store beforehand with `outdial campaign apply`).
    pub campaigns: Vec<CampaignEntry>,
    /// Wrap-up time of agents whose wrap-up is automatic (`wrap_up: auto`); every parameter at
    /// most 1h.
    #[serde(default = "default_wrap")]
    pub auto_wrap_time: Dist,
    /// Lease settings.
    #[serde(default)]
    pub lease: LeaseSection,
    /// On SIGTERM/SIGINT: how long connected calls may go on before they are hung up (at most
    /// [`MAX_SHUTDOWN_GRACE`]).
    #[serde(default = "default_grace")]
    pub shutdown_grace: Dur,
    /// Liveness lease of this node in the store: not renewed for this long, the node is dead and
    /// another node recovers its calls and leases (`store::nodes`). 3s to 10m.
    #[serde(default = "default_node_ttl")]
    pub node_ttl: Dur,
    /// Writes owed to the store while it is unreachable (`engine::writes`).
    #[serde(default)]
    pub writes: WritesSection,
    /// Test and demo only: the synthetic peers divide durations by this factor; the engine runs
    /// the pacing core's clock this much faster so the same scenario means the same thing.
    /// 1 to 1000.
    #[serde(default = "one")]
    pub time_scale: f64,
    /// Stop by itself after this long (demo, tests; at most [`MAX_RUN_FOR`]). Default: run until
    /// signalled.
    #[serde(default)]
    pub run_for: Option<Dur>,
    /// The media plane: where outdial's RTP ports are (for trunks whose `media` is `anchor`).
    #[serde(default)]
    pub media: MediaSection,
}

/// `media:` section: outdial's RTP address and ports.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSection {
    /// Address written in outdial's SDP and bound by the media shell (default 127.0.0.1).
    #[serde(default = "default_media_addr")]
    pub address: IpAddr,
    /// RTP port range, `LOW-HIGH` (RTP on the even ports, RTCP on the odd ones; default
    /// 20000-29999).
    #[serde(default = "default_ports")]
    pub ports: crate::media::ports::PortRange,
    /// No RTP from a far end for this long ends its leg (an agent's nailed-up connection is
    /// then logged out). 2s to 10m, default 30s.
    #[serde(default = "default_rtp_timeout")]
    pub rtp_timeout: Dur,
    /// Play a short tone to a nailed-up agent when a customer is bridged in (default true).
    #[serde(default = "yes")]
    pub connect_tone: bool,
    /// Run the media worker threads under `SCHED_FIFO` at this priority (1 to 99; default
    /// off), as rtpengine's `--scheduling=fifo --priority=N`: a packet's worker then preempts
    /// normal threads instead of queueing for a core (relay latency p99 under CPU contention).
    /// Only the workers, not the recording or analysis threads. Risk: a busy real-time thread
    /// leaves others only what RT throttling keeps (`sched_rt_runtime_us`: 5 % of each CPU by
    /// default). Needs `CAP_SYS_NICE` or `RLIMIT_RTPRIO`; refused, a warning is logged and the
    /// workers run normally. See [`crate::media::shell::ShellConfig::realtime_priority`].
    #[serde(default)]
    pub realtime_priority: Option<crate::media::shell::RealtimePriority>,
}

impl Default for MediaSection {
    fn default() -> Self {
        MediaSection {
            address: default_media_addr(),
            ports: default_ports(),
            rtp_timeout: default_rtp_timeout(),
            connect_tone: true,
            realtime_priority: None,
        }
    }
}

fn default_media_addr() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}
fn default_ports() -> crate::media::ports::PortRange {
    crate::media::ports::PortRange {
        low: 20_000,
        high: 29_999,
    }
}
fn default_rtp_timeout() -> Dur {
    Dur(Duration::from_secs(30))
}
fn yes() -> bool {
    true
}

/// How an agent's phone is connected (`connect:` per agent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectMode {
    /// Called once at login and kept up until logout; customers are bridged in and out of the
    /// connection inside outdial. The default when the agent's campaigns are anchored.
    Nailed,
    /// One INVITE per customer (phones that cannot hold a call all shift); the only mode for
    /// agents of campaigns whose trunks are `flow-i`.
    PerCall,
    /// A nailed-up connection the agent's phone sets up itself: it calls outdial at
    /// `sip:<agent id>@<sip.listen>` and authenticates with digest (`sip.realm`, the agent id as
    /// user name, the password from `password_env`, `password_file` or `password`). For
    /// softphones behind NAT and phones that cannot auto-answer. Never called back: a lost
    /// connection logs the agent out until the phone calls again.
    DialIn,
}

impl ConnectMode {
    /// The agent keeps one connection up all shift and customers are bridged into it.
    pub fn is_nailed(self) -> bool {
        matches!(self, ConnectMode::Nailed | ConnectMode::DialIn)
    }
}

/// `sip:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipSection {
    /// UDP (and TCP) address to listen on.
    pub listen: SocketAddr,
    /// Trunks.
    pub trunks: Vec<crate::sip::trunk::TrunkConfig>,
    /// Trunk groups (campaigns name one in `trunk_group`).
    pub groups: Vec<crate::sip::trunk::TrunkGroupConfig>,
    /// Campaign that receives inbound calls (INVITEs from a trunk). Default: the first campaign.
    #[serde(default)]
    pub inbound_campaign: Option<String>,
    /// IP addresses, beyond the trunks (address and outbound proxy) and the agents, that may send
    /// requests outside a dialog. Any other source gets 403 and leaves no trace but a metric.
    #[serde(default)]
    pub accept_from: Vec<IpAddr>,
    /// Inbound callers waiting for an agent at once; the next one is refused at once with
    /// `inbound_refuse_status`. 1–10,000; default 50.
    #[serde(default = "default_inbound_queue_cap")]
    pub inbound_queue_cap: u32,
    /// An inbound caller no agent took within this (pacing time) is refused with
    /// `inbound_refuse_status` rather than held. 1 s–1 h; default 60 s.
    #[serde(default = "default_inbound_queue_timeout")]
    pub inbound_queue_timeout: Dur,
    /// Final status for a caller refused by the cap or the timeout: 486 Busy Here (default), or
    /// any 4xx–6xx (480 Temporarily Unavailable, 603 Decline, …).
    #[serde(default = "default_inbound_refuse_status")]
    pub inbound_refuse_status: u16,
    /// On the queue timeout, connect the caller to the inbound campaign's `announcement` (a
    /// message; it hangs up when done) instead of refusing it. Default false.
    #[serde(default)]
    pub inbound_timeout_announcement: bool,
    /// Limits of the TCP listener (connections peers open to us).
    #[serde(default)]
    pub tcp: SipTcpSection,
    /// Digest realm of this engine, challenged to phones that dial in (`connect: dial-in`).
    /// Default `outdial`.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// How long a nonce of a dial-in challenge (401) stays valid: a phone answers at once, and
    /// one that answers later is challenged again with `stale=true`. 1 s to 1 h; default 30 s.
    #[serde(default = "default_nonce_lifetime")]
    pub nonce_lifetime: Dur,
}

fn default_nonce_lifetime() -> Dur {
    Dur(Duration::from_secs(30))
}

fn default_realm() -> String {
    "outdial".into()
}

/// `sip.tcp:` section: limits of the SIP TCP listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipTcpSection {
    /// Connections open at once (1 to 65536; default 256); more are closed at accept.
    #[serde(default = "default_sip_max_conns")]
    pub max_connections: u32,
    /// A SIP message started on a connection must be complete within this (100ms to 5m;
    /// default 5s).
    #[serde(default = "default_header_timeout")]
    pub header_timeout: Dur,
    /// A connection that has not begun a message this long after opening is closed (100ms to
    /// 1h; default 2m). Once it has carried a message it stays open while quiet: calls set up
    /// over it send their in-dialog requests back on it.
    #[serde(default = "default_sip_idle")]
    pub idle_timeout: Dur,
}

impl Default for SipTcpSection {
    fn default() -> Self {
        SipTcpSection {
            max_connections: default_sip_max_conns(),
            header_timeout: default_header_timeout(),
            idle_timeout: default_sip_idle(),
        }
    }
}

impl SipTcpSection {
    /// The limits in the listener's terms.
    pub fn limits(&self) -> ConnLimits {
        conn_limits(self.max_connections, self.header_timeout, self.idle_timeout)
    }
}

/// `admin:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Address of the admin HTTP API (loopback by default).
    #[serde(default = "default_admin")]
    pub listen: SocketAddr,
    /// Bearer tokens, each with the name written in the audit trail.
    #[serde(default)]
    pub tokens: Vec<ApiToken>,
    /// Connections open at once (1 to 4096; default 64); more are closed at accept.
    #[serde(default = "default_admin_max_conns")]
    pub max_connections: u32,
    /// A request's header must arrive within this of the connection opening or of the previous
    /// answer, else 408 and close: slow and silent clients (100ms to 5m; default 5s).
    #[serde(default = "default_header_timeout")]
    pub header_timeout: Dur,
    /// A connection on which no byte moves for this long while a request is under way (a
    /// stalled body, an answer not read) is closed (100ms to 1h; default 30s).
    #[serde(default = "default_admin_idle")]
    pub idle_timeout: Dur,
    /// How long a browser session of the pages (`/ui/`) lasts after login (1s to 7d; default
    /// 12h, a shift).
    #[serde(default = "default_session_ttl")]
    pub session_ttl: Dur,
}

impl Default for AdminSection {
    fn default() -> Self {
        AdminSection {
            listen: default_admin(),
            tokens: Vec::new(),
            max_connections: default_admin_max_conns(),
            header_timeout: default_header_timeout(),
            idle_timeout: default_admin_idle(),
            session_ttl: default_session_ttl(),
        }
    }
}

impl AdminSection {
    /// The limits in the listener's terms.
    pub fn limits(&self) -> ConnLimits {
        conn_limits(self.max_connections, self.header_timeout, self.idle_timeout)
    }
}

/// A listener section's three limits (`sip.tcp`, `admin`) in the listener's terms.
fn conn_limits(max_connections: u32, header_timeout: Dur, idle_timeout: Dur) -> ConnLimits {
    ConnLimits {
        max_connections: max_connections as usize,
        header_timeout: header_timeout.0,
        idle_timeout: idle_timeout.0,
    }
}

/// `writes:` section: the queue of writes owed to the store, retried until they land.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WritesSection {
    /// Writes held in memory; past this many, they go to the spool file. Default 10000, at
    /// least 1.
    #[serde(default = "default_write_memory")]
    pub memory: usize,
    /// The spool file (JSON lines), replayed at the next start if the engine exits with writes
    /// still queued. Default `outdial-NODE.spool` in the working directory; it exists only
    /// while something is spooled.
    #[serde(default)]
    pub spool: Option<std::path::PathBuf>,
}

impl Default for WritesSection {
    fn default() -> Self {
        WritesSection {
            memory: default_write_memory(),
            spool: None,
        }
    }
}

impl EngineConfig {
    /// The spool file of this node's write queue.
    pub fn spool_path(&self) -> std::path::PathBuf {
        self.writes
            .spool
            .clone()
            .unwrap_or_else(|| format!("outdial-{}.spool", self.node).into())
    }
}

fn default_write_memory() -> usize {
    10_000
}

/// `lease:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseSection {
    /// A lease not dialled within this time returns to the pool (also after a crash). 10s to 1h.
    #[serde(default = "default_ttl")]
    pub ttl: Dur,
    /// Leads kept leased ahead of the dialer, per campaign, in seconds of dialling. 1s to 10m.
    #[serde(default = "default_ahead")]
    pub ahead: Dur,
}

impl Default for LeaseSection {
    fn default() -> Self {
        LeaseSection {
            ttl: default_ttl(),
            ahead: default_ahead(),
        }
    }
}

/// How an agent leaves wrap-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WrapUp {
    /// The agent (or its desktop) calls the agent API: login, ready, pause, wrap-up done.
    #[default]
    Api,
    /// Synthetic agents: logged in at start, ready again after `auto_wrap_time`, disposition
    /// `completed`.
    Auto,
}

/// One agent, or `count` agents whose URIs differ by number (`{n}` in `uri`, 4 digits).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentEntry {
    /// Agent id (defaults to the URI's user part).
    #[serde(default)]
    pub id: Option<String>,
    /// SIP URI, e.g. `sip:agent0001@127.0.0.1:5080`; with `count`, `{n}` is replaced.
    pub uri: String,
    /// Number of agents of this entry (`{n}` runs from `first`), 1 to [`MAX_AGENTS`].
    #[serde(default)]
    pub count: Option<u32>,
    /// First number of a range (at most [`MAX_AGENT_NUMBER`] with the range).
    #[serde(default = "one_u32")]
    pub first: u32,
    /// Channels, `outbound`, `inbound` or both (blended, the default), then the campaign skills
    /// the agent has (e.g. `mandarin`): a campaign with `skills` is worked only by agents with
    /// all of them.
    #[serde(default = "blended")]
    pub skills: Vec<String>,
    /// Agent group: campaigns whose `agent_group` matches can use the agent.
    pub group: String,
    /// `api` (default) or `auto`.
    #[serde(default)]
    pub wrap_up: WrapUp,
    /// `nailed`, `dial-in` or `per-call`; default `nailed` when every campaign of the agent's
    /// group dials anchored trunks, else `per-call` (checked against the campaigns at start).
    #[serde(default)]
    pub connect: Option<ConnectMode>,
    /// `dial-in` only: the environment variable holding the agent's digest password (keeps the
    /// secret out of the file). Exactly one of `password_env`, `password_file`, `password`.
    #[serde(default)]
    pub password_env: Option<String>,
    /// `dial-in` only: a file holding the password (one line; a trailing newline is ignored).
    #[serde(default)]
    pub password_file: Option<std::path::PathBuf>,
    /// `dial-in` only: the password itself (tests and demos; prefer `password_env`).
    #[serde(default)]
    pub password: Option<String>,
}

/// A campaign to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignEntry {
    /// Campaign name in the store.
    pub name: String,
    /// Safe-harbour announcement for abandoned calls; without one they get BYE with a Reason.
    #[serde(default)]
    pub announcement: Option<String>,
    /// Show the lead's name as the display name of the agent's INVITE (default false: a desk
    /// phone keeps it in its call log and shows it to whoever passes by; the screen pop carries
    /// it to the agent's desktop anyway).
    #[serde(default)]
    pub agent_display_name: bool,
}

/// An agent after ranges are expanded and URIs checked.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    /// Agent id.
    pub id: String,
    /// SIP URI.
    pub uri: SipUri,
    /// Pacing skills.
    pub skills: Skills,
    /// Skill names as configured: the channels and the campaign skills.
    pub skill_names: Vec<String>,
    /// Agent group.
    pub group: String,
    /// Wrap-up handling.
    pub wrap_up: WrapUp,
    /// `connect:` as configured (resolved against the campaigns' trunks at start).
    pub connect: Option<ConnectMode>,
    /// `connect: dial-in`: the digest credentials the phone must prove (user name = agent id).
    pub credentials: Option<crate::sip::digest::Credentials>,
}

/// Most agents one engine config may declare (ranges expanded).
pub const MAX_AGENTS: u32 = 10_000;
/// Highest number `{n}` may reach in an agent range.
pub const MAX_AGENT_NUMBER: u32 = 999_999;
/// Longest `shutdown_grace`.
pub const MAX_SHUTDOWN_GRACE: Duration = Duration::from_secs(3600);
/// Longest `run_for`.
pub const MAX_RUN_FOR: Duration = Duration::from_secs(30 * 86_400);
/// Longest parameter of `auto_wrap_time`.
pub const MAX_WRAP: Duration = Duration::from_secs(3600);

fn default_sip_max_conns() -> u32 {
    256
}
fn default_admin_max_conns() -> u32 {
    64
}
fn default_header_timeout() -> Dur {
    Dur(Duration::from_secs(5))
}
fn default_sip_idle() -> Dur {
    Dur(Duration::from_secs(120))
}
fn default_admin_idle() -> Dur {
    Dur(Duration::from_secs(30))
}
fn default_session_ttl() -> Dur {
    Dur(crate::web::session::DEFAULT_TTL)
}
fn default_node() -> String {
    "node-1".into()
}
fn default_admin() -> SocketAddr {
    crate::admin::DEFAULT_ADDR
}
fn default_ttl() -> Dur {
    Dur(std::time::Duration::from_secs(120))
}
fn default_ahead() -> Dur {
    Dur(std::time::Duration::from_secs(10))
}
fn default_node_ttl() -> Dur {
    Dur(std::time::Duration::from_secs(30))
}
fn default_grace() -> Dur {
    Dur(std::time::Duration::from_secs(30))
}
fn default_inbound_queue_cap() -> u32 {
    50
}
fn default_inbound_queue_timeout() -> Dur {
    Dur(std::time::Duration::from_secs(60))
}
fn default_inbound_refuse_status() -> u16 {
    486
}
fn default_wrap() -> Dist {
    Dist::Constant { mean: 30.0 }
}
fn one() -> f64 {
    1.0
}
fn one_u32() -> u32 {
    1
}
fn blended() -> Vec<String> {
    vec![OUTBOUND.into(), INBOUND.into()]
}

impl EngineConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<EngineConfig, YamlError> {
        let (cfg, text): (EngineConfig, String) = crate::yaml::load(path)?;
        let file = path.display().to_string();
        cfg.check()
            .map_err(|(field, msg)| YamlError::invalid(&file, &text, &field, msg))?;
        Ok(cfg)
    }

    /// Parses and checks config text (`file` names it in errors).
    pub fn parse(file: &str, text: &str) -> Result<EngineConfig, YamlError> {
        let cfg: EngineConfig = crate::yaml::parse(file, text)?;
        cfg.check()
            .map_err(|(field, msg)| YamlError::invalid(file, text, &field, msg))?;
        Ok(cfg)
    }

    /// The trunk section in the SIP layer's shape.
    pub fn trunks(&self) -> TrunksConfig {
        TrunksConfig {
            trunks: self.sip.trunks.clone(),
            groups: self.sip.groups.clone(),
        }
    }

    fn check(&self) -> Result<(), (String, String)> {
        self.trunks().validate().map_err(|e| {
            // "trunks[0].privacy: …" names the field under `sip:`.
            let msg = e.to_string();
            let field = match msg.split_once(':') {
                Some((f, _)) if !f.contains(' ') => format!("sip.{f}"),
                _ => "sip".to_string(),
            };
            (field, msg)
        })?;
        if self.campaigns.is_empty() {
            return Err(("campaigns".into(), "name at least one campaign".into()));
        }
        if self.writes.memory == 0 {
            return Err(("writes.memory".into(), "must be at least 1".into()));
        }
        let secs = Duration::from_secs;
        let ms = Duration::from_millis;
        check_dur("node_ttl", self.node_ttl, secs(3), secs(600))?;
        check_dur(
            "shutdown_grace",
            self.shutdown_grace,
            ms(0),
            MAX_SHUTDOWN_GRACE,
        )?;
        if let Some(r) = self.run_for {
            check_dur("run_for", r, ms(1), MAX_RUN_FOR)?;
        }
        check_dur("lease.ttl", self.lease.ttl, secs(10), secs(3600))?;
        check_dur(
            "media.rtp_timeout",
            self.media.rtp_timeout,
            secs(2),
            secs(600),
        )?;
        check_dur("lease.ahead", self.lease.ahead, secs(1), secs(600))?;
        crate::yaml::check_dist("auto_wrap_time", &self.auto_wrap_time, MAX_WRAP)?;
        for (i, t) in self.sip.trunks.iter().enumerate() {
            let key = |k: &str| format!("sip.trunks[{i}].{k}");
            check_count(&key("max_channels"), t.max_channels as u64, 1, 100_000)?;
            check_count(&key("max_cps"), t.max_cps as u64, 1, 10_000)?;
            if let Some(p) = t.ping_interval {
                check_dur(&key("ping_interval"), p, ms(0), secs(3600))?;
            }
        }
        for (key, limits, max) in [
            ("sip.tcp", self.sip.tcp.limits(), 65_536),
            ("admin", self.admin.limits(), 4096),
        ] {
            check_count(
                &format!("{key}.max_connections"),
                limits.max_connections as u64,
                1,
                max,
            )?;
            check_dur(
                &format!("{key}.header_timeout"),
                Dur(limits.header_timeout),
                ms(100),
                secs(300),
            )?;
            check_dur(
                &format!("{key}.idle_timeout"),
                Dur(limits.idle_timeout),
                ms(100),
                secs(3600),
            )?;
        }
        check_dur(
            "admin.session_ttl",
            self.admin.session_ttl,
            secs(1),
            secs(7 * 86_400),
        )?;
        // An agent token names a configured agent (a typo would give a desktop that can do
        // nothing). Agents that do not expand are reported by `agent_specs` itself.
        let ids: HashSet<String> = self
            .agent_specs()
            .map(|v| v.into_iter().map(|a| a.id).collect())
            .unwrap_or_default();
        for (i, t) in self.admin.tokens.iter().enumerate() {
            if let Some(agent) = &t.agent {
                if !ids.is_empty() && !ids.contains(agent) {
                    return Err((
                        format!("admin.tokens[{i}].agent"),
                        format!("no agent {agent:?} in `agents` (token {:?})", t.name),
                    ));
                }
            }
        }
        if !(self.time_scale.is_finite() && (1.0..=1000.0).contains(&self.time_scale)) {
            return Err((
                "time_scale".into(),
                "must be a number from 1 to 1000".into(),
            ));
        }
        if self.node.is_empty()
            || !self
                .node
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err((
                "node".into(),
                "letters, digits, '-', '_' and '.' only".into(),
            ));
        }
        for (i, c) in self.campaigns.iter().enumerate() {
            if let Some(a) = &c.announcement {
                SipUri::parse(a)
                    .map_err(|e| (format!("campaigns[{i}].announcement"), e.to_string()))?;
            }
        }
        if self.sip.realm.is_empty()
            || !self
                .sip
                .realm
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            return Err((
                "sip.realm".into(),
                "printable ASCII without spaces, quotes or backslashes".into(),
            ));
        }
        let n = self.sip.nonce_lifetime.0;
        if n < Duration::from_secs(1) || n > Duration::from_secs(3600) {
            return Err(("sip.nonce_lifetime".into(), "must be 1s to 1h".into()));
        }
        if !(1..=10_000).contains(&self.sip.inbound_queue_cap) {
            return Err(("sip.inbound_queue_cap".into(), "must be 1 to 10000".into()));
        }
        let t = self.sip.inbound_queue_timeout.0;
        if t < std::time::Duration::from_secs(1) || t > std::time::Duration::from_secs(3600) {
            return Err((
                "sip.inbound_queue_timeout".into(),
                "must be 1s to 1h".into(),
            ));
        }
        if !(400..=699).contains(&self.sip.inbound_refuse_status) {
            return Err((
                "sip.inbound_refuse_status".into(),
                "must be a final failure status, 400 to 699".into(),
            ));
        }
        let inbound = match &self.sip.inbound_campaign {
            Some(ic) => self.campaigns.iter().find(|c| &c.name == ic),
            None => self.campaigns.first(),
        };
        if self.sip.inbound_timeout_announcement
            && inbound.is_some_and(|c| c.announcement.is_none())
        {
            return Err((
                "sip.inbound_timeout_announcement".into(),
                "the inbound campaign has no announcement".into(),
            ));
        }
        if let Some(ic) = &self.sip.inbound_campaign {
            if !self.campaigns.iter().any(|c| &c.name == ic) {
                return Err((
                    "sip.inbound_campaign".into(),
                    format!("{ic:?} is not in campaigns"),
                ));
            }
        }
        self.agent_specs().map(|_| ())
    }

    /// Expands ranges and checks every agent (unique ids, valid URIs, a channel among its skills).
    pub fn agent_specs(&self) -> Result<Vec<AgentSpec>, (String, String)> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut total: u64 = 0;
        for (i, e) in self.agents.iter().enumerate() {
            let field = |k: &str| format!("agents[{i}].{k}");
            let skills = parse_skills(&e.skills).map_err(|m| (field("skills"), m.to_string()))?;
            let n = e.count.unwrap_or(1);
            // Checked before anything is expanded: a huge count must not allocate first.
            check_count(&field("count"), n as u64, 1, MAX_AGENTS as u64)?;
            total += n as u64;
            if total > MAX_AGENTS as u64 {
                return Err((
                    field("count"),
                    format!("more than {MAX_AGENTS} agents in all"),
                ));
            }
            if e.first as u64 + n as u64 - 1 > MAX_AGENT_NUMBER as u64 {
                return Err((
                    field("first"),
                    format!("the range would number agents past {MAX_AGENT_NUMBER}"),
                ));
            }
            if e.count.is_some() && !e.uri.contains("{n}") {
                return Err((field("uri"), "a range needs {n} in its uri".into()));
            }
            if e.count.is_some() && e.id.is_some() {
                return Err((field("id"), "a range takes its ids from the uri".into()));
            }
            let password = dial_in_password(e).map_err(|(k, m)| (field(k), m))?;
            for k in 0..n {
                let text = e.uri.replace("{n}", &format!("{:04}", e.first + k));
                let uri = SipUri::parse(&text).map_err(|m| (field("uri"), m.to_string()))?;
                let id = match (&e.id, uri.user()) {
                    (Some(id), _) => id.clone(),
                    (None, Some(u)) => u.to_string(),
                    (None, None) => {
                        return Err((field("id"), "give an id or a uri with a user part".into()))
                    }
                };
                if !seen.insert(id.clone()) {
                    return Err((field("id"), format!("duplicate agent id {id:?}")));
                }
                let credentials = password.as_ref().map(|p| crate::sip::digest::Credentials {
                    username: id.clone(),
                    password: p.clone(),
                });
                out.push(AgentSpec {
                    id,
                    uri,
                    skills,
                    skill_names: e.skills.clone(),
                    group: e.group.clone(),
                    wrap_up: e.wrap_up,
                    connect: e.connect,
                    credentials,
                });
            }
        }
        Ok(out)
    }
}

/// The digest password of a `connect: dial-in` entry, read from where it says (the
/// environment, a file, or the entry itself); `None` for other modes, which may name none.
/// Errors name the field (relative to the entry) and never echo the secret.
fn dial_in_password(e: &AgentEntry) -> Result<Option<String>, (&'static str, String)> {
    let given = [
        e.password_env.is_some(),
        e.password_file.is_some(),
        e.password.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if e.connect != Some(ConnectMode::DialIn) {
        return match given {
            0 => Ok(None),
            _ => Err((
                "connect",
                "a password is only for connect: dial-in agents".into(),
            )),
        };
    }
    let secret = if given != 1 {
        return Err((
            "connect",
            "dial-in needs exactly one of password_env, password_file, password".into(),
        ));
    } else if let Some(var) = &e.password_env {
        let v = std::env::var(var).map_err(|err| ("password_env", format!("{var}: {err}")))?;
        ("password_env", v)
    } else if let Some(path) = &e.password_file {
        let v = std::fs::read_to_string(path)
            .map_err(|err| ("password_file", format!("{}: {err}", path.display())))?;
        (
            "password_file",
            v.trim_end_matches(['\r', '\n']).to_string(),
        )
    } else {
        ("password", e.password.clone().unwrap_or_default())
    };
    match secret {
        (k, v) if v.is_empty() => Err((k, "the password is empty".into())),
        (_, v) => Ok(Some(v)),
    }
}

/// The channel skill names; every other name in an agent's `skills` is a campaign skill.
const OUTBOUND: &str = "outbound";
const INBOUND: &str = "inbound";

/// Whether an agent skill name is a channel (`outbound`, `inbound`), not a campaign skill.
pub(crate) fn is_channel(name: &str) -> bool {
    name == OUTBOUND || name == INBOUND
}

/// The channels among an agent's skills (a campaign's `skills` must all be among the rest for
/// the agent to work it).
fn parse_skills(names: &[String]) -> Result<Skills, NoChannel> {
    let (o, i) = (
        names.iter().any(|n| n == OUTBOUND),
        names.iter().any(|n| n == INBOUND),
    );
    match (o, i) {
        (true, true) => Ok(Skills::Blended),
        (true, false) => Ok(Skills::Outbound),
        (false, true) => Ok(Skills::Inbound),
        (false, false) => Err(NoChannel(names.to_vec())),
    }
}

/// An agent's skills name neither channel (`outbound`, `inbound`).
#[derive(Debug, thiserror::Error)]
#[error("{0:?} has no channel: give outbound and/or inbound, then any campaign skills")]
pub struct NoChannel(Vec<String>);

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "sip:\n  listen: 127.0.0.1:5060\n  trunks: [{name: t1, address: \
                        127.0.0.1:5070, max_channels: 10, max_cps: 5}]\n  groups: [{name: g, \
                        trunks: [t1]}]\ncampaigns: [{name: c}]\n";

    #[test]
    fn a_bad_trunk_presentation_value_names_its_line_and_field() {
        let text = "sip:\n  listen: 127.0.0.1:5060\n  trunks:\n    - name: t1\n      address: \
                    127.0.0.1:5070\n      max_channels: 10\n      max_cps: 5\n      privacy: \
                    hidden\n  groups: [{name: g, trunks: [t1]}]\ncampaigns: [{name: c, \
                    agent_display_name: true}]\nagents: []\n";
        let err = EngineConfig::parse("e.yaml", text).unwrap_err().to_string();
        assert!(
            err.contains("e.yaml:8") && err.contains("sip.trunks[0].privacy"),
            "{err}"
        );
    }

    #[test]
    fn ranges_expand_and_duplicates_are_named() {
        let text = format!(
            "{BASE}agents:\n  - {{uri: 'sip:agent{{n}}@127.0.0.1:5080', count: 3, group: g, \
             wrap_up: auto}}\n"
        );
        let cfg = EngineConfig::parse("e.yaml", &text).unwrap();
        let specs = cfg.agent_specs().unwrap();
        let ids: Vec<_> = specs.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["agent0001", "agent0002", "agent0003"]);
        assert_eq!(specs[0].skills, Skills::Blended);

        let dup = format!(
            "{BASE}agents:\n  - {{uri: 'sip:a@127.0.0.1:5080', group: g}}\n  - {{uri: \
             'sip:a@127.0.0.1:5081', group: g}}\n"
        );
        let err = EngineConfig::parse("e.yaml", &dup).unwrap_err().to_string();
        assert!(
            err.contains("e.yaml") && err.contains("duplicate agent id"),
            "{err}"
        );
    }

    #[test]
    fn the_shipped_example_parses_and_documents_every_key() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("campaigns/engine/outdial.example.yaml");
        let cfg = EngineConfig::load(&path).unwrap();
        assert_eq!(cfg.node, "sh-site-a");
        assert_eq!(cfg.agent_specs().unwrap().len(), 201);
        let text = std::fs::read_to_string(&path).unwrap();
        for key in [
            "store:",
            "node:",
            "listen:",
            "trunks:",
            "groups:",
            "inbound_campaign:",
            "accept_from:",
            "inbound_queue_cap:",
            "inbound_queue_timeout:",
            "inbound_refuse_status:",
            "inbound_timeout_announcement:",
            "admin:",
            "tokens:",
            "agents:",
            "auto_wrap_time:",
            "campaigns:",
            "announcement:",
            "lease:",
            "ttl:",
            "ahead:",
            "shutdown_grace:",
            "node_ttl:",
            "writes:",
            "memory:",
            "spool:",
            "time_scale:",
            "run_for:",
            "realtime_priority:",
            "tcp:",
            "max_connections:",
            "header_timeout:",
            "idle_timeout:",
        ] {
            assert!(text.contains(key), "{key} is not documented");
        }
    }

    #[test]
    fn a_realtime_priority_outside_1_to_99_names_its_field_and_a_good_one_is_kept() {
        for bad in ["0", "100", "-3", "high"] {
            let text = format!("{BASE}agents: []\nmedia:\n  realtime_priority: {bad}\n");
            let err = EngineConfig::parse("e.yaml", &text)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("e.yaml:") && err.contains("media.realtime_priority"),
                "{bad}: {err}"
            );
        }
        let text = format!("{BASE}agents: []\nmedia:\n  realtime_priority: 10\n");
        let cfg = EngineConfig::parse("e.yaml", &text).unwrap();
        assert_eq!(cfg.media.realtime_priority.map(|p| p.get()), Some(10));
        let cfg = EngineConfig::parse("e.yaml", &format!("{BASE}agents: []\n")).unwrap();
        assert_eq!(cfg.media.realtime_priority, None);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected_with_their_field() {
        let text = format!("{BASE}agents: []\nlisten_on: 1\n");
        let err = EngineConfig::parse("e.yaml", &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("listen_on"), "{err}");
        let text = format!(
            "{BASE}agents: [{{uri: 'sip:a@127.0.0.1:5080', group: g, skills: [outbund]}}]\n"
        );
        let err = EngineConfig::parse("e.yaml", &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("skills") && err.contains("outbund"), "{err}");
    }

    #[test]
    fn listener_limits_have_defaults_and_bounds() {
        let cfg = EngineConfig::parse("e.yaml", &format!("{BASE}agents: []\n")).unwrap();
        assert_eq!(cfg.sip.tcp.limits(), crate::sip::driver::DEFAULT_TCP_LIMITS);
        assert_eq!(cfg.admin.limits(), crate::admin::DEFAULT_LIMITS);
        for (extra, want) in [
            (
                "admin: {max_connections: 0}\n",
                "e.yaml:7: admin.max_connections:",
            ),
            (
                "admin: {idle_timeout: 2h}\n",
                "e.yaml:7: admin.idle_timeout:",
            ),
            (
                "admin:\n  header_timeout: 1ms\n",
                "e.yaml:8: admin.header_timeout:",
            ),
        ] {
            let err = EngineConfig::parse("e.yaml", &format!("{BASE}agents: []\n{extra}"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(want), "{err}");
        }
        let text = BASE.replace(
            "  listen: 127.0.0.1:5060\n",
            "  listen: 127.0.0.1:5060\n  tcp:\n    max_connections: 70000\n",
        );
        let err = EngineConfig::parse("e.yaml", &format!("{text}agents: []\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("e.yaml:4: sip.tcp.max_connections:"),
            "{err}"
        );
    }

    #[test]
    fn trunk_limits_are_bounded() {
        let text = BASE.replace("max_channels: 10", "max_channels: 4294967295");
        let err = EngineConfig::parse("e.yaml", &format!("{text}agents: []\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sip.trunks[0].max_channels"), "{err}");
    }

    #[test]
    fn campaign_skills_ride_along_with_the_channels() {
        let text = format!(
            "{BASE}agents: [{{uri: 'sip:a@127.0.0.1:5080', group: g, skills: [outbound, mandarin]}}]\n"
        );
        let cfg = EngineConfig::parse("e.yaml", &text).expect("parse");
        let specs = cfg.agent_specs().expect("agents");
        assert_eq!(specs[0].skills, Skills::Outbound);
        assert_eq!(specs[0].skill_names, ["outbound", "mandarin"]);
    }

    #[test]
    fn a_dial_in_agent_takes_its_password_from_one_named_source() {
        let agent = |extra: &str| {
            format!(
                "{BASE}agents:\n  - {{uri: 'sip:a1@127.0.0.1:5080', group: g, connect: \
                 dial-in{extra}}}\n"
            )
        };
        let dir = std::env::temp_dir().join(format!("outdial-dialin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a1.secret");
        std::fs::write(&file, "from-a-file\n").unwrap();
        let cfg = EngineConfig::parse(
            "e.yaml",
            &agent(&format!(", password_file: '{}'", file.display())),
        )
        .unwrap();
        let creds = cfg.agent_specs().unwrap()[0].credentials.clone().unwrap();
        assert_eq!(
            (creds.username.as_str(), creds.password.as_str()),
            ("a1", "from-a-file")
        );
        let cfg = EngineConfig::parse("e.yaml", &agent(", password: inline")).unwrap();
        assert_eq!(
            cfg.agent_specs().unwrap()[0]
                .credentials
                .as_ref()
                .unwrap()
                .password,
            "inline"
        );
        // No source, two sources, a variable that is not set, an empty file: each names its
        // field, and none echoes a secret.
        let err = |extra: &str| {
            EngineConfig::parse("e.yaml", &agent(extra))
                .unwrap_err()
                .to_string()
        };
        assert!(
            err("").contains("agents[0].connect: dial-in needs exactly one"),
            "{}",
            err("")
        );
        let two = err(", password: x, password_env: OUTDIAL_TEST_UNSET_VAR");
        assert!(two.contains("exactly one"), "{two}");
        let unset = err(", password_env: OUTDIAL_TEST_UNSET_VAR_1");
        assert!(
            unset.contains("agents[0].password_env") && unset.contains("OUTDIAL_TEST_UNSET_VAR_1"),
            "{unset}"
        );
        std::fs::write(&file, "\n").unwrap();
        let empty = err(&format!(", password_file: '{}'", file.display()));
        assert!(
            empty.contains("agents[0].password_file: the password is empty"),
            "{empty}"
        );
        let missing = err(", password_file: /nonexistent/outdial.secret");
        assert!(missing.contains("/nonexistent/outdial.secret"), "{missing}");
        // A password on an agent that does not dial in is a mistake worth naming.
        let stray = EngineConfig::parse(
            "e.yaml",
            &format!(
                "{BASE}agents:\n  - {{uri: 'sip:a1@127.0.0.1:5080', group: g, password: x}}\n"
            ),
        )
        .unwrap_err()
        .to_string();
        assert!(stray.contains("only for connect: dial-in"), "{stray}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_realm_defaults_to_outdial_and_refuses_quotes() {
        let cfg = EngineConfig::parse("e.yaml", &format!("{BASE}agents: []\n")).unwrap();
        assert_eq!(cfg.sip.realm, "outdial");
        let text = format!("{BASE}agents: []\n").replacen(
            "listen: 127.0.0.1:5060\n",
            "listen: 127.0.0.1:5060\n  realm: 'a\"b'\n",
            1,
        );
        let err = EngineConfig::parse("e.yaml", &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("sip.realm"), "{err}");
    }

    #[test]
    fn the_nonce_lifetime_defaults_to_30_s_and_is_bounded() {
        let cfg = EngineConfig::parse("e.yaml", &format!("{BASE}agents: []\n")).unwrap();
        assert_eq!(cfg.sip.nonce_lifetime.0, Duration::from_secs(30));
        let with = |v: &str| {
            format!("{BASE}agents: []\n").replacen(
                "listen: 127.0.0.1:5060\n",
                &format!("listen: 127.0.0.1:5060\n  nonce_lifetime: {v}\n"),
                1,
            )
        };
        let cfg = EngineConfig::parse("e.yaml", &with("2m")).unwrap();
        assert_eq!(cfg.sip.nonce_lifetime.0, Duration::from_secs(120));
        for bad in ["0s", "2h"] {
            let err = EngineConfig::parse("e.yaml", &with(bad))
                .unwrap_err()
                .to_string();
            assert!(err.contains("sip.nonce_lifetime"), "{bad}: {err}");
        }
    }
}
