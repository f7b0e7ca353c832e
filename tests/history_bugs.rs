//! The planted bugs drawn from Ignite 3's and Raft's bug history (docs/fuzzing.md, "Planted
//! bugs"): each fails the scenario that pins it. The scenario files pass as they are (they run
//! with every other scenario); here each runs again with its bug switched on (`bug = "..."`
//! prepended), and some seed of the file's must fail.

/// Seeds tried: 0..32, as many as these files run.
const SEEDS: u64 = 32;

/// (planted bug, the scenario file pinning it).
const PINNED: [(&str, &str); 8] = [
    (
        "rejoin-removes-own-lt-entry",
        "late-copy-of-a-members-join-request-keeps-its-lt-entry",
    ),
    ("init-answered-before-commit", "join-1-empty-into-empty"),
    (
        "cmg-command-applied-twice-on-restart",
        "restart-with-cmg-majority",
    ),
    (
        "accept-lt-member-name",
        "duplicate-name-refused-while-original-lives",
    ),
    (
        "learner-changes-out-of-order",
        "ms-reconfiguration-requests-overtaken-by-a-newer-one-change-nothing",
    ),
    (
        "cancel-destroys-answered-cluster",
        "cancel-decided-only-when-fenced-voters-leave-no-majority",
    ),
    (
        "ms-reconfiguration-overlaps",
        "race-ms-reconfiguration-vs-stale-rejoin",
    ),
    (
        "new-leader-keeps-dead-members",
        "lt-hygiene-leader-restarts-before-failure-detection",
    ),
];

#[test]
fn each_history_bug_fails_its_pinned_scenario() {
    for (bug, file) in PINNED {
        let path = format!("{}/../scenarios/{file}.toml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let with_bug = format!("bug = \"{bug}\"\n{text}");
        let scenario = joinsim_sim::parse_scenario(file, &with_bug).expect("parses");
        let failed =
            (0..SEEDS).find(|seed| !joinsim_sim::run_scenario(&scenario, *seed, false).passed);
        assert!(
            failed.is_some(),
            "{bug}: every seed of 0..{SEEDS} of {file} passed with the bug on"
        );
    }
}
