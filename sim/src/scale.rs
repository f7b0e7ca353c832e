//! The figures of the scaling benchmark (`cargo bench -p joinsim-sim --bench scale`, issue "Speed
//! and scale"): its arguments, the line a measuring child process prints per run, one table row
//! per cluster size, and the growth exponents between sizes.
//!
//! The bench measures the canonical demo (`joinsim demo --nodes K`: K nodes start, init, all join,
//! then one more node joins) for each size K. Each size is measured in a child process of its own
//! (the bench re-executes itself with `--one-size K`), so that the peak memory it prints belongs
//! to that size alone. The child runs seeds 0, 1, 2, ... until its wall-time budget has passed or
//! it made its most runs (at least one run), printing one [`RunFigures`] line per run and a
//! [`ChildDone`] line at the end. The parent kills a child whose run takes longer than the cap,
//! prints that size as over budget, and skips the larger sizes. Nothing here asserts anything
//! about time: the figures are printed for a reader.

use std::fmt::Write as _;

use crate::limits;

/// The sizes measured when none are given: the issue's list.
pub const DEFAULT_SIZES: [usize; 10] = [1, 3, 5, 9, 20, 50, 100, 200, 500, 1000];
/// Wall seconds of runs per size when `--budget-s` is not given.
pub const DEFAULT_BUDGET_S: f64 = 2.0;
/// The most runs per size when `--max-runs` is not given: enough for a steady runs/s of the
/// small sizes (1 000 runs of 1 + 1 nodes take well under a second).
pub const DEFAULT_MAX_RUNS: u64 = 1_000;
/// Wall seconds one run may take when `--cap-s` is not given; a slower run is killed.
pub const DEFAULT_CAP_S: f64 = 120.0;
/// The largest `--budget-s` and `--cap-s`: one day.
pub const MAX_SECONDS: f64 = 86_400.0;

/// What the bench was asked to do.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleArgs {
    /// Sizes to measure (initial nodes, each within [`limits::NODES`]), ascending, each once.
    pub sizes: Vec<usize>,
    /// Wall seconds of runs per size (a run that starts within it finishes), in (0, 86400].
    pub budget_s: f64,
    /// The most runs per size, within [`limits::DEMO_RUNS`].
    pub max_runs: u64,
    /// Wall seconds one run may take before its child is killed, in (0, 86400].
    pub cap_s: f64,
    /// `--one-size K`: this process is the child measuring size K.
    pub one_size: Option<usize>,
    /// `--detector all-pairs|swim`: the physical topology's failure detector (default all
    /// pairs).
    pub detector: joinsim::FailureDetector,
}

/// How to call the bench, for its error messages.
pub const USAGE: &str = "usage: cargo bench -p joinsim-sim --bench scale -- [SIZE ...] \
[--budget-s SECONDS] [--max-runs N] [--cap-s SECONDS] [--detector all-pairs|swim]";

