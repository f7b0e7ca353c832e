//! Seeds of seeded tests, from the environment, and the command that reruns one seed alone.
//!
//! - `JOINSIM_SEED=N` runs exactly seed `N` (one seed of a seeded test or a scenario test);
//! - otherwise `JOINSIM_TEST_SEEDS=K` (default [`DEFAULT_TEST_SEEDS`], at most
//!   [`MAX_TEST_SEEDS`]) seeds run, `base * 1000 + i` for `i` in `0..K`, so that tests do not
//!   share seeds.
//!
//! When a test thread panics while it runs a seed drawn from here, the panic message is followed
//! by `rerun this seed alone: JOINSIM_SEED=N cargo test --release NAME`, with the test's name (the
//! test harness names each test's thread after the test; `cargo nextest run` does the same).

use std::cell::Cell;
use std::sync::Once;

/// Seeds a seeded test runs when `JOINSIM_TEST_SEEDS` is not set.
pub const DEFAULT_TEST_SEEDS: u64 = 32;
/// The most seeds `JOINSIM_TEST_SEEDS` may ask for (seeds of two tests would overlap beyond it).
pub const MAX_TEST_SEEDS: u64 = 1_000;

thread_local! {
    static CURRENT_SEED: Cell<Option<u64>> = const { Cell::new(None) };
}

/// `JOINSIM_SEED`, if set. Panics with a clear message when it is not a number (a test input).
pub fn seed_from_env() -> Option<u64> {
    let text = std::env::var("JOINSIM_SEED").ok()?;
    match text.trim().parse() {
        Ok(seed) => Some(seed),
        Err(_) => panic!("JOINSIM_SEED={text:?} is not a seed (expected 0..=18446744073709551615)"),
    }
}

/// `JOINSIM_TEST_SEEDS`, or [`DEFAULT_TEST_SEEDS`]. Panics with a clear message when it is not
/// within `1..=MAX_TEST_SEEDS`.
pub fn test_seed_count() -> u64 {
    let Ok(text) = std::env::var("JOINSIM_TEST_SEEDS") else {
        return DEFAULT_TEST_SEEDS;
    };
    match text.trim().parse::<u64>() {
        Ok(n) if (1..=MAX_TEST_SEEDS).contains(&n) => n,
        _ => panic!("JOINSIM_TEST_SEEDS={text:?}: expected a count within 1..={MAX_TEST_SEEDS}"),
    }
}

/// The seeds of one seeded test (see the module docs). Each seed, while the test runs it, is
/// named in the rerun line printed if the test panics.
pub fn test_seeds(base: u64) -> impl Iterator<Item = u64> {
    let seeds: Vec<u64> = match seed_from_env() {
        Some(seed) => vec![seed],
        None => (0..test_seed_count()).map(|i| base * 1_000 + i).collect(),
    };
    seeds.into_iter().inspect(|seed| running_seed(*seed))
}

/// Marks `seed` as the one this thread runs now: a panic on this thread prints its rerun line.
pub fn running_seed(seed: u64) {
    install_hook();
    CURRENT_SEED.with(|c| c.set(Some(seed)));
}

/// The command that reruns `seed` of the test running on this thread (or of `test`, if given).
pub fn rerun_command(seed: u64, test: Option<&str>) -> String {
    let name = test
        .map(str::to_string)
        .or_else(|| std::thread::current().name().map(str::to_string))
        .filter(|n| n != "main")
        .unwrap_or_else(|| "<test name>".into());
    format!("JOINSIM_SEED={seed} cargo test --release {name}")
}

fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            if let Some(seed) = CURRENT_SEED.with(|c| c.get()) {
                eprintln!("rerun this seed alone: {}", rerun_command(seed, None));
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rerun_command_names_the_seed_and_the_test() {
        assert_eq!(
            rerun_command(42, Some("init::errors")),
            "JOINSIM_SEED=42 cargo test --release init::errors"
        );
        let here = rerun_command(7, None);
        assert!(
            here.ends_with("test_seeds::tests::the_rerun_command_names_the_seed_and_the_test"),
            "{here}"
        );
    }
}
