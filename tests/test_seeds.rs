//! `JOINSIM_SEED=N cargo test NAME` reruns exactly one seed, and a failing seeded test prints
//! that command. Proved by running this test binary again as a child process.

use std::process::Command;

use crate::support::seeds;

/// Prints the seeds it would run; fails on purpose when `JOINSIM_PROBE_FAIL` names a seed.
/// Does nothing visible in a normal run.
#[test]
fn seed_probe() {
    let fail_at: Option<u64> = std::env::var("JOINSIM_PROBE_FAIL")
        .ok()
        .and_then(|s| s.parse().ok());
    let mut ran = Vec::new();
    for seed in seeds(77) {
        ran.push(seed);
        assert_ne!(
            Some(seed),
            fail_at,
            "the probe fails at seed {seed} on purpose"
        );
    }
    println!("probe seeds: {ran:?}");
}

fn probe(env: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args([
            "test_seeds::seed_probe",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env_remove("JOINSIM_SEED")
        .env_remove("JOINSIM_TEST_SEEDS")
        .env_remove("JOINSIM_PROBE_FAIL");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("run the test binary");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn joinsim_seed_runs_exactly_one_seed() {
    let (ok, text) = probe(&[("JOINSIM_SEED", "77005")]);
    assert!(ok, "{text}");
    assert!(text.contains("probe seeds: [77005]"), "{text}");
    let (ok, text) = probe(&[("JOINSIM_TEST_SEEDS", "3")]);
    assert!(ok, "{text}");
    assert!(
        text.contains("probe seeds: [77000, 77001, 77002]"),
        "{text}"
    );
    let (ok, text) = probe(&[("JOINSIM_TEST_SEEDS", "0")]);
    assert!(!ok, "zero seeds is refused: {text}");
    assert!(text.contains("JOINSIM_TEST_SEEDS"), "{text}");
}

#[test]
fn a_failing_seed_prints_the_command_that_reruns_it_alone() {
    let (ok, text) = probe(&[("JOINSIM_PROBE_FAIL", "77004")]);
    assert!(!ok, "{text}");
    assert!(
        text.contains(
            "rerun this seed alone: JOINSIM_SEED=77004 cargo test --release test_seeds::seed_probe"
        ),
        "{text}"
    );
    let (ok, text) = probe(&[("JOINSIM_SEED", "77004"), ("JOINSIM_PROBE_FAIL", "77004")]);
    assert!(!ok, "the rerun fails the same way: {text}");
    assert!(text.contains("the probe fails at seed 77004"), "{text}");
}
