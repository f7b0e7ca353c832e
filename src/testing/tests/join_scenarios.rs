//! The IEP's four join scenarios (docs/spec.md §1 step 5) on the synchronous network.

use super::*;
use crate::testing::NodeSetup;
use crate::{JoinPhase, Rejection, RejectionReason, RejectionStage};

/// 1. An empty node enters a cluster where all nodes are empty: a physical member that waits for
///    init, then joins like the rest.
#[test]
fn scenario_1_empty_node_enters_all_empty_cluster() {
    let mut net = Network::builder().seed(1).nodes(4).build();
    for l in ["n1", "n2", "n3"] {
        net.start(l);
    }
    wait_physical(&mut net, &["n1", "n2", "n3"]);
    net.start("n4");
    wait_physical(&mut net, &["n1", "n2", "n3", "n4"]);
    net.run_for(2_000);
    let n4 = net.view("n4").unwrap();
    assert!(n4.in_topology);
    assert_eq!(n4.join, JoinPhase::Waiting);
    assert!(n4.local.is_none() && net.vault("n4").local.is_none());
    assert!(net.views().values().all(|v| !v.is_joined()));
    let tag = net
        .init("n2", params("c1", &["n1", "n2", "n3"], &[]))
        .expect("init succeeds");
    wait_joined(&mut net, &["n1", "n2", "n3", "n4"]);
    for l in ["n1", "n2", "n3", "n4"] {
        assert_eq!(net.vault(l).local.as_ref().unwrap().config.tag, tag, "{l}");
    }
    assert_eq!(net.leader_lt().unwrap().1, vec!["n1", "n2", "n3", "n4"]);
}

/// 2. An empty node enters an initialized cluster: validated by the CMG, then join ready, then in
///    the LT.
#[test]
fn scenario_2_empty_node_enters_initialized_cluster() {
    let mut net = Network::builder().seed(2).nodes(4).build();
    let tag = form_cluster(&mut net, &["n1", "n2", "n3"], &["n1", "n2", "n3"]);
    let (before, _) = net.leader_lt().unwrap();
    net.start("n4");
    wait_joined(&mut net, &["n4"]);
    let (after, members) = net.leader_lt().unwrap();
    assert_eq!(after, before + 1);
    assert!(members.contains(&"n4".to_string()));
    assert_eq!(net.vault("n4").local.as_ref().unwrap().config.tag, tag);
    let n4_launch = net.view("n4").unwrap().launch;
    let events: Vec<(&str, &Event)> = net.all_events().collect();
    let validated = events.iter().position(|(_, e)| {
        matches!(e, Event::Validated { node, launch, .. } if node == "n4" && *launch == n4_launch)
    });
    let ready = events
        .iter()
        .position(|(n, e)| *n == "n4" && matches!(e, Event::JoinReadySent { .. }));
    let in_lt = events.iter().position(|(_, e)| {
        matches!(e, Event::LtChanged { members, .. } if members.iter().any(|(n, _)| n == "n4"))
    });
    assert!(validated.is_some() && ready.is_some() && in_lt.is_some());
    assert!(validated < ready && ready < in_lt);
}

/// 3. An initialized node enters a cluster of empty nodes: it passes pre-init and waits; the empty
///    nodes are initialized as a new cluster; its join is rejected (tag mismatch); it never
///    enters that cluster's LT and keeps its old vault.
#[test]
fn scenario_3_initialized_node_enters_all_empty_cluster() {
    let old = restored("old", 0xA1, &["x", "gone1", "gone2"], 1, &[("x", 3)]);
    let mut net = Network::builder()
        .seed(3)
        .nodes(3)
        .node(
            NodeSetup::new("x")
                .seeds(&["n1"])
                .vault(old.vault_of("x", 1)),
        )
        .build();
    net.start_all();
    wait_physical(&mut net, &["n1", "n2", "n3", "x"]);
    net.run_for(3_000);
    let x = net.view("x").unwrap();
    assert!(x.halted.is_none(), "x passed pre-init and waits");
    assert_eq!(x.join, JoinPhase::Waiting);
    let tag = net
        .init("n1", params("new", &["n1", "n2", "n3"], &[]))
        .expect("the empty nodes initialize");
    wait_joined(&mut net, &["n1", "n2", "n3"]);
    net.wait_until(|n| n.halted(&["x"]), PATIENCE_MS)
        .expect("x is rejected");
    let rejection = net.view("x").unwrap().halted.clone().unwrap();
    assert_eq!(rejection.stage, RejectionStage::Join);
    assert_eq!(
        rejection.reason,
        RejectionReason::TagMismatch {
            joiner: old.config.tag.clone(),
            cluster: tag
        }
    );
    assert_eq!(
        net.vault("x").local.as_ref().unwrap().config.tag,
        old.config.tag
    );
    assert!(!ever_in_lt(&net, "x"));
}

