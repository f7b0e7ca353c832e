//! Mutated scenario files never make joinsim panic, and every rejection names file:line:col.
//!
//! Each case takes a shipped scenario file and applies one to four mutations: a byte flip, a
//! deleted, duplicated or swapped line, values swapped between two fields, or a number replaced by
//! a huge, negative, float or string one. Every mutant goes to the parser in-process; a share of
//! the ones it accepts goes on to the runner. `JOINSIM_MUTATIONS` sets the number of mutants
//! (default 100,000) and `JOINSIM_MUTATION_RUNS` how many accepted ones are run (default 150).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use joinsim_sim::{parse_scenario, run_scenario};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

#[derive(Clone, Debug)]
enum Mutation {
    FlipByte(Index, u8),
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    SwapValues(Index, Index),
    ReplaceNumber(Index, &'static str),
}

/// Numbers no field accepts, or only just.
const ODD_NUMBERS: [&str; 12] = [
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "9223372036854775807",
    "-1",
    "-9223372036854775808",
    "0",
    "1.5",
    "1e300",
    "nan",
    "\"12\"",
    "300000",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::FlipByte(i, b)),
        any::<Index>().prop_map(Mutation::DeleteLine),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapValues(a, b)),
        (any::<Index>(), prop::sample::select(ODD_NUMBERS.to_vec()))
            .prop_map(|(i, n)| Mutation::ReplaceNumber(i, n)),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return text.to_string();
    }
    let value_lines: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains(" = "))
        .collect();
    match mutation {
        Mutation::FlipByte(i, b) => {
            let mut bytes = text.as_bytes().to_vec();
            let at = i.index(bytes.len());
            bytes[at] = *b;
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::DeleteLine(i) => {
            lines.remove(i.index(lines.len()));
        }
        Mutation::DuplicateLine(i) => {
            let at = i.index(lines.len());
            lines.insert(at, lines[at].clone());
        }
        Mutation::SwapLines(a, b) => {
            let (a, b) = (a.index(lines.len()), b.index(lines.len()));
            lines.swap(a, b);
        }
        Mutation::SwapValues(a, b) if !value_lines.is_empty() => {
            let (a, b) = (
                value_lines[a.index(value_lines.len())],
                value_lines[b.index(value_lines.len())],
            );
            let (ka, va) = lines[a]
                .split_once(" = ")
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .unwrap();
            let (kb, vb) = lines[b]
                .split_once(" = ")
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .unwrap();
            lines[a] = format!("{ka} = {vb}");
            lines[b] = format!("{kb} = {va}");
        }
        Mutation::ReplaceNumber(i, n) => {
            let numeric: Vec<usize> = (0..lines.len())
                .filter(|&l| lines[l].chars().any(|c| c.is_ascii_digit()))
                .collect();
            if let Some(&l) = numeric.get(i.index(numeric.len().max(1))) {
                let line = &lines[l];
                let start = line.find(|c: char| c.is_ascii_digit()).unwrap();
                let end = line[start..]
                    .find(|c: char| !c.is_ascii_digit())
                    .map_or(line.len(), |e| start + e);
                lines[l] = format!("{}{n}{}", &line[..start], &line[end..]);
            }
        }
        Mutation::SwapValues(..) => {}
    }
    lines.join("\n") + "\n"
}

fn shipped_scenarios() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the scenarios directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

fn env_count(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .map(|s| {
            s.parse()
                .unwrap_or_else(|_| panic!("{name}={s:?} is not a count"))
        })
        .unwrap_or(default)
}

/// True when `message` starts with `file:line:col: ` and the position lies in the text.
fn names_its_position(message: &str, file: &str, text: &str) -> bool {
    let Some(rest) = message.strip_prefix(&format!("{file}:")) else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let line: Option<usize> = parts.next().and_then(|l| l.parse().ok());
    let column: Option<usize> = parts.next().and_then(|c| c.parse().ok());
    let lines = text.lines().count() + 1;
    matches!((line, column), (Some(l), Some(c)) if l >= 1 && l <= lines && c >= 1)
        && parts
            .next()
            .is_some_and(|m| m.starts_with(' ') && m.trim().len() > 3)
}

#[test]
fn mutated_scenario_files_never_panic_and_rejections_name_file_line_and_column() {
    let corpus = shipped_scenarios();
    assert!(corpus.len() >= 10, "the shipped scenarios are the corpus");
    let cases = env_count("JOINSIM_MUTATIONS", 100_000);
    let run_budget = u64::from(env_count("JOINSIM_MUTATION_RUNS", 150));
    let accepted = AtomicU64::new(0);
    let rejected = AtomicU64::new(0);
    let ran = AtomicU64::new(0);
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let strategy = (any::<Index>(), prop::collection::vec(mutation(), 1..=4));
    let result = runner.run(&strategy, |(file, mutations)| {
        let (name, original) = &corpus[file.index(corpus.len())];
        let mut text = original.clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        let path = format!("mutant-of-{name}");
        let parsed = catch_unwind(AssertUnwindSafe(|| parse_scenario(&path, &text)))
            .map_err(|_| TestCaseError::fail(format!("the parser panicked on:\n{text}")))?;
        match parsed {
            Err(e) => {
                rejected.fetch_add(1, Ordering::Relaxed);
                let message = e.to_string();
                prop_assert!(
                    names_its_position(&message, &path, &text),
                    "the rejection does not name file:line:col: {message}\n{text}"
                );
            }
            Ok(scenario) => {
                let n = accepted.fetch_add(1, Ordering::Relaxed);
                // Run an evenly spread share of the accepted mutants, over their first seed.
                let every = (u64::from(cases) / run_budget.max(1) / 8).max(1);
                if n.is_multiple_of(every) && ran.load(Ordering::Relaxed) < run_budget {
                    ran.fetch_add(1, Ordering::Relaxed);
                    let seed = scenario.seed_list(Some(1))[0];
                    let result = run_scenario(&scenario, seed, false);
                    prop_assert!(
                        result.panic.is_none(),
                        "the run panicked: {:?}\n{text}",
                        result.panic
                    );
                }
            }
        }
        Ok(())
    });
    println!(
        "{cases} mutants: {} rejected with a position, {} accepted, {} of them run",
        rejected.load(Ordering::Relaxed),
        accepted.load(Ordering::Relaxed),
        ran.load(Ordering::Relaxed)
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(rejected.load(Ordering::Relaxed) > 0 && accepted.load(Ordering::Relaxed) > 0);
}