/// Parses the bench's arguments (without the program name): sizes as bare numbers, and
/// `--budget-s S`, `--max-runs N`, `--cap-s S`, `--one-size K`, `--detector D` (each also as
/// `--flag=value`).
/// `--bench`, which `cargo bench` passes to every bench, is ignored. No size means
/// [`DEFAULT_SIZES`].
///
/// # Errors
/// A message naming the argument: an unknown flag, a flag without its value, a size that is not
/// a number or lies outside [`limits::NODES`], a number of seconds that is not positive and
/// finite or is above [`MAX_SECONDS`], runs outside [`limits::DEMO_RUNS`], or a detector other
/// than `all-pairs` and `swim`.
pub fn parse_args(args: &[String]) -> Result<ScaleArgs, String> {
    let mut parsed = ScaleArgs {
        sizes: Vec::new(),
        budget_s: DEFAULT_BUDGET_S,
        max_runs: DEFAULT_MAX_RUNS,
        cap_s: DEFAULT_CAP_S,
        one_size: None,
        detector: joinsim::FailureDetector::AllPairs,
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--bench" {
            continue;
        }
        let Some(flag) = arg.strip_prefix("--") else {
            parsed.sizes.push(size(arg)?);
            continue;
        };
        let (name, value) = match flag.split_once('=') {
            Some((name, value)) => (name, value.to_string()),
            None => {
                let value = match flag {
                    "budget-s" | "max-runs" | "cap-s" | "one-size" | "detector" => rest
                        .next()
                        .ok_or_else(|| format!("--{flag} needs a value; {USAGE}"))?,
                    _ => return Err(format!("unknown argument {arg:?}; {USAGE}")),
                };
                (flag, value.clone())
            }
        };
        match name {
            "budget-s" => parsed.budget_s = seconds("--budget-s", &value)?,
            "cap-s" => parsed.cap_s = seconds("--cap-s", &value)?,
            "max-runs" => {
                let n = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("--max-runs {value:?} is not a count"))?;
                parsed.max_runs = limits::check("--max-runs", n, &limits::DEMO_RUNS)?;
            }
            "one-size" => parsed.one_size = Some(size(&value)?),
            "detector" => {
                parsed.detector = match value.as_str() {
                    "all-pairs" => joinsim::FailureDetector::AllPairs,
                    "swim" => joinsim::FailureDetector::Swim,
                    _ => {
                        return Err(format!(
                            "--detector {value:?} is neither all-pairs nor swim; {USAGE}"
                        ))
                    }
                }
            }
            _ => return Err(format!("unknown argument {arg:?}; {USAGE}")),
        }
    }
    if parsed.sizes.is_empty() {
        parsed.sizes = DEFAULT_SIZES.to_vec();
    }
    parsed.sizes.sort_unstable();
    parsed.sizes.dedup();
    Ok(parsed)
}

/// A size: initial nodes within [`limits::NODES`].
fn size(text: &str) -> Result<usize, String> {
    let n: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("size {text:?} is not a number of nodes; {USAGE}"))?;
    limits::check("the size", n, &limits::NODES).map(|n| n as usize)
}

/// Seconds in (0, [`MAX_SECONDS`]].
fn seconds(flag: &str, text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s <= MAX_SECONDS => Ok(s),
        _ => Err(format!(
            "{flag} {text:?} is not a number of seconds in (0, {MAX_SECONDS}]"
        )),
    }
}

/// One run's figures, as a child prints them: one line starting `run `.
#[derive(Clone, Debug, PartialEq)]
pub struct RunFigures {
    /// Wall time of the run (runtime creation included), milliseconds.
    pub wall_ms: f64,
    /// Trace entries recorded.
    pub events: u64,
    /// Messages delivered.
    pub deliveries: u64,
    /// Simulated time at the end of the run, seconds.
    pub sim_s: f64,
    /// The init was answered and every node joined.
    pub joined: bool,
}

impl RunFigures {
    /// The line a child prints: `run wall_ms=W events=E deliveries=D sim_s=S joined=0|1`.
    pub fn to_line(&self) -> String {
        format!(
            "run wall_ms={} events={} deliveries={} sim_s={} joined={}",
            self.wall_ms,
            self.events,
            self.deliveries,
            self.sim_s,
            u8::from(self.joined)
        )
    }

    /// Reads a [`RunFigures::to_line`] line back; `None` for any other line.
    pub fn from_line(line: &str) -> Option<RunFigures> {
        let fields = fields(line.strip_prefix("run ")?);
        Some(RunFigures {
            wall_ms: field(&fields, "wall_ms")?,
            events: field(&fields, "events")?,
            deliveries: field(&fields, "deliveries")?,
            sim_s: field(&fields, "sim_s")?,
            joined: field::<u8>(&fields, "joined")? == 1,
        })
    }
}

/// The last line a child prints once its runs are made.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildDone {
    /// Wall seconds of all its runs, one after another.
    pub wall_s: f64,
    /// The child's peak resident memory, MiB (`None` without `/proc`).
    pub peak_mib: Option<f64>,
}

impl ChildDone {
    /// The line: `done wall_s=W peak_mib=P` (`peak_mib=none` without a figure).
    pub fn to_line(&self) -> String {
        let peak = self.peak_mib.map_or("none".to_string(), |p| p.to_string());
        format!("done wall_s={} peak_mib={peak}", self.wall_s)
    }

