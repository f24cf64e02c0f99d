//! Trunks and trunk groups: the YAML config types, and the runtime bookkeeping the endpoint uses to
//! pick a trunk for a call — channel and calls-per-second limits (never exceeded), health from
//! OPTIONS pings with back-off, ordered or round-robin selection. Sans-IO: time is a value.
//!
//! ```yaml
//! trunks:
//!   - name: link-a
//!     address: 127.0.0.1:5060      # IP:port (or sip:host:port); no DNS
//!     transport: udp               # udp | tcp
//!     credentials: { username: outdial, password: secret }
//!     max_channels: 120
//!     max_cps: 20
//!     prefix: { strip: "+33", add: "0" }
//!     dispositions: { 480: busy }
//!     uri_form: national           # e164 (default) | national | tel
//!     from_user: "+33140000000"    # default: the campaign's caller_id
//!     from_display: "ACME"         # default: none
//!     asserted_identity: from      # P-Asserted-Identity: `from` (the From user) or a number
//!     privacy: id                  # Privacy: none | id | header | user | session, `;`-joined
//!     internal_headers: false      # send X-Outdial-Lead / X-Outdial-Campaign (default false)
//!     outbound_proxy: 127.0.0.1:5070  # send every request of the calls via this proxy/SBC
//!     media: anchor                # anchor (default: outdial relays RTP) | flow-i (signalling only)
//!   - name: link-b
//!     address: 127.0.0.1:5062
//!     max_channels: 120
//!     max_cps: 20
//! groups:
//!   - name: main
//!     strategy: ordered            # ordered (primary, then secondary) | round_robin
//!     trunks: [link-a, link-b]
//! ```
//!
//! # Presentation
//! What a trunk sees of a call is set per trunk, so failover to another carrier presents the
//! call the way that carrier wants it:
//! - Request-URI (`uri_form`), after the `prefix` rewrite: `e164` writes
//!   `sip:+33612345678@trunk;user=phone` (RFC 3261 §19.1.6; `user=phone` only when the rewritten
//!   number is global, i.e. starts with `+`), `national` writes the digits without `+`
//!   (`sip:0612345678@trunk`), `tel` writes `tel:+33612345678` (RFC 3966; needs a global number,
//!   so a prefix rule must keep the `+`).
//! - From: `from_user` (else the campaign's caller ID) and `from_display`; `user=phone` when the
//!   user is a global number.
//! - `asserted_identity`: a P-Asserted-Identity (RFC 3325) for trusted carriers; `privacy`: a
//!   Privacy header (RFC 3323: `id` hides the asserted identity beyond the carrier, `none` asks
//!   for presentation).
//! - outdial's own identifiers (`X-Outdial-Lead`, `X-Outdial-Campaign`) stay inside unless
//!   `internal_headers: true` (a carrier has no use for them; a lab trunk might).
//!
//! # Outbound proxy
//! With `outbound_proxy`, the INVITE (and its CANCEL and non-2xx ACK) go to the proxy with a
//! preloaded `Route: <sip:proxy;lr>` (RFC 3261 §8.1.2); in-dialog requests follow the route set
//! the proxy records, and still go to the proxy when it records none (an SBC that wants all the
//! signalling).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::digest::Credentials;
use super::disposition::DispositionTable;
use super::values::{CallerId, DisplayName, SipUri, E164};
use crate::media::io::MediaMode;
use crate::yaml::Dur;

/// Transport used towards a peer.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// UDP with retransmissions (the default).
    #[default]
    Udp,
    /// TCP, framed by Content-Length, no retransmissions.
    Tcp,
}

/// Number rewriting before the number goes into the Request-URI.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixRule {
    /// Removed from the front of the E.164 number when present (e.g. `+33`).
    #[serde(default)]
    pub strip: String,
    /// Then prepended (e.g. `0`). Digits, `+`, `*`, `#` only.
    #[serde(default)]
    pub add: String,
}

