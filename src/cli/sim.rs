//! `outdial sim`: run strategies side by side on the simulator, single-campaign scenarios on
//! its own event loop, multi-campaign ones (a `campaigns:` list) through the engine core.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use outdial::sim::multi::{is_multi, MultiScenario};
use outdial::sim::{self, RunOptions, Scenario, SimReport};

/// Arguments of `outdial sim` (the two scenario forms: see the command's help in main.rs).
#[derive(Args, Debug)]
pub struct SimArgs {
    /// Scenario YAML file (see sim/).
    pub scenario: PathBuf,
    /// Strategy to run (repeatable; overrides the scenario's list): preview, progressive,
    /// power:R, predictive, adaptive, rate:L (rate:L: single-campaign scenarios only).
    #[arg(long = "strategy")]
    pub strategies: Vec<String>,
    /// Random seed (overrides the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Write an SVG plot of occupancy, abandon rate and dial level over time.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// Runs the simulator.
pub fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    let text = outdial::yaml::read(&args.scenario)?;
    if is_multi(&text) {
        return run_multi(args, &text);
    }
    let scenario = Scenario::load(&args.scenario)?;
    let strategies = if args.strategies.is_empty() {
        scenario.strategies.clone()
    } else {
        args.strategies.clone()
    };
    for s in &strategies {
        s.parse::<outdial::pacing::Mode>()?;
    }
    let seed = args.seed.unwrap_or(scenario.seed);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let progress = Arc::new(AtomicU64::new(0));
    let opts = RunOptions {
        trace_outcomes: 0,
        samples: if args.plot.is_some() { 240 } else { 0 },
        progress: Some(progress.clone()),
        ..RunOptions::default()
    };
    let total = scenario.duration.0.as_millis() as u64 * strategies.len().max(1) as u64;
    let report = with_progress(&progress, total, || {
        sim::run(&scenario, &strategies, seed, threads, &opts)
    })?;
    if let Some(path) = &args.plot {
        plot(&report, &scenario, path)
            .with_context(|| format!("{}: cannot write plot", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_table(&report, &scenario);
    }
    Ok(ExitCode::SUCCESS)
}

/// `outdial sim` on a multi-campaign scenario (`text` is the file's).
fn run_multi(args: SimArgs, text: &str) -> anyhow::Result<ExitCode> {
    let file = args.scenario.display().to_string();
    let scenario = MultiScenario::parse(&file, text)?;
    let strategies = if args.strategies.is_empty() {
        scenario.strategies.clone()
    } else {
        args.strategies.clone()
    };
    for s in &strategies {
        scenario
            .check_strategy(s)
            .map_err(|e| anyhow::anyhow!("--strategy {s}: {e}"))?;
    }
    if args.plot.is_some() {
        anyhow::bail!("--plot is for single-campaign scenarios");
    }
    let seed = args.seed.unwrap_or(scenario.seed);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let progress = Arc::new(AtomicU64::new(0));
    let opts = RunOptions {
        progress: Some(progress.clone()),
        ..RunOptions::default()
    };
    let total = scenario.duration.0.as_millis() as u64 * strategies.len().max(1) as u64;
    let report = with_progress(&progress, total, || {
        sim::run_multi(&scenario, &strategies, seed, threads, &opts)
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_multi_table(&report, &scenario);
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `work` on a thread while a progress bar follows `progress` towards `total`.
fn with_progress<T: Send>(
    progress: &AtomicU64,
    total: u64,
    work: impl FnOnce() -> Result<T, sim::SimError> + Send,
) -> anyhow::Result<T> {
    let r = std::thread::scope(|scope| {
        let worker = scope.spawn(work);
        show_progress(progress, total, &worker);
        worker.join()
    })
    .map_err(|panic| {
        // A bug, not bad input (scenarios are bounded): say what it was.
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        anyhow::anyhow!("the simulator crashed (a bug: please report it): {what}")
    })??;
    Ok(r)
}

/// A progress bar on a terminal, shown only once the run has taken more than a second.
fn show_progress<T>(
    progress: &AtomicU64,
    total: u64,
    worker: &std::thread::ScopedJoinHandle<'_, T>,
) {
    if !std::io::stderr().is_terminal() {
        return;
    }
    let start = std::time::Instant::now();
    let mut bar: Option<indicatif::ProgressBar> = None;
    while !worker.is_finished() {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if bar.is_none() && start.elapsed().as_secs_f64() > 1.0 {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {percent:>3}% simulated, eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position(progress.load(Ordering::Relaxed).min(total));
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}

fn print_table(r: &SimReport, sc: &Scenario) {
    println!(
        "scenario {} (seed {}), {} agents, {} simulated, target abandon {:.1} %",
        r.scenario,
        r.seed,
        sc.agents,
        sc.duration,
        sc.target_abandon * 100.0
    );
    print_rows(r);
}

/// The table of a multi-campaign run: the totals, then one line per campaign and strategy.
fn print_multi_table(r: &SimReport, sc: &MultiScenario) {
    println!(
        "scenario {} (seed {}), {} agents, {} campaigns, {} simulated",
        r.scenario,
        r.seed,
        sc.agent_count(),
        sc.campaigns.len(),
        sc.duration,
    );
    print_rows(r);
    println!();
    println!(
        "{:<14} {:<22} {:<12} {:>7} {:>7} {:>7} {:>8} {:>8} {:>7} {:>7}",
        "strategy",
        "campaign",
        "mode",
        "dials",
        "live",
        "abandon",
        "abandon%",
        "target%",
        "SLA%",
        "wait_s"
    );
    for x in &r.results {
        for c in &x.campaigns {
            let target = sc
                .campaigns
                .iter()
                .find(|s| s.name == c.campaign)
                .map_or(0.0, |s| s.target_abandon);
            println!(
                "{:<14} {:<22} {:<12} {:>7} {:>7} {:>7} {:>8.2} {:>8.1} {:>7} {:>7.3}",
                x.strategy,
                c.campaign,
                c.mode,
                c.dials,
                c.live_answers,
                c.abandoned,
                c.abandon_rate * 100.0,
                target * 100.0,
                c.sla_met
                    .map_or("-".to_string(), |s| format!("{:.1}", s * 100.0)),
                c.mean_wait_s,
            );
        }
    }
}

/// The strategy lines: the figures of the whole run.
fn print_rows(r: &SimReport) {
    println!(
        "{:<14} {:>9} {:>8} {:>7} {:>8} {:>9} {:>6} {:>8} {:>8} {:>9} {:>8} {:>10} {:>7}",
        "strategy",
        "dials",
        "live",
        "abandon",
        "abandon%",
        "occupancy",
        "talk%",
        "wait_s",
        "p95_s",
        "inbound",
        "in_SL%",
        "events",
        "wall_s"
    );
    for x in &r.results {
        println!(
            "{:<14} {:>9} {:>8} {:>7} {:>8.2} {:>9.2} {:>6.1} {:>8.3} {:>8.3} {:>9} {:>8} {:>10} {:>7.2}",
            x.strategy,
            x.dials,
            x.live_answers,
            x.abandoned,
            x.abandon_rate * 100.0,
            x.occupancy * 100.0,
            x.talk_share * 100.0,
            x.mean_wait_s,
            x.p95_wait_s,
            x.inbound_calls,
            x.inbound_service_level
                .map_or("-".to_string(), |s| format!("{:.1}", s * 100.0)),
            x.events,
            x.wall_s
        );
    }
    if r.results.iter().any(|x| x.without_analysis.is_some()) {
        // Call-progress analysis: its cost in time to connect, and the people it hung up on.
        println!();
        println!(
            "{:<14} {:>10} {:>11} {:>8} {:>8} {:>9} {:>11} {:>12}",
            "strategy",
            "ttc_s",
            "ttc_no_cpa",
            "amd_fp",
            "est_fp",
            "abandon%",
            "abandon%_no",
            "occupancy_no"
        );
        for x in &r.results {
            if let Some(w) = &x.without_analysis {
                println!(
                    "{:<14} {:>10.3} {:>11.3} {:>8} {:>8.1} {:>9.2} {:>11.2} {:>12.2}",
                    x.strategy,
                    x.time_to_connect_s,
                    w.time_to_connect_s,
                    x.amd_false_positives,
                    x.estimated_false_positives,
                    x.abandon_rate * 100.0,
                    w.abandon_rate * 100.0,
                    w.occupancy * 100.0
                );
            }
        }
    }
}

/// A plot panel: title, minimum top of the y axis, and the value plotted.
type Panel = (&'static str, f64, fn(&sim::Sample) -> f64);

fn plot(r: &SimReport, sc: &Scenario, path: &Path) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (1000, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((3, 1));
    let hours = sc.duration.secs_f64() / 3600.0;
    let colours = [&BLUE, &RED, &GREEN, &MAGENTA, &CYAN, &BLACK];
    let panels: [Panel; 3] = [
        ("occupancy (%)", 100.0, |s| s.occupancy * 100.0),
        ("abandon rate since warm-up (%)", 0.0, |s| {
            s.abandon_rate * 100.0
        }),
        ("dial level (lines per active agent)", 0.0, |s| s.dial_level),
    ];
    for (area, (title, fixed_top, f)) in areas.iter().zip(panels) {
        let top = r
            .results
            .iter()
            .flat_map(|x| x.series.iter().map(f))
            .fold(fixed_top, f64::max)
            .max(1e-6)
            * 1.05;
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{} — {}", r.scenario, title), ("sans-serif", 18))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..hours, 0.0..top)?;
        chart.configure_mesh().x_desc("hours").draw()?;
        for (i, x) in r.results.iter().enumerate() {
            let c = colours[i % colours.len()];
            chart
                .draw_series(LineSeries::new(
                    x.series.iter().map(|s| (s.t_s / 3600.0, f(s))),
                    c,
                ))?
                .label(x.strategy.clone())
                .legend(move |(x0, y0)| PathElement::new(vec![(x0, y0), (x0 + 20, y0)], c));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
