//! Seeded simulations written the way a downstream crate writes them: each `async fn` below runs
//! on every seed of the environment (`JOINSIM_SEED`, `JOINSIM_TEST_SEEDS`), with joinsim's safety
//! checkers on, and a failing seed prints the command that reruns it alone.

#![cfg(madsim)]

use joinsim_example_downstream::node_labels;
use joinsim_sim::World;

/// Every node of a fresh cluster joins after an init, and the CMG leader's LT holds them all.
#[joinsim_sim::test(nodes = 4, seeds = 8)]
async fn every_node_joins_after_init(world: World) {
    world.start_all();
    world.sleep_ms(300).await;
    world
        .init_default("n1", "downstream")
        .await
        .expect("init succeeds");
    world
        .wait_until("all joined", 60_000, |w| w.all_joined())
        .await
        .expect("every node joins");
    let labels = node_labels(4);
    let joined: Vec<&str> = labels.iter().map(String::as_str).collect();
    assert!(world.joined(&joined));
}

/// A body that fails when `JOINSIM_EXAMPLE_FAIL` is set: the test below runs it in a child
/// process to show what a failure prints.
#[joinsim_sim::test(nodes = 1, seeds = 2)]
async fn fails_when_asked(world: World) {
    world.start_all();
    world.sleep_ms(100).await;
    assert!(
        std::env::var_os("JOINSIM_EXAMPLE_FAIL").is_none(),
        "failing as asked"
    );
}

/// A failing seed names itself and the command that reruns it alone; `JOINSIM_SEED` runs exactly
/// that seed.
#[test]
fn a_failing_seed_prints_its_rerun_command() {
    if std::env::var_os("JOINSIM_EXAMPLE_FAIL").is_some() {
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args(["fails_when_asked", "--exact", "--test-threads", "1"])
        .env("JOINSIM_EXAMPLE_FAIL", "1")
        .env("JOINSIM_SEED", "77")
        .output()
        .expect("run the test binary");
    assert!(!out.status.success(), "the body must fail");
    // libtest prints a failed test's captured output on stdout, the panic hook's line on stderr.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("failing as asked"), "{text}");
    assert!(text.contains("simulation with seed 77 failed"), "{text}");
    assert!(
        text.contains(
            "rerun this seed alone: JOINSIM_SEED=77 cargo test --release fails_when_asked"
        ),
        "{text}"
    );
}

/// Without `JOINSIM_SEED`, a test runs its `seeds` (or `JOINSIM_TEST_SEEDS`) seeds, derived from
/// its name.
#[test]
fn seeds_come_from_the_environment_and_the_name() {
    let options = joinsim_sim::test_runner::TestOptions {
        name: "membership::every_node_joins_after_init",
        nodes: 4,
        default_seeds: 8,
    };
    if std::env::var_os("JOINSIM_SEED").is_some()
        || std::env::var_os("JOINSIM_TEST_SEEDS").is_some()
    {
        return;
    }
    let seeds = joinsim_sim::test_runner::seeds_of(&options);
    assert_eq!(seeds.len(), 8);
    let base = joinsim_sim::test_runner::seed_base(options.name);
    assert_eq!(seeds[0], base * 1_000);
    assert_eq!(seeds[7], base * 1_000 + 7);
}