/// One trunk (a SIP peer that carries our calls). `Default` is a base for struct-update syntax
/// only: its empty name, address and zero limits do not validate.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    /// Unique name, used by groups and reports.
    pub name: String,
    /// `IP:port` or `sip:IP:port` of the trunk.
    pub address: String,
    /// `udp` (default) or `tcp`.
    #[serde(default)]
    pub transport: Transport,
    /// Digest credentials for 401/407 challenges.
    #[serde(default)]
    pub credentials: Option<Credentials>,
    /// Most simultaneous calls (dialing, ringing or up) on this trunk.
    pub max_channels: u32,
    /// Most new calls in any one-second window.
    pub max_cps: u32,
    /// Optional number rewriting.
    #[serde(default)]
    pub prefix: Option<PrefixRule>,
    /// Status code → disposition overrides.
    #[serde(default)]
    pub dispositions: DispositionTable,
    /// Interval between OPTIONS pings while in service (default 30s; 0s disables pings).
    #[serde(default)]
    pub ping_interval: Option<Dur>,
    /// Form of the Request-URI (and To): `e164` (default), `national` or `tel`.
    #[serde(default)]
    pub uri_form: UriForm,
    /// User part of From towards this trunk; default the campaign's caller ID.
    #[serde(default)]
    pub from_user: Option<String>,
    /// Display name of From; default none.
    #[serde(default)]
    pub from_display: Option<String>,
    /// P-Asserted-Identity user: `from` (the From user) or a caller ID; default none.
    #[serde(default)]
    pub asserted_identity: Option<String>,
    /// Privacy header value (`none`, or `id`, `header`, `user`, `session`, `critical` joined
    /// with `;`); default none.
    #[serde(default)]
    pub privacy: Option<String>,
    /// Send outdial's `X-Outdial-Lead` / `X-Outdial-Campaign` to this trunk (default false).
    #[serde(default)]
    pub internal_headers: bool,
    /// `IP:port` or `sip:IP:port` of a proxy or SBC every request of this trunk's calls goes to.
    #[serde(default)]
    pub outbound_proxy: Option<String>,
    /// Who carries this trunk's media: `anchor` (the default: early offer with outdial's SDP,
    /// outdial relays the RTP) or `flow-i` (signalling only, RFC 3725 flow I). Every trunk of a
    /// group has the same mode.
    #[serde(default)]
    pub media: MediaMode,
}

/// How the dialled number is written in the Request-URI and To header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UriForm {
    /// `sip:+E164@trunk;user=phone` (`user=phone` only for a global number).
    #[default]
    E164,
    /// `sip:DIGITS@trunk`: the number without `+` (use `prefix` to make it national).
    National,
    /// `tel:+E164` (RFC 3966).
    Tel,
}

/// The RFC 3323 / RFC 3325 privacy values a Privacy header may carry.
const PRIVACY_VALUES: &[&str] = &["none", "id", "header", "user", "session", "critical"];

/// Checks a Privacy value: `none` alone, or known values joined with `;`, each at most once.
fn valid_privacy(v: &str) -> bool {
    let parts: Vec<&str> = v.split(';').map(str::trim).collect();
    if parts.iter().any(|p| !PRIVACY_VALUES.contains(p)) {
        return false;
    }
    let unique = parts
        .iter()
        .enumerate()
        .all(|(i, p)| !parts[..i].contains(p));
    unique && (parts.len() == 1 || !parts.contains(&"none"))
}

/// How a group spreads calls over its trunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Always the first trunk in service with capacity (primary, then secondary …).
    #[default]
    Ordered,
    /// Rotate over the trunks in service with capacity.
    RoundRobin,
}

/// A named, ordered set of trunks.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkGroupConfig {
    /// Unique name, given to `place_call`.
    pub name: String,
    /// `ordered` (default) or `round_robin`.
    #[serde(default)]
    pub strategy: Strategy,
    /// Trunk names, in order.
    pub trunks: Vec<String>,
}

/// The `sip` trunk section of the engine config.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrunksConfig {
    /// All trunks.
    pub trunks: Vec<TrunkConfig>,
    /// Trunk groups.
    pub groups: Vec<TrunkGroupConfig>,
}

