//! Graceful leave (`Node::leave`, docs/protocol.md "Graceful leave"): a node that leaves on
//! purpose is out of every CMG replica's logical topology well before failure detection would
//! have removed it; a lost `Leaving` still ends by failure detection; a leaving CMG voter and a
//! leaving CMG leader.

use super::*;
use crate::RemovalCause;

/// n1..n5, CMG and Meta Storage n1..n3, all joined.
fn cluster(seed: u64) -> Network {
    let mut net = Network::builder().seed(seed).nodes(5).build();
    form_cluster(
        &mut net,
        &["n1", "n2", "n3", "n4", "n5"],
        &["n1", "n2", "n3"],
    );
    net
}

/// True when no running CMG replica other than `gone`'s holds `gone` in its LT.
fn out_of_every_lt(net: &Network, gone: &str) -> bool {
    ["n1", "n2", "n3"]
        .into_iter()
        .filter(|l| *l != gone)
        .all(|l| {
            net.view(l)
                .and_then(|v| v.lt())
                .is_some_and(|lt| !lt.members.contains_key(gone))
        })
}

/// How long after `net`'s current time `gone` is out of every replica's LT, in ms.
fn time_to_leave_the_lt(net: &mut Network, gone: &str) -> u64 {
    let start = net.now_ms();
    net.wait_until(|n| out_of_every_lt(n, gone), PATIENCE_MS)
        .unwrap_or_else(|e| panic!("{gone} leaves the LT: {e}"));
    net.now_ms() - start
}

#[test]
fn a_joined_node_that_leaves_is_out_of_every_lt_well_before_the_failure_timeout() {
    let mut net = cluster(90);
    let failure_timeout = net.timing().failure_timeout_ms;
    net.leave("n5");
    let view = net.view("n5").unwrap();
    assert!(view.is_stopped() && view.left_at_ms.is_some() && view.halted.is_none());
    let told = net.events("n5").find_map(|(_, e)| match e {
        Event::LeftGracefully { told } => Some(told.clone()),
        _ => None,
    });
    assert_eq!(told.unwrap(), vec!["n1", "n2", "n3", "n4"]);
    let took = time_to_leave_the_lt(&mut net, "n5");
    assert!(took < failure_timeout / 4, "took {took} ms");
    for l in ["n1", "n2", "n3", "n4"] {
        assert!(net.events(l).any(|(_, e)| matches!(
            e,
            Event::MemberRemoved { member, cause: RemovalCause::Left, .. } if member == "n5"
        )));
    }
    // The others go on; a left node ignores them, and comes back with a restart.
    net.run_for(3 * failure_timeout);
    assert!(net.view("n5").unwrap().is_stopped());
    assert_eq!(net.leader_lt().unwrap().1, vec!["n1", "n2", "n3", "n4"]);
    net.restart("n5");
    wait_joined(&mut net, &["n5"]);
}

#[test]
fn a_leave_whose_messages_are_lost_ends_by_failure_detection() {
    let mut net = cluster(91);
    let failure_timeout = net.timing().failure_timeout_ms;
    net.partition(&[&["n5"], &["n1", "n2", "n3", "n4"]]);
    net.leave("n5");
    let took = time_to_leave_the_lt(&mut net, "n5");
    // Counted from when the others last heard it, a little before it left.
    assert!(took >= failure_timeout / 2, "took {took} ms");
    let leader = net.cmg_leader().unwrap();
    assert!(net.events(&leader).any(|(_, e)| matches!(
        e,
        Event::MemberRemoved { member, cause: RemovalCause::Dead, .. } if member == "n5"
    )));
}

#[test]
fn a_leaving_cmg_voter_leaves_the_lt_and_the_group_goes_on() {
    let mut net = cluster(92);
    let failure_timeout = net.timing().failure_timeout_ms;
    let leader = net.cmg_leader().unwrap();
    let voter = ["n1", "n2", "n3"]
        .into_iter()
        .find(|l| *l != leader)
        .unwrap();
    net.leave(voter);
    let took = time_to_leave_the_lt(&mut net, voter);
    assert!(took < failure_timeout / 4, "took {took} ms");
    assert_eq!(net.cmg_leader(), Some(leader.clone()), "the leader stays");
    // The group's voters do not change: the leaver stays a voter, counted as down.
    let voters = &net.view(&leader).unwrap().cmg.as_ref().unwrap().voters;
    assert!(voters.contains(&voter.to_string()));
    net.restart(voter);
    wait_joined(&mut net, &[voter]);
}

#[test]
fn a_leaving_cmg_leader_hands_over_and_is_removed_by_its_successor() {
    let mut net = cluster(93);
    let failure_timeout = net.timing().failure_timeout_ms;
    let leader = net.cmg_leader().unwrap();
    net.leave(&leader);
    let took = time_to_leave_the_lt(&mut net, &leader);
    assert!(took < failure_timeout / 4, "took {took} ms");
    let successor = net.cmg_leader().expect("a new leader");
    assert_ne!(successor, leader);
    let others: Vec<&str> = ["n1", "n2", "n3", "n4", "n5"]
        .into_iter()
        .filter(|l| *l != leader)
        .collect();
    wait_joined(&mut net, &others);
    assert_eq!(net.leader_lt().unwrap().1, others);
}

#[test]
fn a_node_that_left_answers_users_that_it_stopped() {
    let mut net = cluster(94);
    net.leave("n4");
    let request = net.send_init("n4", params("test", &["n1"], &["n1"]));
    net.wait_until(|n| n.init_answer(request).is_some(), PATIENCE_MS)
        .unwrap();
    assert_eq!(
        net.init_answer(request).unwrap().clone().unwrap_err(),
        crate::InitError::NodeStopped {
            reason: "left the cluster".into()
        }
    );
}
