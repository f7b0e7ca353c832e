//! Faults on the synchronous network: a CMG leader change during a join, restarts, partitions
//! (two-way and one-way) that heal, a wiped node.

use super::*;
use crate::{JoinPhase, Vault};

/// The CMG leader dies between a node's validation and its join ready: the node still joins,
/// through the new leader, because the validated set is replicated.
#[test]
fn cmg_leader_change_during_a_join() {
    let mut net = Network::builder().seed(20).nodes(4).build();
    form_cluster(&mut net, &["n1", "n2", "n3"], &["n1", "n2", "n3"]);
    let leader = net.cmg_leader().expect("a CMG leader");
    net.start("n4");
    // Step-exact: stop as soon as n4 sent its join ready.
    net.wait_until(
        |n| n.view("n4").is_some_and(|v| v.join == JoinPhase::ReadySent),
        PATIENCE_MS,
    )
    .expect("n4 is validated");
    let replicas = net.view(&leader).unwrap().cmg_state.clone().unwrap();
    assert!(replicas.validated.contains_key("n4"));
    assert!(!replicas.lt.members.contains_key("n4"));
    net.kill(&leader);
    wait_joined(&mut net, &["n4"]);
    let new_leader = net.cmg_leader().expect("a new leader");
    assert_ne!(new_leader, leader);
    assert!(net.leader_lt().unwrap().1.contains(&"n4".to_string()));
}

/// A CMG member and a plain member restart from their vaults with new launches and rejoin.
#[test]
fn restart_of_a_member() {
    let mut net = Network::builder().seed(30).nodes(5).build();
    let tag = form_cluster(
        &mut net,
        &["n1", "n2", "n3", "n4", "n5"],
        &["n1", "n2", "n3"],
    );
    let old_n2 = net.view("n2").unwrap().launch;
    let old_n5 = net.view("n5").unwrap().launch;
    net.restart("n2");
    net.restart("n5");
    let n2 = net.view("n2").unwrap();
    assert_eq!(n2.local.as_ref().unwrap().config.tag, tag);
    assert!(
        n2.cmg.is_some() && n2.ms.is_some(),
        "replicas opened from the vault"
    );
    assert_ne!(n2.launch, old_n2);
    wait_joined(&mut net, &["n2", "n5"]);
    let leader = net.cmg_leader().unwrap();
    let lt = net.view(&leader).unwrap().lt().unwrap().clone();
    assert_eq!(lt.members["n2"].launch, net.view("n2").unwrap().launch);
    assert_eq!(lt.members["n5"].launch, net.view("n5").unwrap().launch);
    assert_ne!(lt.members["n5"].launch, old_n5);
}

/// A partitioned member leaves the LT; after the heal it comes back.
#[test]
fn a_partition_that_heals() {
    let mut net = Network::builder().seed(70).nodes(4).build();
    form_cluster(&mut net, &["n1", "n2", "n3", "n4"], &["n1", "n2", "n3"]);
    net.partition(&[&["n4"], &["n1", "n2", "n3"]]);
    assert_eq!(net.cut_links().len(), 6);
    let out = |n: &Network| {
        n.leader_lt()
            .is_some_and(|(_, m)| !m.contains(&"n4".to_string()))
    };
    net.wait_until(out, 20_000).expect("n4 leaves the LT");
    net.heal();
    assert!(net.cut_links().is_empty());
    net.wait_until(|n| !out(n), 20_000)
        .expect("n4 is back in the LT");
    wait_joined(&mut net, &["n4"]);
}

/// A one-way cut is one-way: n3 hears nobody, the others still hear n3.
#[test]
fn a_one_way_cut_blocks_one_direction_only() {
    let mut net = Network::builder().seed(71).nodes(3).build();
    form_cluster(&mut net, &["n1", "n2", "n3"], &["n1", "n2", "n3"]);
    net.partition_oneway("n1", "n3");
    net.partition_oneway("n2", "n3");
    net.wait_until(
        |n| n.view("n3").is_some_and(|v| v.physical.len() == 1),
        10_000,
    )
    .expect("n3 loses its members");
    assert!(net
        .view("n1")
        .unwrap()
        .physical
        .iter()
        .any(|(n, _)| n == "n3"));
    net.heal();
    wait_joined(&mut net, &["n3"]);
}

/// A wiped node comes back empty and joins again.
#[test]
fn a_wiped_node_comes_back_empty_and_joins_again() {
    let mut net = Network::builder().seed(72).nodes(4).build();
    let tag = form_cluster(&mut net, &["n1", "n2", "n3", "n4"], &["n1", "n2", "n3"]);
    net.wipe("n4");
    assert!(!net.is_running("n4"));
    assert_eq!(net.vault("n4"), &Vault::empty());
    net.start("n4");
    assert!(net.view("n4").unwrap().local.is_none());
    wait_joined(&mut net, &["n4"]);
    assert_eq!(net.vault("n4").local.as_ref().unwrap().config.tag, tag);
    let empty_starts = net
        .events("n4")
        .filter(|(_, e)| matches!(e, Event::Started { tag: None, .. }))
        .count();
    assert_eq!(empty_starts, 2);
}

/// With loss, the protocol's retries and the user's resends still get the cluster formed.
#[test]
fn a_lossy_network_still_forms_the_cluster() {
    let mut net = Network::builder().seed(73).nodes(3).loss(0.05).build();
    form_cluster(&mut net, &["n1", "n2", "n3"], &[]);
    assert_eq!(net.leader_lt().unwrap().1, vec!["n1", "n2", "n3"]);
}