/// A trunk config that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrunkConfigError {
    /// `address` is not an IP:port.
    #[error("trunks[{0}].address: not IP:port or sip:IP:port: {1:?}")]
    Address(usize, String),
    /// Two trunks or groups share a name.
    #[error("{0}: duplicate name {1:?}")]
    Duplicate(&'static str, String),
    /// A group names a trunk that does not exist.
    #[error("groups[{0}].trunks: unknown trunk {1:?}")]
    UnknownTrunk(usize, String),
    /// A limit of zero or a group without trunks.
    #[error("{0}: must be at least 1")]
    Zero(String),
    /// A prefix rule with characters other than digits, `+`, `*`, `#`.
    #[error("trunks[{0}].prefix: only digits, '+', '*' and '#' are allowed")]
    Prefix(usize),
    /// A presentation value that cannot go into its header.
    #[error("trunks[{0}].{1}: {2}")]
    Presentation(usize, &'static str, String),
    /// A group mixes media modes: calls fail over between its trunks, so they must agree.
    #[error("groups[{0}].trunks: trunk {1:?} has media {2:?}, other trunks of the group {3:?} (a group's trunks share one media mode)")]
    MixedMedia(usize, String, MediaMode, MediaMode),
}

impl TrunksConfig {
    /// Parses and validates the YAML text of a trunks file (errors name file, line and field).
    pub fn from_yaml(file: &str, text: &str) -> Result<Self, crate::yaml::YamlError> {
        let cfg: TrunksConfig = crate::yaml::parse(file, text)?;
        cfg.validate().map_err(|e| {
            let msg = e.to_string();
            let field = msg.split(':').next().unwrap_or(".").to_string();
            crate::yaml::YamlError::invalid(file, text, &field, msg)
        })?;
        Ok(cfg)
    }

    /// Checks names, addresses, limits and prefixes.
    pub fn validate(&self) -> Result<(), TrunkConfigError> {
        for (i, t) in self.trunks.iter().enumerate() {
            parse_addr(&t.address)
                .ok_or_else(|| TrunkConfigError::Address(i, t.address.clone()))?;
            if self.trunks[..i].iter().any(|o| o.name == t.name) {
                return Err(TrunkConfigError::Duplicate("trunks", t.name.clone()));
            }
            if t.max_channels == 0 {
                return Err(TrunkConfigError::Zero(format!("trunks[{i}].max_channels")));
            }
            if t.max_cps == 0 {
                return Err(TrunkConfigError::Zero(format!("trunks[{i}].max_cps")));
            }
            if let Some(p) = &t.prefix {
                let ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || b"+*#".contains(&b));
                if !ok(&p.strip) || !ok(&p.add) {
                    return Err(TrunkConfigError::Prefix(i));
                }
            }
            t.check_presentation()
                .map_err(|(field, msg)| TrunkConfigError::Presentation(i, field, msg))?;
        }
        for (i, g) in self.groups.iter().enumerate() {
            if self.groups[..i].iter().any(|o| o.name == g.name) {
                return Err(TrunkConfigError::Duplicate("groups", g.name.clone()));
            }
            if g.trunks.is_empty() {
                return Err(TrunkConfigError::Zero(format!("groups[{i}].trunks")));
            }
            let mut first: Option<MediaMode> = None;
            for t in &g.trunks {
                let Some(tc) = self.trunks.iter().find(|x| &x.name == t) else {
                    return Err(TrunkConfigError::UnknownTrunk(i, t.clone()));
                };
                match first {
                    Some(m) if m != tc.media => {
                        return Err(TrunkConfigError::MixedMedia(i, t.clone(), tc.media, m));
                    }
                    _ => first = Some(tc.media),
                }
            }
        }
        Ok(())
    }
}

