//! Unit tests of `src/node/ms.rs`: Meta Storage requests name their incarnation.

use crate::cluster_config::ClusterConfig;
use crate::config::{NodeConfig, Timing};
use crate::message::{Envelope, Message};
use crate::node::{Node, Output};
use crate::restore::RestoredCluster;
use crate::types::{Addr, ClusterId, ClusterTag, InstanceId, LaunchId};
use std::sync::Arc;

/// The only Meta Storage voter of a restored cluster `a` (version 1), ticked until it leads its
/// Meta Storage, and the time it was last ticked.
fn lone_ms_leader() -> (Node, u64) {
    let addr = Addr::new([10, 0, 0, 1], 7000);
    let cluster = RestoredCluster {
        config: ClusterConfig {
            tag: ClusterTag {
                name: "a".into(),
                id: ClusterId(0xA),
            },
            cmg_nodes: vec!["a1".into()],
            ms_nodes: vec!["a1".into()],
            ms_version: 1,
        },
        product: Default::default(),
        protocol: Default::default(),
        addrs: [("a1".to_string(), addr)].into_iter().collect(),
    };
    let cfg = NodeConfig {
        name: "a1".into(),
        addr,
        product: Default::default(),
        protocol: Default::default(),
        seeds: Vec::new(),
        bug: None,
    };
    let timing = Timing::default();
    let tick_ms = timing.tick_ms;
    let vault = cluster.vault_of("a1", 1);
    let (mut node, _) = Node::new(cfg, timing, LaunchId(1), 1, &vault, 0).unwrap();
    let mut now = 0;
    let leads = |node: &Node| {
        node.view()
            .ms
            .is_some_and(|g| g.leader.as_deref() == Some("a1"))
    };
    while !leads(&node) {
        now += tick_ms;
        assert!(now < 60_000, "a lone voter leads within a minute");
        let _ = node.tick(now);
    }
    (node, now)
}

fn from(msg: Message) -> Envelope {
    Envelope {
        from: Addr::new([10, 0, 0, 9], 7000),
        from_launch: LaunchId(9),
        msg,
    }
}

fn answered_reconfigured(out: &Output) -> bool {
    out.messages
        .iter()
        .any(|(_, e)| matches!(e.msg, Message::MsReconfigured { .. }))
}

/// Fuzz seed 23001311: two clusters shared a physical topology, and one cluster's CMG leader
/// asked every member to adopt its Meta Storage list; the other cluster's Meta Storage leader
/// adopted it (a list of the first cluster's node), lost its leadership and never had a leader
/// again. A replica acts on a reconfiguration or learner request only for its own incarnation.
#[test]
fn meta_storage_requests_of_another_incarnation_are_ignored() {
    let (mut node, mut now) = lone_ms_leader();
    let ours = node.view().ms.as_ref().unwrap().instance;
    let theirs = InstanceId(ours.0 ^ 0xFF);
    let reconfigure = |instance, voter: &str| {
        from(Message::MsReconfigure {
            version: 2,
            nodes: vec![voter.to_string()],
            instance,
        })
    };
    let add_learner = |instance| {
        from(Message::MsAddLearner {
            name: "z9".into(),
            instance,
        })
    };
    now += 1;
    let out = node.receive(now, reconfigure(theirs, "b1"));
    assert!(!answered_reconfigured(&out));
    let out = node.receive(now, add_learner(theirs));
    assert!(out.messages.is_empty(), "{:?}", out.messages);
    for _ in 0..20 {
        now += 100;
        let _ = node.tick(now);
    }
    let view = node.view();
    let ms = view.ms_state.as_ref().unwrap();
    assert_eq!((ms.version, ms.nodes.clone()), (1, vec!["a1".to_string()]));
    assert!(ms.learners.is_empty(), "{:?}", ms.learners);
    assert_eq!(view.ms.as_ref().unwrap().leader.as_deref(), Some("a1"));

    // Requests for its own incarnation are carried out.
    let _ = node.receive(now, add_learner(ours));
    let _ = node.receive(now, reconfigure(ours, "a1"));
    for _ in 0..20 {
        now += 100;
        let _ = node.tick(now);
    }
    let out = node.receive(now, reconfigure(ours, "a1"));
    assert!(
        answered_reconfigured(&out),
        "version 2 applied and confirmed"
    );
    let view = node.view();
    let ms = view.ms_state.as_ref().unwrap();
    assert_eq!((ms.version, ms.nodes.clone()), (2, vec!["a1".to_string()]));
    assert!(ms.learners.contains("z9"), "{:?}", ms.learners);
}

/// Issue 13: a view holds the replicas' states and the local state without copying them (the
/// harness takes every node's view every 20 ms), and a write after the view copies the state
/// instead of changing what the view shows.
#[test]
fn views_share_the_node_state_until_the_node_writes() {
    let (mut node, _) = lone_ms_leader();
    let before = node.view();
    let again = node.view();
    let (ms, ms_again) = (before.ms_state.as_ref(), again.ms_state.as_ref());
    assert!(Arc::ptr_eq(ms.unwrap(), ms_again.unwrap()), "no copy");
    if let (Some(cmg), Some(cmg_again)) = (&before.cmg_state, &again.cmg_state) {
        assert!(Arc::ptr_eq(cmg, cmg_again), "no copy");
    }
    let (local, local_again) = (before.local.as_ref(), again.local.as_ref());
    assert!(Arc::ptr_eq(local.unwrap(), local_again.unwrap()), "no copy");

    // A write after the views: the node's local state is copied, the views keep theirs.
    node.store_ms_config(2, vec!["a1".to_string()]);
    let after = node.view();
    assert_eq!(after.local.as_ref().unwrap().config.ms_version, 2);
    let old = before.local.as_ref().unwrap();
    assert_eq!(old.config.ms_version, 1, "the old view");
    assert!(
        Arc::ptr_eq(old, again.local.as_ref().unwrap()),
        "still shared"
    );
}
