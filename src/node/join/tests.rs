//! Unit tests of the joining node's choice of whom to talk to (`src/node/join.rs`).

use super::*;
use crate::config::{NodeConfig, Timing};
use crate::message::Envelope;
use crate::node::Output;
use crate::topology::Identity;
use crate::types::{
    ClusterId, ClusterTag, InstanceId, LaunchId, NodeInfo, ProductVersion, ProtocolVersion,
};
use crate::vault::Vault;

fn tag(id: u128) -> ClusterTag {
    ClusterTag {
        name: "c".into(),
        id: ClusterId(id),
    }
}

fn addr(n: u8) -> Addr {
    Addr::new([10, 0, 0, n], 7000)
}

/// The record of `name` at 10.0.0.`n`, holding `tag` and hosting a replica of `replica_of`.
fn record(name: &str, n: u8, tag: Option<ClusterTag>, replica_of: Option<u64>) -> MemberRecord {
    MemberRecord {
        identity: Identity {
            info: NodeInfo {
                name: name.into(),
                addr: addr(n),
                launch: LaunchId(u64::from(n)),
                protocol: ProtocolVersion(1),
                product: ProductVersion::new(3, 0, 0),
            },
            tag: tag.clone(),
            init: None,
            replica_of: replica_of.map(InstanceId),
            incarnation: 1,
        },
        admitted_tag: tag,
        admitted_at_ms: 0,
        admitted_by: "n1".into(),
        admitter_tag: None,
    }
}

/// A fresh empty node `j` at 10.0.0.9 (launch 9) seeding n1 at 10.0.0.1, outside any topology.
fn fresh_node() -> Node {
    let cfg = NodeConfig {
        name: "j".into(),
        addr: addr(9),
        product: Default::default(),
        protocol: Default::default(),
        seeds: vec![addr(1)],
        bug: None,
    };
    let (node, _) = Node::new(cfg, Timing::default(), LaunchId(9), 1, &Vault::empty(), 0)
        .expect("a valid node");
    node
}

/// An empty node `j` at 10.0.0.9 whose joiner follows cluster 1 (CMG incarnation 1, voters
/// n1, n2, n3) through leader n1 at 10.0.0.1.
fn joining_node() -> Node {
    let mut node = fresh_node();
    let notice = ClusterStateNotice {
        term: 2,
        leader: record("n1", 1, Some(tag(1)), None).identity.info,
        cmg_instance: InstanceId(1),
        cmg_nodes: vec!["n1".into(), "n2".into(), "n3".into()],
        tag: tag(1),
        lt_version: 0,
        member: false,
        receiver_launch: LaunchId(9),
    };
    node.joiner.follow(&notice, 0, 2_000);
    node
}

#[test]
fn only_nodes_of_the_followed_cluster_are_asked_or_followed() {
    let node = joining_node();
    assert!(node.of_followed_cluster(&record("n2", 2, Some(tag(1)), None)));
    assert!(
        node.of_followed_cluster(&record("n2", 2, None, Some(1))),
        "a voter that moved before its init committed hosts the incarnation's replica"
    );
    assert!(!node.of_followed_cluster(&record("n2", 2, Some(tag(2)), None)));
    assert!(!node.of_followed_cluster(&record("n2", 2, None, None)));
    assert!(!node.of_followed_cluster(&record("n2", 2, Some(tag(2)), Some(2))));
    assert!(
        !Node::new(
            node.cfg.clone(),
            Timing::default(),
            LaunchId(1),
            1,
            &Vault::empty(),
            0
        )
        .expect("valid")
        .0
        .of_followed_cluster(&record("n2", 2, Some(tag(1)), None)),
        "a node that follows no cluster follows nobody"
    );
}

#[test]
fn a_joiner_whose_leader_left_its_view_asks_a_voter_of_its_cluster() {
    let mut node = joining_node();
    assert_eq!(node.voter_in_sight(), None, "no voter in the view");
    // n2 of another cluster sorts first; n3 of the followed one comes after it.
    node.topo
        .merge(record("n2", 2, Some(tag(2)), None), true, 0);
    node.topo
        .merge(record("n3", 3, Some(tag(1)), None), true, 0);
    assert_eq!(
        node.voter_in_sight(),
        Some(("n3".to_string(), addr(3))),
        "the namesake of another cluster is passed over"
    );
    node.topo
        .merge(record("n1", 1, Some(tag(1)), None), true, 0);
    assert_eq!(node.voter_in_sight(), None, "the leader is in the view");
}

/// Decision (step 1 before step 3, docs/protocol.md Step 3): a cluster state that overtakes the
/// node's admission is acted on when the admission comes, not at the leader's resend a
/// `cluster_state_retry_ms` later (the demo's late joiner waited 1.1 s for it).
#[test]
fn a_cluster_state_that_overtook_the_admission_is_acted_on_at_the_admission() {
    let mut node = fresh_node();
    let leader = record("n1", 1, Some(tag(1)), None);
    let notice = ClusterStateNotice {
        term: 2,
        leader: leader.identity.info.clone(),
        cmg_instance: InstanceId(1),
        cmg_nodes: vec!["n1".into()],
        tag: tag(1),
        lt_version: 0,
        member: false,
        receiver_launch: LaunchId(9),
    };
    let from_n1 = |msg| Envelope {
        from: addr(1),
        from_launch: LaunchId(1),
        msg,
    };
    let sends_join_request = |out: &Output| {
        out.messages
            .iter()
            .any(|(to, e)| *to == addr(1) && matches!(e.msg, Message::JoinRequest { .. }))
    };
    let early = node.receive(10, from_n1(Message::ClusterState(notice)));
    assert!(!sends_join_request(&early), "not in the topology yet");
    let mut you = record("j", 9, None, None);
    you.identity.info.launch = LaunchId(9);
    let accepted = Message::HandshakeAccepted {
        you,
        members: vec![std::sync::Arc::new(leader)],
    };
    let admitted = node.receive(12, from_n1(accepted));
    assert!(
        sends_join_request(&admitted),
        "the kept cluster state is followed as the node enters the topology"
    );
}