impl TrunkConfig {
    /// Checks the presentation keys and the outbound proxy; `(field, message)` on error.
    fn check_presentation(&self) -> Result<(), (&'static str, String)> {
        if let Some(u) = &self.from_user {
            CallerId::new(u).map_err(|e| ("from_user", e.to_string()))?;
        }
        if let Some(d) = &self.from_display {
            DisplayName::new(d).map_err(|e| ("from_display", e.to_string()))?;
        }
        if let Some(a) = &self.asserted_identity {
            if a != "from" {
                CallerId::new(a).map_err(|e| {
                    (
                        "asserted_identity",
                        format!("want `from` or a caller ID: {e}"),
                    )
                })?;
            }
        }
        if let Some(p) = &self.privacy {
            if !valid_privacy(p) {
                return Err((
                    "privacy",
                    format!(
                        "{p:?}: want `none`, or values among id, header, user, session, critical \
                         joined with ';'"
                    ),
                ));
            }
        }
        if self.uri_form == UriForm::Tel {
            if let Some(p) = &self.prefix {
                if !p.strip.is_empty() && !p.add.starts_with('+') {
                    return Err((
                        "uri_form",
                        "tel URIs need a global number: the prefix rule must add a '+'".into(),
                    ));
                }
            }
        }
        if let Some(p) = &self.outbound_proxy {
            parse_addr(p).ok_or((
                "outbound_proxy",
                format!("not IP:port or sip:IP:port: {p:?}"),
            ))?;
        }
        Ok(())
    }
}

/// Parses `IP:port`, `sip:IP:port` or `sip:user@IP:port`.
pub fn parse_addr(s: &str) -> Option<SocketAddr> {
    if let Ok(a) = s.parse() {
        return Some(a);
    }
    SipUri::parse(s).ok().map(|u| u.addr())
}

/// Health of a trunk as seen by OPTIONS pings and call failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Taking calls.
    InService,
    /// Timed out or answered 503; pinged again at `retry_at`.
    OutOfService {
        /// When the next OPTIONS ping is sent.
        retry_at: Instant,
        /// Current back-off (doubles up to 60 s).
        backoff: Duration,
    },
}

/// Runtime state of one trunk.
#[derive(Debug)]
pub struct Trunk {
    /// Its config.
    pub config: TrunkConfig,
    /// Resolved address.
    pub addr: SocketAddr,
    /// Resolved outbound proxy, if any: the INVITE goes there with a preloaded Route.
    pub proxy: Option<SocketAddr>,
    /// Validated `from_user`, `from_display` and `asserted_identity` (`None` inside: `from`).
    from_user: Option<CallerId>,
    from_display: Option<DisplayName>,
    asserted: Option<Option<CallerId>>,
    /// Current health.
    pub health: Health,
    /// Calls currently holding a channel.
    pub active: u32,
    /// Start times of calls in the last second (sliding window, at most `max_cps` long).
    starts: VecDeque<Instant>,
    /// The last failure that took it out of service, and when (shown on the wallboard).
    pub last_error: Option<(Instant, &'static str)>,
}

impl Trunk {
    /// Builds the runtime state of a validated trunk config.
    pub fn new(config: TrunkConfig) -> Option<Self> {
        let proxy = match &config.outbound_proxy {
            Some(p) => Some(parse_addr(p)?),
            None => None,
        };
        let from_user = config
            .from_user
            .as_deref()
            .and_then(|u| CallerId::new(u).ok());
        let from_display = config
            .from_display
            .as_deref()
            .and_then(|d| DisplayName::new(d).ok());
        let asserted = config.asserted_identity.as_deref().map(|a| match a {
            "from" => None,
            u => CallerId::new(u).ok(),
        });
        Some(Trunk {
            addr: parse_addr(&config.address)?,
            proxy,
            from_user,
            from_display,
            asserted,
            config,
            health: Health::InService,
            active: 0,
            starts: VecDeque::new(),
            last_error: None,
        })
    }

    fn prune(&mut self, now: Instant) {
        while let Some(t) = self.starts.front() {
            if now.saturating_duration_since(*t) >= Duration::from_secs(1) {
                self.starts.pop_front();
            } else {
                break;
            }
        }
    }

    /// Free channels (0 when out of service).
    pub fn free_channels(&self) -> u32 {
        match self.health {
            Health::InService => self.config.max_channels.saturating_sub(self.active),
            Health::OutOfService { .. } => 0,
        }
    }

    /// Calls that may start now without breaking the channel or CPS limit.
    pub fn headroom(&mut self, now: Instant) -> u32 {
        self.prune(now);
        let cps = self.config.max_cps.saturating_sub(self.starts.len() as u32);
        self.free_channels().min(cps)
    }

