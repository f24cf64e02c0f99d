//! `outdial pacing …`, `outdial agents` and `outdial campaign pause|resume`: clients of a running
//! engine's admin API. Errors from the engine (400, 401, 404, …) reach the user as one line
//! (`engine answered 400 Bad Request: ratio must be in [1, 5], got 0.5`) and exit non-zero.

use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgGroup, Args, Subcommand};
use outdial::admin::validate::DispositionWire;
use outdial::admin::{
    AgentAction, AgentCounts, AgentView, CampaignView, Client, PacingRequest, PacingUpdate,
    WrapUpCode,
};

/// Where the running engine is and how to authenticate.
#[derive(Args, Debug)]
pub struct EngineArgs {
    /// Admin API of the running engine.
    #[arg(
        long,
        global = true,
        env = "OUTDIAL_ENGINE",
        default_value = "http://127.0.0.1:8089"
    )]
    pub engine: String,
    /// Bearer token (from the engine config's `admin.tokens`).
    #[arg(long, global = true, env = "OUTDIAL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl EngineArgs {
    fn client(&self) -> anyhow::Result<Client> {
        let token = self
            .token
            .as_deref()
            .filter(|t| !t.is_empty())
            .context("no admin token: pass --token or set OUTDIAL_TOKEN")?;
        Ok(Client::new(&self.engine, token)?)
    }
}

