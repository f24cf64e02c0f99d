//! The harness's scripted media side: it keeps the legs the engine opens (leg → port),
//! records every [`MediaCommand`] for assertions, reports a closed leg's figures and a
//! prompt's end after the prompt's length. Tests inject anything else (DTMF, RTP timeouts)
//! through [`World::inject_media`](super::World::inject_media). No socket, no RTP.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::cpa::{CpaEvent, Phase};
use crate::media::io::{LegId, LegStats, MediaCommand, MediaEvent};

/// What call-progress analysis reports for the customer of (campaign, lead) when its leg is
/// analysed in a phase: events, each after its delay from the `Analyse` command.
pub struct CpaScript(pub Box<CpaScriptFn>);

/// The function behind a [`CpaScript`]: (campaign, lead, phase) → events with their delays.
pub type CpaScriptFn = dyn FnMut(&str, i64, Phase) -> Vec<(Duration, CpaEvent)>;

impl std::fmt::Debug for CpaScript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CpaScript")
    }
}

/// The scripted media side.
#[derive(Debug)]
pub struct ScriptedMedia {
    /// Call-progress analysis's answers (none: an `Analyse` reports nothing).
    pub cpa: Option<CpaScript>,
    /// Every command, in order.
    pub commands: Vec<(Instant, MediaCommand)>,
    /// Legs open now: leg → local port.
    pub open: BTreeMap<LegId, u16>,
    /// Most legs open at once.
    pub max_open: usize,
    /// The figures a closed leg reports.
    pub stats: LegStats,
    /// Ports some other program holds: opening a leg on one reports
    /// [`MediaEvent::OpenFailed`].
    pub taken: BTreeSet<u16>,
    /// How long after the `Open` a taken port's failure is reported (the media shell's
    /// workers report it when they get to the command: usually at once, later under load).
    pub fail_after: Duration,
}

impl Default for ScriptedMedia {
    fn default() -> Self {
        ScriptedMedia {
            cpa: None,
            commands: Vec::new(),
            open: BTreeMap::new(),
            max_open: 0,
            stats: LegStats {
                packets_in: 1_500,
                packets_out: 1_490,
                loss_pct: 0.5,
                jitter_ms: 3.0,
                mos: 4.3,
            },
            taken: BTreeSet::new(),
            fail_after: Duration::from_millis(1),
        }
    }
}

impl ScriptedMedia {
    /// Carries out `cmd`: the events to feed back, each with its delay.
    pub fn apply(&mut self, now: Instant, cmd: MediaCommand) -> Vec<(Duration, MediaEvent)> {
        self.commands.push((now, cmd.clone()));
        match cmd {
            MediaCommand::Open {
                leg, local_port, ..
            } if self.taken.contains(&local_port) => vec![(
                self.fail_after,
                MediaEvent::OpenFailed {
                    leg,
                    port: local_port,
                    reason: format!("port {local_port} is in use"),
                },
            )],
            MediaCommand::Open {
                leg, local_port, ..
            } => {
                self.open.insert(leg, local_port);
                self.max_open = self.max_open.max(self.open.len());
                Vec::new()
            }
            MediaCommand::Close { leg } => match self.open.remove(&leg) {
                Some(_) => vec![(
                    Duration::from_millis(5),
                    MediaEvent::Closed {
                        leg,
                        stats: self.stats,
                    },
                )],
                None => Vec::new(),
            },
            MediaCommand::Play { leg, prompt } => {
                let ms = prompt.0.len() as u64 / 8;
                vec![(Duration::from_millis(ms), MediaEvent::PromptDone { leg })]
            }
            _ => Vec::new(),
        }
    }

    /// The scripted analysis of `leg` (the customer of `lead` of `campaign`) in `phase`.
    pub fn analyse(
        &mut self,
        leg: LegId,
        campaign: &str,
        lead: i64,
        phase: Phase,
    ) -> Vec<(Duration, MediaEvent)> {
        let Some(script) = self.cpa.as_mut() else {
            return Vec::new();
        };
        (script.0)(campaign, lead, phase)
            .into_iter()
            .map(|(after, event)| (after, MediaEvent::Cpa { leg, event }))
            .collect()
    }

    /// The port of an open leg.
    pub fn port_of(&self, leg: LegId) -> Option<u16> {
        self.open.get(&leg).copied()
    }

    /// Commands matching `f`.
    pub fn count(&self, f: impl Fn(&MediaCommand) -> bool) -> usize {
        self.commands.iter().filter(|(_, c)| f(c)).count()
    }
}