    /// Calls started in the second before `now` (what `max_cps` limits); read-only.
    pub fn calls_last_second(&self, now: Instant) -> u32 {
        self.starts
            .iter()
            .filter(|t| now.saturating_duration_since(**t) < Duration::from_secs(1))
            .count() as u32
    }

    /// Takes one channel and one CPS slot; false when either limit would be exceeded.
    pub fn try_take(&mut self, now: Instant) -> bool {
        if self.headroom(now) == 0 {
            return false;
        }
        self.active += 1;
        self.starts.push_back(now);
        true
    }

    /// Gives back a channel when a call using this trunk ends.
    pub fn release(&mut self) {
        self.active = self.active.saturating_sub(1);
    }

    /// Applies the prefix rule to a number for the Request-URI user part.
    pub fn dial_string(&self, number: &E164) -> String {
        match &self.config.prefix {
            Some(p) => {
                let n = number
                    .as_str()
                    .strip_prefix(p.strip.as_str())
                    .unwrap_or(number.as_str());
                format!("{}{n}", p.add)
            }
            None => number.as_str().to_string(),
        }
    }

    /// The Request-URI (also the To URI) for `number`: the prefix rule, then `uri_form`.
    pub fn request_uri(&self, number: &E164) -> String {
        let dial = self.dial_string(number);
        match self.config.uri_form {
            UriForm::E164 if dial.starts_with('+') => {
                format!("sip:{dial}@{};user=phone", self.addr)
            }
            UriForm::E164 => format!("sip:{dial}@{}", self.addr),
            UriForm::National => format!("sip:{}@{}", dial.trim_start_matches('+'), self.addr),
            UriForm::Tel => format!("tel:{dial}"),
        }
    }

    /// The From user towards this trunk: `from_user`, else `campaign`.
    pub fn from_user<'a>(&'a self, campaign: &'a CallerId) -> &'a CallerId {
        self.from_user.as_ref().unwrap_or(campaign)
    }

    /// The From display name towards this trunk.
    pub fn from_display(&self) -> Option<&DisplayName> {
        self.from_display.as_ref()
    }

    /// The P-Asserted-Identity user, given the From user.
    pub fn asserted_identity<'a>(&'a self, from: &'a CallerId) -> Option<&'a CallerId> {
        match &self.asserted {
            None => None,
            Some(None) => Some(from),
            Some(Some(u)) => Some(u),
        }
    }

    /// Marks the trunk out of service after a timeout or 503; returns true if it was in service.
    pub fn mark_down(&mut self, now: Instant) -> bool {
        let backoff = match self.health {
            Health::InService => Duration::from_secs(1),
            Health::OutOfService { backoff, .. } => (backoff * 2).min(Duration::from_secs(60)),
        };
        let was_up = self.health == Health::InService;
        self.health = Health::OutOfService {
            retry_at: now + backoff,
            backoff,
        };
        was_up
    }

    /// Marks the trunk in service; returns true if it was out of service.
    pub fn mark_up(&mut self) -> bool {
        let was_down = self.health != Health::InService;
        self.health = Health::InService;
        was_down
    }

    /// Ping interval while in service (`None` when pings are disabled).
    pub fn ping_interval(&self) -> Option<Duration> {
        let d = self
            .config
            .ping_interval
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(30));
        (!d.is_zero()).then_some(d)
    }
}

/// Runtime state of one group.
#[derive(Debug)]
pub struct Group {
    /// Name.
    pub name: String,
    /// Strategy.
    pub strategy: Strategy,
    /// Indices into the trunk table, in config order.
    pub trunks: Vec<usize>,
    /// Next start position for round robin.
    pub next: usize,
}

/// All trunks and groups of an endpoint. The fields are private: channels and CPS are taken
/// and given back only through [`TrunkSet::take`] and [`Trunk::release`], so the limits hold.
#[derive(Debug, Default)]
pub struct TrunkSet {
    /// Trunks by index.
    trunks: Vec<Trunk>,
    /// Groups by index.
    groups: Vec<Group>,
}