/// A restored cluster a, b, c at Meta Storage version Y = 3, and node d restored with its stored
/// version `x` (X) and tag id `tag_id` (0xC is the cluster's own), contacting `d_seed`. Returns
/// the network once d joined or stopped, and d's rejection if it stopped.
fn scenario_4(seed: u64, x: u64, tag_id: u128) -> (Network, Option<Rejection>) {
    let addrs = [("a", 0), ("b", 1), ("c", 2), ("d", 3)];
    let cluster = restored("c4", 0xC, &["a", "b", "c"], 3, &addrs);
    let d_cluster = restored("c4", tag_id, &["a", "b", "c"], 3, &addrs);
    let mut net = Network::builder()
        .seed(seed)
        .node(NodeSetup::new("a").vault(cluster.vault_of("a", 3)))
        .node(
            NodeSetup::new("b")
                .seeds(&["a"])
                .vault(cluster.vault_of("b", 3)),
        )
        .node(
            NodeSetup::new("c")
                .seeds(&["a"])
                .vault(cluster.vault_of("c", 3)),
        )
        .node(
            NodeSetup::new("d")
                .seeds(&["a"])
                .vault(d_cluster.vault_of("d", x)),
        )
        .build();
    for l in ["a", "b", "c"] {
        net.start(l);
    }
    wait_joined(&mut net, &["a", "b", "c"]);
    net.start("d");
    net.wait_until(|n| n.joined(&["d"]) || n.halted(&["d"]), PATIENCE_MS)
        .expect("d is decided");
    let halted = net.view("d").unwrap().halted.clone();
    if halted.is_none() {
        assert_eq!(
            net.vault("d").local.as_ref().unwrap().config.ms_version,
            3,
            "d is at Y"
        );
        assert!(net.leader_lt().unwrap().1.contains(&"d".to_string()));
    }
    (net, halted)
}

/// 4a. X = Y: accepted.
#[test]
fn scenario_4_same_version_is_accepted() {
    let (_, rejection) = scenario_4(41, 3, 0xC);
    assert_eq!(rejection, None);
}

/// 4b. X < Y: accepted and brought up to Y.
#[test]
fn scenario_4_stale_version_is_accepted_and_caught_up() {
    let (net, rejection) = scenario_4(42, 1, 0xC);
    assert_eq!(rejection, None);
    assert!(net.events("d").any(|(_, e)| matches!(
        e,
        Event::JoinAccepted {
            stored_ms_version: Some(1),
            cluster_ms_version: 3,
            ..
        }
    )));
    assert!(net.events("d").any(|(_, e)| matches!(
        e,
        Event::MsVersionStored {
            from: Some(1),
            to: 3
        }
    )));
}

/// Scenario 4c's run (X = 5 > Y = 3): the network and d's rejection.
pub(super) fn version_ahead() -> (Network, Rejection) {
    let (net, rejection) = scenario_4(43, 5, 0xC);
    (net, rejection.expect("d is rejected"))
}

/// Scenario 4d's run (another tag): the network and d's rejection.
pub(super) fn other_tag() -> (Network, Rejection) {
    let (net, rejection) = scenario_4(44, 3, 0xD);
    (net, rejection.expect("d is refused"))
}

/// 4c. X > Y: rejected, the node saw a newer Meta Storage configuration.
#[test]
fn scenario_4_version_ahead_is_rejected() {
    let (net, rejection) = version_ahead();
    assert_eq!(rejection.stage, RejectionStage::Join);
    assert_eq!(
        rejection.reason,
        RejectionReason::MsVersionAhead {
            joiner: 5,
            cluster: 3
        }
    );
    assert!(!ever_in_lt(&net, "d"));
}

/// 4d. Another tag: refused at pre-init by the contacted node, which knows the cluster's tag;
///     never admitted.
#[test]
fn scenario_4_other_tag_is_refused_at_pre_init() {
    let (net, rejection) = other_tag();
    assert_eq!(rejection.stage, RejectionStage::PreInit);
    assert!(
        matches!(rejection.reason, RejectionReason::TagMismatch { .. }),
        "{rejection:?}"
    );
    assert!(!net
        .all_events()
        .any(|(_, e)| matches!(e, Event::Admitted { member, .. } if member == "d")));
}