/// Pacing subcommands.
#[derive(Subcommand, Debug)]
pub enum PacingCmd {
    /// Show a campaign's pacing and live figures.
    Show {
        /// Campaign name.
        campaign: String,
        /// Print the engine's JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Change a campaign's pacing (effective within one pacing tick; audited with the token's name).
    #[command(group(ArgGroup::new("change").required(true).multiple(true)))]
    Set {
        /// Campaign name.
        campaign: String,
        /// Dial mode: preview, progressive, power, power:R, predictive, adaptive, rate:λ.
        #[arg(long, group = "change")]
        mode: Option<String>,
        /// Lines per ready agent for power mode (≥ 1).
        #[arg(long, group = "change")]
        ratio: Option<f64>,
        /// Upper bound of the dial level (≥ 1).
        #[arg(long, group = "change")]
        max_ratio: Option<f64>,
        /// Abandon rate to stay under, in (0, 0.2], e.g. 0.03.
        #[arg(long, group = "change")]
        target_abandon: Option<f64>,
        /// Print the engine's JSON (old and new settings).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        engine: EngineArgs,
    },
}

/// Arguments of `outdial agents`: lists the agents, or with a subcommand acts for one (what
/// its softphone or agent desktop would do over the API).
#[derive(Args, Debug)]
pub struct AgentsArgs {
    #[command(subcommand)]
    action: Option<AgentCmd>,
    /// Print the engine's JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

/// `outdial agents …` subcommands.
#[derive(Subcommand, Debug)]
pub enum AgentCmd {
    /// End AGENT's wrap-up with the call's disposition: callback (with --at), not_interested,
    /// do_not_call, completed, machine, or a code of your own (lowercase letters, digits, _ and
    /// -). `machine`: the call was voicemail that call-progress analysis passed as a person;
    /// it is recorded as `machine` and counts toward the campaign's measured AMD
    /// false-positive rate.
    Wrapup {
        /// Agent id (as `outdial agents` lists it).
        agent: String,
        /// The call's disposition.
        disposition: String,
        /// For `callback`: when to call back (RFC 3339, or a duration from now such as 2h).
        #[arg(long)]
        at: Option<String>,
    },
    /// Log AGENT in.
    Login {
        /// Agent id.
        agent: String,
    },
    /// Make AGENT ready for calls.
    Ready {
        /// Agent id.
        agent: String,
    },
    /// Pause AGENT.
    Pause {
        /// Agent id.
        agent: String,
        /// Why (break, training, …).
        #[arg(long, default_value = "break")]
        reason: String,
    },
    /// Log AGENT out.
    Logout {
        /// Agent id.
        agent: String,
    },
}

/// The disposition of `outdial agents wrapup`, checked as the API checks it.
fn wrap_up_code(disposition: &str, at: Option<&str>, now_ms: i64) -> anyhow::Result<WrapUpCode> {
    let at_ms = at
        .map(|raw| {
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw.trim()) {
                return Ok(t.timestamp_millis());
            }
            humantime::parse_duration(raw.trim())
                .map(|d| now_ms.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
                .map_err(|_| {
                    anyhow::anyhow!("--at: {raw:?} is neither an RFC 3339 time nor a duration")
                })
        })
        .transpose()?;
    let wire = DispositionWire {
        disposition: disposition.to_string(),
        at_ms,
        ..DispositionWire::default()
    };
    WrapUpCode::try_from(wire).map_err(|e| anyhow::anyhow!("disposition: {e}"))
}

/// Arguments of `outdial campaign pause|resume CAMPAIGN` (wired into the `campaign` subcommand).
#[derive(Args, Debug)]
pub struct CampaignControlArgs {
    /// Campaign name.
    pub campaign: String,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Runs a pacing subcommand.
pub fn pacing(cmd: PacingCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        PacingCmd::Show {
            campaign,
            json,
            engine,
        } => {
            let client = engine.client()?;
            let view = super::runtime()?.block_on(client.campaign(&campaign))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&view)?);
            } else {
                print!("{}", show_campaign(&view));
            }
        }
        PacingCmd::Set {
            campaign,
            mode,
            ratio,
            max_ratio,
            target_abandon,
            json,
            engine,
        } => {
            let client = engine.client()?;
            let change = PacingRequest {
                mode,
                ratio,
                max_ratio,
                target_abandon,
            };
            let update = super::runtime()?.block_on(client.set_pacing(&campaign, &change))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&update)?);
            } else {
                println!("{}", show_update(&update));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists agents, or acts for one.
pub fn agents(args: AgentsArgs) -> anyhow::Result<ExitCode> {
    if let Some(cmd) = args.action {
        let (agent, action) = match cmd {
            AgentCmd::Wrapup {
                agent,
                disposition,
                at,
            } => {
                let now_ms = chrono::Utc::now().timestamp_millis();
                let disposition = wrap_up_code(&disposition, at.as_deref(), now_ms)?;
                let note = None;
                (agent, AgentAction::WrapUp { disposition, note })
            }
            AgentCmd::Login { agent } => (agent, AgentAction::Login),
            AgentCmd::Ready { agent } => (agent, AgentAction::Ready),
            AgentCmd::Pause { agent, reason } => (agent, AgentAction::Pause { reason }),
            AgentCmd::Logout { agent } => (agent, AgentAction::Logout),
        };
        let client = args.engine.client()?;
        let view = super::runtime()?.block_on(client.agent_action(&agent, &action))?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&view)?);
        } else {
            print!("{}", show_agents(std::slice::from_ref(&view)));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let client = args.engine.client()?;
    let agents = super::runtime()?.block_on(client.agents())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&agents)?);
    } else {
        print!("{}", show_agents(&agents));
    }
    Ok(ExitCode::SUCCESS)
}

/// `outdial campaign pause CAMPAIGN`: no new dials; calls in progress finish.
pub fn pause(args: CampaignControlArgs) -> anyhow::Result<ExitCode> {
    set_paused(args, true)
}

/// `outdial campaign resume CAMPAIGN`.
pub fn resume(args: CampaignControlArgs) -> anyhow::Result<ExitCode> {
    set_paused(args, false)
}