impl TrunkSet {
    /// Builds the runtime tables from a config (validated here too).
    pub fn new(cfg: &TrunksConfig) -> Result<Self, TrunkConfigError> {
        cfg.validate()?;
        let trunks = cfg
            .trunks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Trunk::new(t.clone()).ok_or_else(|| TrunkConfigError::Address(i, t.address.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let groups = cfg
            .groups
            .iter()
            .map(|g| Group {
                name: g.name.clone(),
                strategy: g.strategy,
                trunks: g
                    .trunks
                    .iter()
                    .filter_map(|n| cfg.trunks.iter().position(|t| &t.name == n))
                    .collect(),
                next: 0,
            })
            .collect();
        Ok(TrunkSet { trunks, groups })
    }

    /// Every trunk, by index.
    pub fn all(&self) -> &[Trunk] {
        &self.trunks
    }

    /// Number of trunks.
    pub fn len(&self) -> usize {
        self.trunks.len()
    }

    /// True when there is no trunk.
    pub fn is_empty(&self) -> bool {
        self.trunks.is_empty()
    }

    /// Trunk `t` (an index from this set; panics on any other).
    pub fn trunk(&self, t: usize) -> &Trunk {
        &self.trunks[t]
    }

    /// Trunk `t`, to mark its health or release a channel (an index from this set).
    pub fn trunk_mut(&mut self, t: usize) -> &mut Trunk {
        &mut self.trunks[t]
    }

    /// Every group, by index.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The IP addresses trunks send from: their address and outbound proxy.
    pub fn source_ips(&self) -> impl Iterator<Item = std::net::IpAddr> + '_ {
        self.trunks
            .iter()
            .flat_map(|t| std::iter::once(t.addr.ip()).chain(t.proxy.map(|p| p.ip())))
    }

    /// The trunk a request from `from` comes from: the one at exactly that address, else one
    /// at that IP (a trunk may send from another port than the one it listens on, e.g. TCP).
    pub fn by_source(&self, from: std::net::SocketAddr) -> Option<&Trunk> {
        (self.trunks.iter().find(|t| t.addr == from))
            .or_else(|| self.trunks.iter().find(|t| t.addr.ip() == from.ip()))
    }

    /// The media mode of group `g` (its trunks share one; `Anchor` for an unknown group).
    pub fn group_media(&self, g: usize) -> MediaMode {
        self.groups
            .get(g)
            .and_then(|gr| gr.trunks.first())
            .and_then(|t| self.trunks.get(*t))
            .map(|t| t.config.media)
            .unwrap_or_default()
    }

    /// Index of the group named `name`.
    pub fn group(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.name == name)
    }

    /// Calls group `g` may start right now (sum of trunk headroom).
    pub fn available(&mut self, g: usize, now: Instant) -> u32 {
        let Some(group) = self.groups.get(g) else {
            return 0;
        };
        let idx = group.trunks.clone();
        idx.into_iter().map(|t| self.trunks[t].headroom(now)).sum()
    }

