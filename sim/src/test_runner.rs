//! The runner behind `#[joinsim_sim::test]`: one `async fn` over a [`World`], run as a seeded
//! simulation on every seed the environment asks for.
//!
//! Seeds, as for the project's own tests ([`crate::test_seeds`]): `JOINSIM_SEED=N` runs exactly
//! seed `N`; otherwise `JOINSIM_TEST_SEEDS=K` seeds (1..=1000; default the attribute's `seeds`,
//! or 32) run, `base * 1000 + i` for `i` in `0..K`, where `base` (below 1,000,000) is derived from
//! the test's full name so that two tests do not share seeds. Every safety checker is on: a
//! violation fails the seed. A failing seed prints `rerun this seed alone: JOINSIM_SEED=N cargo
//! test --release NAME` after the panic message.
//!
//! ```ignore
//! #[joinsim_sim::test(nodes = 3)]
//! async fn three_nodes_join(world: joinsim_sim::World) {
//!     world.start_all();
//!     world.sleep_ms(300).await;
//!     world.init_default("n1", "demo").await.expect("init succeeds");
//!     world.wait_until("all joined", 60_000, |w| w.all_joined()).await.expect("joined");
//! }
//! ```

use std::future::Future;
use std::hash::Hasher;

use joinsim::hash::Fnv64;

use crate::test_seeds::{running_seed, seed_from_env, MAX_TEST_SEEDS};
use crate::{Sim, World};

/// Seed bases are below this, so that `base * 1000 + i` never overflows and tests rarely share
/// a base.
const MAX_SEED_BASE: u64 = 1_000_000;

/// What `#[joinsim_sim::test(...)]` passes to [`run`].
#[derive(Clone, Copy, Debug)]
pub struct TestOptions {
    /// The test's full name (`module::path::name`): it decides the seeds' base.
    pub name: &'static str,
    /// Nodes `n1..nN` of the world (1..=64).
    pub nodes: usize,
    /// Seeds to run when the environment names none (0: the project default, 32).
    pub default_seeds: u64,
}

/// The seeds a test runs (see the module docs). Panics with a clear message on a malformed
/// environment variable or an out-of-range count.
pub fn seeds_of(options: &TestOptions) -> Vec<u64> {
    if let Some(seed) = seed_from_env() {
        return vec![seed];
    }
    let count = if std::env::var_os("JOINSIM_TEST_SEEDS").is_some() {
        crate::test_seeds::test_seed_count()
    } else if options.default_seeds == 0 {
        crate::test_seeds::DEFAULT_TEST_SEEDS
    } else {
        options.default_seeds
    };
    assert!(
        (1..=MAX_TEST_SEEDS).contains(&count),
        "{}: seeds = {count} is out of range 1..={MAX_TEST_SEEDS}",
        options.name
    );
    let base = seed_base(options.name);
    (0..count).map(|i| base * 1_000 + i).collect()
}

/// The base of a test's seeds: a stable hash (FNV-1a) of its full name, below 1,000,000.
pub fn seed_base(name: &str) -> u64 {
    let mut hasher = Fnv64::default();
    hasher.write(name.as_bytes());
    hasher.finish() % MAX_SEED_BASE
}

/// Runs `body` on a world of `options.nodes` nodes for every seed of the test, checkers on.
/// Panics (failing the test) on the first seed whose body panics or whose run breaks an
/// invariant, after printing the command that reruns that seed alone.
pub fn run<F, Fut>(options: TestOptions, body: F)
where
    F: FnOnce(World) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    assert!(
        (1..=64).contains(&options.nodes),
        "{}: nodes = {} is out of range 1..=64",
        options.name,
        options.nodes
    );
    for seed in seeds_of(&options) {
        running_seed(seed);
        Sim::new(seed).nodes(options.nodes).run(body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_base_is_stable_and_bounded() {
        let a = seed_base("crate::tests::one");
        assert_eq!(a, seed_base("crate::tests::one"));
        assert_ne!(a, seed_base("crate::tests::two"));
        assert!(a < MAX_SEED_BASE);
    }
}