    /// Reads a [`ChildDone::to_line`] line back; `None` for any other line.
    pub fn from_line(line: &str) -> Option<ChildDone> {
        let fields = fields(line.strip_prefix("done ")?);
        let peak = fields.iter().find(|(k, _)| *k == "peak_mib")?.1;
        Some(ChildDone {
            wall_s: field(&fields, "wall_s")?,
            peak_mib: if peak == "none" {
                None
            } else {
                Some(peak.parse().ok()?)
            },
        })
    }
}

fn fields(text: &str) -> Vec<(&str, &str)> {
    text.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect()
}

fn field<T: std::str::FromStr>(fields: &[(&str, &str)], key: &str) -> Option<T> {
    fields.iter().find(|(k, _)| *k == key)?.1.parse().ok()
}

/// One size's figures, from its child's lines.
#[derive(Clone, Debug, PartialEq)]
pub struct SizeFigures {
    /// Runs made (at least 1).
    pub runs: u64,
    /// Runs per second of the child's wall time.
    pub runs_per_s: f64,
    /// The median run's wall time, milliseconds.
    pub median_wall_ms: f64,
    /// Mean trace entries per run.
    pub events: f64,
    /// Mean messages delivered per run.
    pub deliveries: f64,
    /// Mean simulated seconds per run.
    pub sim_s: f64,
    /// Runs in which every node joined.
    pub joined: u64,
    /// The child's peak resident memory, MiB.
    pub peak_mib: Option<f64>,
}

impl SizeFigures {
    /// The figures of `runs` (at least one) and the child's closing line; `None` without a run.
    pub fn new(runs: &[RunFigures], done: &ChildDone) -> Option<SizeFigures> {
        if runs.is_empty() {
            return None;
        }
        let n = runs.len() as f64;
        let mut walls: Vec<f64> = runs.iter().map(|r| r.wall_ms).collect();
        Some(SizeFigures {
            runs: runs.len() as u64,
            runs_per_s: n / done.wall_s.max(1e-9),
            median_wall_ms: crate::stats::median(&mut walls)?,
            events: runs.iter().map(|r| r.events as f64).sum::<f64>() / n,
            deliveries: runs.iter().map(|r| r.deliveries as f64).sum::<f64>() / n,
            sim_s: runs.iter().map(|r| r.sim_s).sum::<f64>() / n,
            joined: runs.iter().filter(|r| r.joined).count() as u64,
            peak_mib: done.peak_mib,
        })
    }

    /// Median wall milliseconds per simulated second: the cost of a fixed simulated time.
    pub fn wall_ms_per_sim_s(&self) -> f64 {
        self.median_wall_ms / self.sim_s.max(1e-9)
    }
}

/// What became of one size.
#[derive(Clone, Debug, PartialEq)]
pub enum SizeOutcome {
    /// Measured.
    Measured(SizeFigures),
    /// A run took longer than the cap (seconds); its child was killed after `runs` runs.
    OverBudget {
        /// The cap, wall seconds.
        cap_s: f64,
        /// Runs finished before the slow one.
        runs: u64,
    },
    /// The child ended without its figures (a panic, a signal): how it ended.
    Failed(String),
    /// Not measured: a smaller size was over budget.
    Skipped,
}

/// Wall time, in the unit that suits it: `0.321 ms`, `8.12 s`.
fn duration_ms(ms: f64) -> String {
    if ms < 1_000.0 {
        format!("{ms:.3} ms")
    } else {
        format!("{:.2} s", ms / 1_000.0)
    }
}

/// Runs per second, or seconds per run below one run a second: `3012`, `12.5`, `8.1 s/run`.
fn rate(runs_per_s: f64) -> String {
    if runs_per_s >= 100.0 {
        format!("{runs_per_s:.0}/s")
    } else if runs_per_s >= 1.0 {
        format!("{runs_per_s:.1}/s")
    } else {
        format!("{:.1} s/run", 1.0 / runs_per_s.max(1e-9))
    }
}

