//! The explorer's report as text: per world its size, depth and time, each property's verdict,
//! and the counterexample's file; then the totals and the verdict.

use std::fmt::Write as _;

use stateright::Expectation;

use super::{properties, ExploreOptions, WorldExploration};

fn expectation(e: &Expectation) -> &'static str {
    match e {
        Expectation::Always => "always",
        Expectation::Eventually => "eventually",
        Expectation::Sometimes => "sometimes",
    }
}

/// The report of an exploration (what `joinsim explore` prints).
pub fn format_exploration(options: &ExploreOptions, results: &[WorldExploration]) -> String {
    let mut out = String::new();
    let worlds: Vec<&str> = options.worlds.iter().map(|w| w.name()).collect();
    let _ = writeln!(
        out,
        "explore: {} nodes; worlds {}; depth bound {}; {}",
        options.nodes,
        worlds.join(", "),
        options.depth,
        options
            .flaw
            .map(|f| format!("planted model error {f}"))
            .unwrap_or_else(|| "the model as written".into())
    );
    for r in results {
        let _ = writeln!(
            out,
            "\nworld {} ({}; budgets: {})",
            r.world.kind(),
            r.world.nodes().join(" "),
            r.world.budgets()
        );
        let _ = writeln!(
            out,
            "  states: {} explored, {} unique; max depth {}; {:.1} s",
            r.states, r.unique_states, r.max_depth, r.seconds
        );
        if r.hit_depth_bound() {
            let _ = writeln!(
                out,
                "  note: paths reached the depth bound {}: states there were not expanded, and liveness was not judged beyond it",
                r.depth_bound
            );
        }
        for v in &r.verdicts {
            let outcome = match (&v.expectation, &v.path) {
                (Expectation::Sometimes, Some(p)) => format!("reached at depth {}", p.len()),
                (Expectation::Sometimes, None) if v.required => "NOT REACHED".to_string(),
                (Expectation::Sometimes, None) => "not reached (not expected here)".to_string(),
                (_, None) => "holds".to_string(),
                (_, Some(p)) => format!("BROKEN (shortest path: {} moves)", p.len()),
            };
            let _ = writeln!(
                out,
                "  {:<10} {:<32} {outcome}",
                expectation(&v.expectation),
                v.name
            );
        }
        if let Some(v) = r
            .verdicts
            .iter()
            .find(|v| v.expectation != Expectation::Sometimes && v.path.is_some())
        {
            let _ = writeln!(
                out,
                "  counterexample of {} ({}):",
                v.name,
                properties::source(v.name)
            );
            for (i, m) in v.path.iter().flatten().enumerate() {
                let mark = if m.is_environment() { "*" } else { " " };
                let _ = writeln!(out, "   {mark}{:>3}. {m}", i + 1);
            }
            if let Some(file) = &r.counterexample {
                let _ = writeln!(out, "  scenario file: {}", file.display());
            }
        }
    }
    let states: usize = results.iter().map(|r| r.states).sum();
    let unique: usize = results.iter().map(|r| r.unique_states).sum();
    let depth = results.iter().map(|r| r.max_depth).max().unwrap_or(0);
    let seconds: f64 = results.iter().map(|r| r.seconds).sum();
    let passed = results.iter().all(WorldExploration::passed);
    let _ = writeln!(
        out,
        "\ntotal: {states} states explored, {unique} unique; max depth {depth}; {seconds:.1} s; {}",
        if passed { "passed" } else { "FAILED" }
    );
    out
}