    /// Free channels of group `g` (in-service trunks only), ignoring the CPS window.
    pub fn free_channels(&self, g: usize) -> u32 {
        self.groups
            .get(g)
            .map(|gr| {
                gr.trunks
                    .iter()
                    .map(|t| self.trunks[*t].free_channels())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Picks and takes a trunk of group `g` not in `tried`, honouring the strategy and limits.
    pub fn take(&mut self, g: usize, tried: &[usize], now: Instant) -> Option<usize> {
        let group = self.groups.get_mut(g)?;
        let n = group.trunks.len();
        let start = match group.strategy {
            Strategy::Ordered => 0,
            Strategy::RoundRobin => group.next % n,
        };
        for k in 0..n {
            let t = group.trunks[(start + k) % n];
            if tried.contains(&t) {
                continue;
            }
            if self.trunks[t].try_take(now) {
                if let Some(gr) = self.groups.get_mut(g) {
                    gr.next = (start + k + 1) % n;
                }
                return Some(t);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> TrunksConfig {
        TrunksConfig::from_yaml(
            "trunks.yaml",
            "trunks:\n  - name: a\n    address: 127.0.0.1:5060\n    max_channels: 2\n    max_cps: 3\n    prefix: { strip: \"+33\", add: \"0\" }\n  - name: b\n    address: sip:127.0.0.1:5062\n    max_channels: 10\n    max_cps: 10\ngroups:\n  - name: g\n    trunks: [a, b]\n  - name: rr\n    strategy: round_robin\n    trunks: [a, b]\n",
        )
        .unwrap()
    }

    #[test]
    fn media_mode_is_per_trunk_and_a_group_shares_one() {
        let base = "trunks:\n  - {name: a, address: 127.0.0.1:5060, max_channels: 1, max_cps: 1}\n  - {name: b, address: 127.0.0.1:5062, max_channels: 1, max_cps: 1, media: flow-i}\n";
        let mixed = format!("{base}groups:\n  - {{name: g, trunks: [a, b]}}\n");
        let err = TrunksConfig::from_yaml("t.yaml", &mixed).expect_err("mixed group");
        assert!(err.to_string().contains("\"b\""), "names the trunk: {err}");
        let split =
            format!("{base}groups:\n  - {{name: g, trunks: [a]}}\n  - {{name: h, trunks: [b]}}\n");
        let cfg = TrunksConfig::from_yaml("t.yaml", &split).expect("one mode per group");
        assert_eq!(
            cfg.trunks[0].media,
            MediaMode::Anchor,
            "anchor is the default"
        );
        let set = TrunkSet::new(&cfg).expect("valid");
        assert_eq!(set.group_media(1), MediaMode::FlowI);
        let bad = base.replace("flow-i", "flow_i");
        assert!(TrunksConfig::from_yaml("t.yaml", &format!("{bad}groups: []\n")).is_err());
    }

    #[test]
    fn limits_are_never_exceeded() {
        let mut s = TrunkSet::new(&cfg()).unwrap();
        let t0 = Instant::now();
        let g = s.group("g").unwrap();
        assert_eq!(s.take(g, &[], t0), Some(0));
        assert_eq!(s.take(g, &[], t0), Some(0));
        // a is full (2 channels): b takes over.
        assert_eq!(s.take(g, &[], t0), Some(1));
        s.trunks[0].release();
        s.trunks[0].release();
        // a has channels again but has used... 2 of 3 cps in this second.
        assert_eq!(s.trunks[0].headroom(t0), 1);
        assert!(s.trunks[0].try_take(t0));
        s.trunks[0].release();
        assert_eq!(s.trunks[0].headroom(t0 + Duration::from_millis(999)), 0);
        assert_eq!(s.trunks[0].headroom(t0 + Duration::from_secs(1)), 2);
    }

    #[test]
    fn round_robin_rotates_and_prefix_applies() {
        let mut s = TrunkSet::new(&cfg()).unwrap();
        let t0 = Instant::now();
        let g = s.group("rr").unwrap();
        let a = s.take(g, &[], t0).unwrap();
        let b = s.take(g, &[], t0).unwrap();
        assert_ne!(a, b);
        let n = E164::new("+33612345678").unwrap();
        assert_eq!(s.trunks[0].dial_string(&n), "0612345678");
        assert_eq!(s.trunks[1].dial_string(&n), "+33612345678");
    }

    #[test]
    fn bad_config_names_the_field() {
        let e = TrunksConfig::from_yaml(
            "t.yaml",
            "trunks:\n  - name: a\n    address: nowhere\n    max_channels: 1\n    max_cps: 1\ngroups: []\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("t.yaml:3") && e.contains("address"), "{e}");
        let e = TrunksConfig::from_yaml("t.yaml", "trunks: []\ngroups: []\nextra: 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("extra"), "{e}");
    }

    #[test]
    fn health_backs_off() {
        let mut s = TrunkSet::new(&cfg()).unwrap();
        let t0 = Instant::now();
        assert!(s.trunks[0].mark_down(t0));
        assert_eq!(s.trunks[0].free_channels(), 0);
        assert!(!s.trunks[0].mark_down(t0));
        match s.trunks[0].health {
            Health::OutOfService { backoff, .. } => assert_eq!(backoff, Duration::from_secs(2)),
            _ => panic!("should be down"),
        }
        assert!(s.trunks[0].mark_up());
    }
}