/// The table: a header and one row per size (in the order given).
pub fn format_table(rows: &[(usize, SizeOutcome)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>5} {:>5} {:>11} {:>11} {:>11} {:>11} {:>8} {:>9} {:>9}",
        "nodes",
        "runs",
        "rate",
        "median run",
        "events/run",
        "deliv./run",
        "sim s",
        "joined",
        "peak MiB"
    );
    for (nodes, outcome) in rows {
        match outcome {
            SizeOutcome::Measured(f) => {
                let peak = f.peak_mib.map_or("?".to_string(), |p| format!("{p:.1}"));
                let _ = writeln!(
                    out,
                    "{nodes:>5} {:>5} {:>11} {:>11} {:>11.0} {:>11.0} {:>8.2} {:>9} {:>9}",
                    f.runs,
                    rate(f.runs_per_s),
                    duration_ms(f.median_wall_ms),
                    f.events,
                    f.deliveries,
                    f.sim_s,
                    if f.joined == f.runs {
                        "all".to_string()
                    } else {
                        format!("{}/{}", f.joined, f.runs)
                    },
                    peak
                );
            }
            SizeOutcome::OverBudget { cap_s, runs } => {
                let _ = writeln!(
                    out,
                    "{nodes:>5} over budget: a run took more than {cap_s} s and was killed \
                     ({runs} runs finished before it)"
                );
            }
            SizeOutcome::Failed(how) => {
                let _ = writeln!(out, "{nodes:>5} failed: {how}");
            }
            SizeOutcome::Skipped => {
                let _ = writeln!(out, "{nodes:>5} skipped (a smaller size was over budget)");
            }
        }
    }
    out
}

/// `log(cost2 / cost1) / log(n2 / n1)`: the exponent `e` for which `cost ∝ n^e` between two
/// sizes. `None` unless both costs are positive and finite and `n2 != n1` (both at least 1).
pub fn growth_exponent(n1: usize, cost1: f64, n2: usize, cost2: f64) -> Option<f64> {
    let ok = |c: f64| c.is_finite() && c > 0.0;
    if !(ok(cost1) && ok(cost2)) || n1 == n2 || n1 == 0 || n2 == 0 {
        return None;
    }
    Some((cost2 / cost1).ln() / (n2 as f64 / n1 as f64).ln())
}

/// The growth exponent `n log n` itself has between `n1` and `n2`: 1 plus a little that shrinks
/// as n grows. `None` below 2 nodes (log 1 = 0).
pub fn n_log_n_exponent(n1: usize, n2: usize) -> Option<f64> {
    let cost = |n: usize| n as f64 * (n as f64).ln();
    if n1 < 2 || n2 < 2 {
        return None;
    }
    growth_exponent(n1, cost(n1), n2, cost(n2))
}

