//! Every rejection reason, reached end to end on the synchronous network (issue 9: the core's own
//! tests cover every rejection reason without madsim). Each test asserts the stage and reason a
//! node stops with, and the last one checks that the set reached is exactly
//! the names of [`RejectionReason`].

use super::*;
use crate::testing::NodeSetup;
use crate::{Rejection, RejectionReason, RejectionStage};

/// A cluster n1..n3 (CMG = MS = all three), then `newcomer` started with n1 as its seed; returns
/// its rejection once it stops.
fn newcomer_into_cluster(seed: u64, newcomer: NodeSetup) -> Rejection {
    let label = newcomer.label.clone();
    let mut net = Network::builder()
        .seed(seed)
        .nodes(3)
        .node(newcomer)
        .build();
    form_cluster(&mut net, &["n1", "n2", "n3"], &["n1", "n2", "n3"]);
    net.start(&label);
    net.wait_until(|n| n.halted(&[label.as_str()]), PATIENCE_MS)
        .unwrap_or_else(|e| panic!("{label} stops: {e}"));
    let lt = net.leader_lt().expect("the cluster has a leader").1;
    assert_eq!(lt, vec!["n1", "n2", "n3"], "the members keep their places");
    net.view(&label).unwrap().halted.clone().unwrap()
}

fn protocol_mismatch() -> Rejection {
    newcomer_into_cluster(
        61,
        NodeSetup::new("p")
            .seeds(&["n1"])
            .protocol(ProtocolVersion(2)),
    )
}

fn product_mismatch() -> Rejection {
    newcomer_into_cluster(
        62,
        NodeSetup::new("q")
            .seeds(&["n1"])
            .product(ProductVersion::new(4, 0, 0)),
    )
}

/// A second live node named like the member n2, at another address, with an empty vault.
fn duplicate_name() -> Rejection {
    newcomer_into_cluster(63, NodeSetup::new("n2").label("n2b").seeds(&["n1"]))
}

/// An empty node e admits x of cluster A first; y of cluster B, seeding e too, is refused:
/// "first admitted wins" (docs/protocol.md, Step 1). Neither cluster's CMG runs (A's voter w,
/// B's voter z), so e stays empty (no leader brings it into A), and y is no member of a live
/// cluster of its own: so y is no member of a live cluster of its own: past its start grace the refusal
/// is final (docs/spec.md §5, "a refusal never halts a live cluster").
fn conflicting_tag() -> Rejection {
    let a = restored("a", 0xA, &["w"], 1, &[("x", 1), ("w", 4)]);
    let b = restored("b", 0xB, &["z"], 1, &[("y", 2), ("z", 3)]);
    let mut net = Network::builder()
        .seed(64)
        .node(NodeSetup::new("e"))
        .node(NodeSetup::new("x").seeds(&["e"]).vault(a.vault_of("x", 1)))
        .node(NodeSetup::new("y").seeds(&["e"]).vault(b.vault_of("y", 1)))
        .build();
    net.start("e");
    net.start("x");
    wait_physical(&mut net, &["e", "x"]);
    net.start("y");
    net.wait_until(|n| n.halted(&["y"]), PATIENCE_MS)
        .expect("y stops");
    net.view("y").unwrap().halted.clone().unwrap()
}

#[test]
fn another_protocol_version_is_refused_at_pre_init() {
    let r = protocol_mismatch();
    assert_eq!(r.stage, RejectionStage::PreInit);
    assert!(
        matches!(r.reason, RejectionReason::ProtocolMismatch { .. }),
        "{r:?}"
    );
}

#[test]
fn an_incompatible_product_is_refused_at_pre_init() {
    let r = product_mismatch();
    assert_eq!(r.stage, RejectionStage::PreInit);
    assert!(
        matches!(r.reason, RejectionReason::ProductMismatch { .. }),
        "{r:?}"
    );
}

#[test]
fn a_second_live_node_with_a_members_name_is_refused_at_join() {
    let r = duplicate_name();
    assert_eq!(r.stage, RejectionStage::Join);
    assert!(
        matches!(&r.reason, RejectionReason::DuplicateName { name, .. } if name == "n2"),
        "{r:?}"
    );
}

#[test]
fn the_second_of_two_clusters_met_by_an_empty_node_is_refused_at_pre_init() {
    let r = conflicting_tag();
    assert_eq!(r.stage, RejectionStage::PreInit);
    assert!(
        matches!(r.reason, RejectionReason::ConflictingTag { .. }),
        "{r:?}"
    );
}

/// Every reason, from the runs above and scenario 4's (join_scenarios.rs: a Meta Storage version
/// ahead, another tag): this test fails when a reason is added without a run that reaches it.
#[test]
fn every_rejection_reason_is_reached() {
    let mut reached: Vec<&str> = [
        protocol_mismatch(),
        product_mismatch(),
        duplicate_name(),
        conflicting_tag(),
        super::join_scenarios::version_ahead().1,
        super::join_scenarios::other_tag().1,
    ]
    .iter()
    .map(|r| r.reason.kind())
    .collect();
    reached.sort_unstable();
    let mut all = <RejectionReason as strum::VariantNames>::VARIANTS.to_vec();
    all.sort_unstable();
    assert_eq!(reached, all);
}
