//! An example of a crate outside joinsim that tests a cluster-membership rule of its own with
//! `#[joinsim_sim::test]`. Its tests are in `tests/`; `docs/downstream.md` shows the setup a crate
//! outside this workspace needs (`--cfg madsim` and the getrandom patch).
//!
//! The library part is one helper the tests share: the names of nodes `n1..nN`.

/// The labels `n1..nN` that `#[joinsim_sim::test(nodes = N)]` gives the world's nodes.
pub fn node_labels(count: usize) -> Vec<String> {
    (1..=count).map(|i| format!("n{i}")).collect()
}
