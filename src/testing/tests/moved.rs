//! A node restarted at another address with its vault while its old instance is still in the
//! logical topology (Ignite's node moved to a new host; docs/protocol.md "Restart at another
//! address"): it rejoins under its name, its old entry is replaced, nobody keeps sending to the
//! old address, and no name has two entries.

use super::*;
use crate::JoinPhase;

/// n1..n5 (seed member n1), CMG and Meta Storage `cmg`, all joined.
fn cluster(seed: u64, cmg: &[&str]) -> (Network, ClusterTag) {
    let mut net = Network::builder().seed(seed).nodes(5).build();
    let tag = form_cluster(&mut net, &["n1", "n2", "n3", "n4", "n5"], cmg);
    (net, tag)
}

/// Moves the node `pick` names (at once: its old instance still in every LT), then checks that
/// it rejoins at its new address and that the old address falls silent.
fn moved_node_rejoins(seed: u64, cmg: &[&str], pick: impl Fn(&Network) -> String) {
    let (mut net, tag) = cluster(seed, cmg);
    let label = pick(&net);
    let label = label.as_str();
    let old = net.addr(label);
    let new = net.restart_at_new_addr(label);
    assert!(
        net.leader_lt()
            .is_none_or(|(_, m)| m.contains(&label.to_string())),
        "the old instance is still in the LT"
    );
    let launch = net.view(label).unwrap().launch;
    net.wait_until(
        |n| {
            n.joined(&[label])
                && cmg.iter().all(|l| {
                    n.view(l).and_then(|v| v.lt()).is_some_and(|lt| {
                        lt.members
                            .get(label)
                            .is_some_and(|i| i.addr == new && i.launch == launch)
                    })
                })
        },
        PATIENCE_MS,
    )
    .unwrap_or_else(|e| panic!("{label} rejoins at its new address: {e}"));
    assert!(matches!(
        net.view(label).unwrap().join,
        JoinPhase::Joined { .. }
    ));
    assert_eq!(net.vault(label).local.as_ref().unwrap().config.tag, tag);
    assert!(net.view(label).unwrap().halted.is_none());
    // Everyone settles on the new address: after a while, nothing goes to the old one.
    net.run_for(4 * net.timing().failure_timeout_ms + net.timing().rejoin_probe_ms);
    let before = net.sent_to_nowhere(old);
    net.run_for(3 * net.timing().rejoin_probe_ms);
    assert_eq!(
        net.sent_to_nowhere(old),
        before,
        "messages still go to {label}'s old address {old}"
    );
    wait_joined(&mut net, &["n1", "n2", "n3", "n4", "n5"]);
    for l in ["n1", "n2", "n3", "n4", "n5"] {
        let view = net.view(l).unwrap();
        let named: Vec<_> = view.physical.iter().filter(|(n, _)| n == label).collect();
        assert_eq!(named, vec![&(label.to_string(), launch)], "{l}'s view");
    }
}

const CMG: [&str; 3] = ["n1", "n2", "n3"];

#[test]
fn a_plain_member_moved_to_another_address_rejoins_under_its_name() {
    moved_node_rejoins(100, &CMG, |_| "n5".into());
}

#[test]
fn a_cmg_voter_moved_to_another_address_rejoins_under_its_name() {
    moved_node_rejoins(101, &CMG, |_| "n2".into());
}

/// The CMG is n2..n4, so that its leader is not n1, every node's seed: probing a configured
/// seed for ever is the seed list's doing, not a stale address of the protocol's.
#[test]
fn the_cmg_leader_moved_to_another_address_rejoins_under_its_name() {
    moved_node_rejoins(102, &["n2", "n3", "n4"], |n| n.cmg_leader().unwrap());
}
