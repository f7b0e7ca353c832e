//! A name held in two clusters that share a physical topology (the two-cluster hazard that
//! docs/protocol.md reports and does not prevent). Names are unique within a cluster — its CMG
//! refuses a second live holder (docs/spec.md §5) — but a node of another cluster may carry the
//! same name. The cluster's groups must mean their own member by that name
//! (docs/protocol.md, "the CMG says who a name is in its cluster").

use super::*;
use crate::testing::NodeSetup;

/// Cluster `a` (a1 its only CMG and Meta Storage voter) and cluster `b` (x its only voter) meet
/// in one physical topology; a1's view holds `b`'s x before an empty node named x (label x2)
/// arrives. x2 is validated by `a`'s CMG (nobody of `a` holds the name) and must then catch up
/// `a`'s Meta Storage as a learner (it never hears from x until it joined: b's leader would
/// refuse it as a duplicate of its own x, rightly): before the fix, a1's address book kept the name at `b`'s x,
/// which it met first, so every learner message went there and x2 stayed recovering for ever
/// (scenario `cmg-voter-away-past-its-start-grace-outlives-first-admitted-wins-refusals`,
/// seed 3).
#[test]
fn a_namesake_of_another_clusters_node_joins_and_catches_up() {
    let a = restored("a", 0xA, &["a1"], 1, &[("a1", 0)]);
    let b = restored("b", 0xB, &["x"], 1, &[("x", 1)]);
    let mut net = Network::builder()
        .seed(71)
        .node(NodeSetup::new("a1").vault(a.vault_of("a1", 1)))
        .node(NodeSetup::new("x").seeds(&["a1"]).vault(b.vault_of("x", 1)))
        .node(NodeSetup::new("x").label("x2").seeds(&["a1"]))
        .build();
    net.start("a1");
    net.start("x");
    let (x_addr, x2_addr) = (net.addr("x"), net.addr("x2"));
    net.wait_until(
        |n| {
            n.joined(&["a1", "x"])
                && n.view("a1")
                    .is_some_and(|v| v.physical.iter().any(|(name, _)| name == "x"))
        },
        PATIENCE_MS,
    )
    .expect("both clusters run, and a1 sees b's x");
    // x2 hears only of a's leader (b's x would refuse it as a duplicate of its own x).
    net.partition(&[&["x"], &["x2"]]);
    net.start("x2");
    net.wait_until(|n| n.joined(&["x2"]), PATIENCE_MS)
        .expect("x2 catches up a's Meta Storage and joins a");
    // Once the two namesakes meet, each cluster keeps its own.
    net.heal();
    net.run_for(10_000);
    assert!(net.joined(&["a1", "x", "x2"]));

    let a1 = net.view("a1").unwrap();
    let member = &a1.lt().unwrap().members["x"];
    assert_eq!(member.addr, x2_addr, "a's LT holds x2 under the name");
    let ms = a1.ms.as_ref().unwrap();
    assert!(ms.learners.iter().any(|l| l == "x"), "x2 is a's learner");
    assert_eq!(
        net.vault("x2").local.as_ref().unwrap().config.tag,
        a.config.tag
    );
    // b's x keeps its own cluster and its name there.
    let x = net.view("x").unwrap();
    assert!(x.is_joined() && x.halted.is_none());
    assert_eq!(x.lt().unwrap().members["x"].addr, x_addr);
    assert_eq!(
        net.vault("x").local.as_ref().unwrap().config.tag,
        b.config.tag
    );
}