/// The growth exponents between successive measured sizes: of the median wall per run, of the
/// median wall per simulated second (the cost of a fixed simulated time, which the issue bounds
/// by n log n), and of the deliveries per run, with n log n's own exponent beside them.
pub fn format_growth(rows: &[(usize, SizeOutcome)]) -> String {
    let measured: Vec<(usize, &SizeFigures)> = rows
        .iter()
        .filter_map(|(n, o)| match o {
            SizeOutcome::Measured(f) => Some((*n, f)),
            _ => None,
        })
        .collect();
    let mut out = String::new();
    if measured.len() < 2 {
        return out;
    }
    let _ = writeln!(
        out,
        "growth exponents between sizes, log(cost2/cost1) / log(n2/n1) (1 is linear; n log n's own is the last column):"
    );
    let _ = writeln!(
        out,
        "{:>12} {:>10} {:>14} {:>11} {:>8}",
        "nodes", "wall/run", "wall/sim s", "deliv./run", "n log n"
    );
    let shown = |e: Option<f64>| e.map_or("-".to_string(), |e| format!("{e:.2}"));
    for pair in measured.windows(2) {
        let ((n1, a), (n2, b)) = (pair[0], pair[1]);
        let _ = writeln!(
            out,
            "{:>12} {:>10} {:>14} {:>11} {:>8}",
            format!("{n1} -> {n2}"),
            shown(growth_exponent(n1, a.median_wall_ms, n2, b.median_wall_ms)),
            shown(growth_exponent(
                n1,
                a.wall_ms_per_sim_s(),
                n2,
                b.wall_ms_per_sim_s()
            )),
            shown(growth_exponent(n1, a.deliveries, n2, b.deliveries)),
            shown(n_log_n_exponent(n1, n2)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Result<ScaleArgs, String> {
        let list: Vec<String> = text.split_whitespace().map(str::to_string).collect();
        parse_args(&list)
    }

    #[test]
    fn no_arguments_measure_the_issues_sizes_with_the_default_budget() {
        let parsed = args("--bench").unwrap();
        assert_eq!(parsed.sizes, DEFAULT_SIZES);
        assert_eq!(parsed.budget_s, DEFAULT_BUDGET_S);
        assert_eq!(parsed.max_runs, DEFAULT_MAX_RUNS);
        assert_eq!(parsed.cap_s, DEFAULT_CAP_S);
        assert_eq!(parsed.one_size, None);
    }

    #[test]
    fn sizes_and_flags_are_read_in_any_order() {
        let parsed = args("20 --budget-s 0.5 5 --cap-s=30 1 --max-runs 7 5 --bench").unwrap();
        assert_eq!(parsed.sizes, [1, 5, 20], "sorted, each once");
        assert_eq!(parsed.budget_s, 0.5);
        assert_eq!(parsed.cap_s, 30.0);
        assert_eq!(parsed.max_runs, 7);
        assert_eq!(args("--one-size 9").unwrap().one_size, Some(9));
        assert_eq!(
            args("--detector swim").unwrap().detector,
            joinsim::FailureDetector::Swim
        );
        assert_eq!(
            args("--detector=all-pairs").unwrap().detector,
            joinsim::FailureDetector::AllPairs
        );
        assert!(args("--detector gossip")
            .unwrap_err()
            .contains("--detector"));
        assert!(args("--detector").unwrap_err().contains("needs a value"));
        assert_eq!(args("1000").unwrap().sizes, [1000]);
    }

    #[test]
    fn bad_arguments_are_named() {
        for (text, problem) in [
            ("0", "the size = 0 is out of range: expected 1..=1000"),
            ("1001", "the size = 1001 is out of range"),
            ("x", "size \"x\" is not a number"),
            (
                "--budget-s 0",
                "--budget-s \"0\" is not a number of seconds",
            ),
            ("--budget-s -1", "--budget-s \"-1\""),
            ("--budget-s inf", "--budget-s \"inf\""),
            ("--budget-s NaN", "--budget-s \"NaN\""),
            ("--cap-s 86401", "--cap-s \"86401\""),
            ("--max-runs 0", "--max-runs = 0 is out of range"),
            ("--max-runs x", "--max-runs \"x\" is not a count"),
            ("--budget-s", "--budget-s needs a value"),
            ("--frobnicate", "unknown argument \"--frobnicate\""),
            ("--frob=1", "unknown argument \"--frob=1\""),
            ("--one-size 0", "out of range"),
        ] {
            let e = args(text).expect_err(text);
            assert!(e.contains(problem), "{text}: {e}");
        }
    }

    #[test]
    fn a_childs_lines_read_back() {
        let run = RunFigures {
            wall_ms: 8123.25,
            events: 123_456,
            deliveries: 99_000,
            sim_s: 12.5,
            joined: true,
        };
        assert_eq!(RunFigures::from_line(&run.to_line()), Some(run.clone()));
        let failed = RunFigures {
            joined: false,
            ..run
        };
        assert_eq!(RunFigures::from_line(&failed.to_line()), Some(failed));
        for done in [
            ChildDone {
                wall_s: 2.5,
                peak_mib: Some(31.75),
            },
            ChildDone {
                wall_s: 0.1,
                peak_mib: None,
            },
        ] {
            assert_eq!(ChildDone::from_line(&done.to_line()), Some(done));
        }
        assert_eq!(RunFigures::from_line("done wall_s=1 peak_mib=2"), None);
        assert_eq!(RunFigures::from_line("run wall_ms=x"), None);
        assert_eq!(ChildDone::from_line("thread 'main' panicked"), None);
    }

    fn run(wall_ms: f64, joined: bool) -> RunFigures {
        RunFigures {
            wall_ms,
            events: 100,
            deliveries: 40,
            sim_s: 2.0,
            joined,
        }
    }

    #[test]
    fn a_sizes_figures_are_medians_and_means_of_its_runs() {
        let done = ChildDone {
            wall_s: 0.5,
            peak_mib: Some(20.0),
        };
        let runs = [run(1.0, true), run(9.0, true), run(2.0, false)];
        let f = SizeFigures::new(&runs, &done).unwrap();
        assert_eq!(f.runs, 3);
        assert_eq!(f.runs_per_s, 6.0);
        assert_eq!(f.median_wall_ms, 2.0);
        assert_eq!((f.events, f.deliveries, f.sim_s), (100.0, 40.0, 2.0));
        assert_eq!(f.joined, 2);
        assert_eq!(f.wall_ms_per_sim_s(), 1.0);
        assert_eq!(SizeFigures::new(&[], &done), None);
    }

    #[test]
    fn growth_exponents_recover_a_power_law() {
        let e = growth_exponent(10, 5.0, 20, 5.0 * 8.0).unwrap();
        assert!((e - 3.0).abs() < 1e-12, "{e}");
        assert!((growth_exponent(5, 2.0, 50, 20.0).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(growth_exponent(5, 0.0, 50, 20.0), None);
        assert_eq!(growth_exponent(5, 1.0, 5, 20.0), None);
        assert_eq!(growth_exponent(5, 1.0, 50, f64::NAN), None);
        assert_eq!(n_log_n_exponent(1, 3), None);
        let e = n_log_n_exponent(100, 1000).unwrap();
        // 1000 ln 1000 is 15 times 100 ln 100: an exponent of log10(15) = 1.18.
        assert!((e - 15f64.log10()).abs() < 1e-12, "{e}");
    }

    #[test]
    fn the_table_prints_every_outcome_and_the_growth_of_the_measured_sizes() {
        let done = ChildDone {
            wall_s: 1.0,
            peak_mib: Some(12.5),
        };
        let small = SizeFigures::new(&[run(1.0, true), run(1.0, true)], &done).unwrap();
        let big = SizeFigures::new(&[run(8_000.0, true), run(8_000.0, false)], &done).unwrap();
        let rows = vec![
            (5, SizeOutcome::Measured(small)),
            (10, SizeOutcome::Measured(big)),
            (
                20,
                SizeOutcome::OverBudget {
                    cap_s: 3.0,
                    runs: 0,
                },
            ),
            (50, SizeOutcome::Skipped),
            (100, SizeOutcome::Failed("exit status 101".into())),
        ];
        let table = format_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 6, "{table}");
        assert!(lines[0].contains("nodes") && lines[0].contains("peak MiB"));
        assert!(
            lines[1].starts_with("    5     2       2.0/s    1.000 ms"),
            "{table}"
        );
        assert!(lines[1].ends_with("all      12.5"), "{table}");
        assert!(
            lines[2].contains("8.00 s") && lines[2].contains("1/2"),
            "{table}"
        );
        assert!(
            lines[3].contains("over budget: a run took more than 3 s"),
            "{table}"
        );
        assert!(lines[4].contains("skipped"), "{table}");
        assert!(lines[5].contains("failed: exit status 101"), "{table}");
        let growth = format_growth(&rows);
        let row = growth.lines().nth(2).expect(&growth);
        // 1 ms -> 8000 ms for twice the nodes: an exponent of log2(8000) = 12.97.
        assert!(row.contains("5 -> 10") && row.contains("12.97"), "{growth}");
        assert_eq!(growth.lines().count(), 3, "{growth}");
        assert_eq!(format_growth(&rows[..1]), "");
        assert_eq!(rate(0.125), "8.0 s/run");
        assert_eq!(rate(250.4), "250/s");
    }
}