fn set_paused(args: CampaignControlArgs, paused: bool) -> anyhow::Result<ExitCode> {
    let client = args.engine.client()?;
    let update = super::runtime()?.block_on(client.set_paused(&args.campaign, paused))?;
    let state = |p: bool| if p { "paused" } else { "running" };
    if update.was_paused == update.paused {
        println!("{}: already {}", update.campaign, state(update.paused));
    } else {
        println!(
            "{}: {} → {}",
            update.campaign,
            state(update.was_paused),
            state(update.paused)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |x| format!("{:.2} %", x * 100.0))
}

fn show_counts(a: &AgentCounts) -> String {
    format!(
        "ready {}, reserved {}, talking {}, wrap_up {}, paused {}, logged_out {}",
        a.ready, a.reserved, a.talking, a.wrap_up, a.paused, a.logged_out
    )
}

fn show_campaign(v: &CampaignView) -> String {
    let rows = [
        ("campaign", v.name.clone()),
        ("state", if v.paused { "paused" } else { "running" }.into()),
        ("mode", v.pacing.mode.to_string()),
        ("ratio", v.pacing.ratio.to_string()),
        ("max_ratio", v.pacing.max_ratio.to_string()),
        ("target_abandon", v.pacing.target_abandon.to_string()),
        ("dial_level", format!("{:.2}", v.dial_level)),
        ("calls_in_flight", v.calls_in_flight.to_string()),
        (
            "abandon_rate",
            format!(
                "run {}, 24h {}, 30d {}",
                pct(v.abandon_rate.run),
                pct(v.abandon_rate.last_24h),
                pct(v.abandon_rate.last_30d)
            ),
        ),
        (
            "abandon+amd_fp",
            if v.abandon_parts.analysis {
                format!(
                    "run {}: {} abandoned + {:.1} estimated AMD false positives ({} machine verdicts × {:.2} % {}, {} agent marks)",
                    pct(v.abandon_parts.rate),
                    v.abandon_parts.abandoned,
                    v.abandon_parts.estimated_false_positives,
                    v.abandon_parts.machine_verdicts,
                    v.abandon_parts.fp_rate * 100.0,
                    v.abandon_parts.fp_source,
                    v.abandon_parts.machine_marks
                )
            } else {
                // Nobody is hung up on as a machine without analysis: no estimate to add.
                format!(
                    "run {}: {} abandoned; no call-progress analysis, no AMD false positives",
                    pct(v.abandon_parts.rate),
                    v.abandon_parts.abandoned
                )
            },
        ),
        (
            "analysis",
            v.abandon_parts.analysis_delay_s.map_or_else(
                || "off".to_string(),
                |s| format!("on, planned delay {s:.2} s"),
            ),
        ),
        ("occupancy", pct(v.occupancy)),
        ("agents", show_counts(&v.agents)),
    ];
    rows.iter().map(|(k, v)| format!("{k:<16}{v}\n")).collect()
}

fn show_update(u: &PacingUpdate) -> String {
    let fields = outdial::admin::validate::changed_fields(&u.old, &u.new);
    if fields.is_empty() {
        return format!("{}: nothing changed", u.campaign);
    }
    let changes: Vec<String> = fields
        .iter()
        .map(|(f, o, n)| format!("{f} {o} → {n}"))
        .collect();
    format!("{}: {}", u.campaign, changes.join(", "))
}

fn show_agents(agents: &[AgentView]) -> String {
    let header = [
        "id",
        "state",
        "campaign/lead",
        "group",
        "skills",
        "reason",
        "uri",
    ];
    let rows: Vec<[String; 7]> = agents
        .iter()
        .map(|a| {
            let call = match (&a.campaign, a.lead) {
                (Some(c), Some(l)) => format!("{c}/{l}"),
                (Some(c), None) => c.clone(),
                _ => "-".into(),
            };
            [
                a.id.clone(),
                a.state.as_str().to_string(),
                call,
                a.group.clone().unwrap_or_else(|| "-".into()),
                a.skills.join(","),
                a.pause_reason.clone().unwrap_or_else(|| "-".into()),
                a.uri.clone(),
            ]
        })
        .collect();
    table(&header, &rows)
}

/// A plain-text table: each column as wide as its widest cell (in terminal columns), two spaces
/// between columns, the last column unpadded. Control characters in cells are escaped.
fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    use unicode_width::UnicodeWidthStr;
    let rows: Vec<[String; N]> = rows
        .iter()
        .map(|r| std::array::from_fn(|i| outdial::export::screen_text(&r[i]).into_owned()))
        .collect();
    let mut widths = header.map(UnicodeWidthStr::width);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.width());
        }
    }
    let line = |cells: [&str; N]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < N {
                let pad = widths[i] - cell.width() + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(*header);
    for r in &rows {
        out.push_str(&line(std::array::from_fn(|i| r[i].as_str())));
    }
    out
}
