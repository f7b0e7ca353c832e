//! A named node's judgement of an init while a cancel of the cluster it holds is under way
//! (docs/protocol.md Step 2.6, "a cancel under way is no ground for a refusal"), driven through
//! `Node`'s public API: a joined node that is no CMG replica waits for the CMG's decision on an
//! undecided cancel, and answers neither a `StartGroups` nor a user's init of other parameters
//! until it knows the fate — the decided cancel (it clears, then starts), a refusal (the cluster
//! was answered: other parameters are refused, idempotence), or the lapse of
//! `UNDER_WAY_INIT_TIMEOUTS` init timeouts (it judges as before).

use std::collections::BTreeMap;

use crate::cluster_config::ClusterConfig;
use crate::config::{NodeConfig, Timing};
use crate::event::Event;
use crate::init::{InitParams, InitPlan, StartOutcome, UNDER_WAY_INIT_TIMEOUTS};
use crate::message::{Envelope, Message};
use crate::node::{Node, Output};
use crate::restore::RestoredCluster;
use crate::types::{Addr, ClusterId, ClusterTag, InstanceId, LaunchId, RequestId};

fn addr(i: u8) -> Addr {
    Addr::new([10, 0, 0, i], 7000)
}

/// The cluster a3 holds (CMG and Meta Storage a1, a2; a3 joined it and hosts no replica).
fn cluster() -> RestoredCluster {
    RestoredCluster {
        config: ClusterConfig {
            tag: ClusterTag {
                name: "c".into(),
                id: ClusterId(0xC1),
            },
            cmg_nodes: vec!["a1".into(), "a2".into()],
            ms_nodes: vec!["a1".into(), "a2".into()],
            ms_version: 1,
        },
        product: Default::default(),
        protocol: Default::default(),
        addrs: [("a1".to_string(), addr(1)), ("a2".to_string(), addr(2))]
            .into_iter()
            .collect(),
    }
}

/// a3, started from its vault of [`cluster`] at time 0.
fn node() -> Node {
    let cfg = NodeConfig {
        name: "a3".into(),
        addr: addr(3),
        product: Default::default(),
        protocol: Default::default(),
        seeds: Vec::new(),
        bug: None,
    };
    let vault = cluster().vault_of("a3", 1);
    let (node, _) = Node::new(cfg, Timing::default(), LaunchId(3), 1, &vault, 0).unwrap();
    node
}

fn from(i: u8, msg: Message) -> Envelope {
    Envelope {
        from: addr(i),
        from_launch: LaunchId(i as u64),
        msg,
    }
}

/// Another cluster's init naming a3 alone, from initiator a4.
fn start_groups() -> Envelope {
    let plan = InitPlan {
        init: InstanceId(0xA4),
        config: ClusterConfig {
            tag: ClusterTag {
                name: "c".into(),
                id: ClusterId(0xA4),
            },
            cmg_nodes: vec!["a3".into()],
            ms_nodes: vec!["a3".into()],
            ms_version: 1,
        },
        product: Default::default(),
        protocol: Default::default(),
        initiator: "a4".into(),
        addrs: BTreeMap::from([("a3".to_string(), addr(3))]),
    };
    from(4, Message::StartGroups { plan })
}

fn cancel(decided: bool) -> Envelope {
    let init = cluster().instance();
    let reason = "test".into();
    from(
        1,
        Message::CancelInit {
            init,
            reason,
            decided,
        },
    )
}

/// a3's answer to `StartGroups`, if it gave one.
fn start_answer(out: &Output) -> Option<StartOutcome> {
    out.messages.iter().find_map(|(to, e)| match &e.msg {
        Message::StartGroupsAck { outcome, .. } if *to == addr(4) => Some(outcome.clone()),
        _ => None,
    })
}

#[test]
fn a_cancel_under_way_withholds_the_judgement_until_the_decided_cancel() {
    let mut n = node();
    let _ = n.receive(10, cancel(false));
    assert_eq!(start_answer(&n.receive(20, start_groups())), None);
    let user = Addr::new([10, 0, 9, 9], 7000);
    let params = InitParams {
        cluster_name: "c".into(),
        cmg_nodes: vec!["a3".into()],
        ms_nodes: Vec::new(),
    };
    let request = RequestId(1);
    let out = n.receive(
        30,
        Envelope {
            from: user,
            from_launch: LaunchId(0),
            msg: Message::InitRequest { request, params },
        },
    );
    assert!(
        out.events.iter().any(
            |e| matches!(e, Event::InitDeferred { held, .. } if *held == cluster().instance())
        ),
        "{out:?}"
    );
    assert!(
        !out.messages
            .iter()
            .any(|(_, e)| matches!(e.msg, Message::InitResponse { .. })),
        "the user's init is left unanswered: {out:?}"
    );
    let _ = n.receive(40, cancel(true));
    assert_eq!(
        start_answer(&n.receive(50, start_groups())),
        Some(StartOutcome::Started),
        "the cluster is cleared: the new init starts"
    );
}

#[test]
fn a_refused_cancel_lets_other_parameters_be_refused_again() {
    let mut n = node();
    let _ = n.receive(10, cancel(false));
    assert_eq!(start_answer(&n.receive(20, start_groups())), None);
    let tag = cluster().config.tag;
    let init = cluster().instance();
    let _ = n.receive(30, from(1, Message::CancelRefused { init, tag }));
    assert!(matches!(
        start_answer(&n.receive(40, start_groups())),
        Some(StartOutcome::Mismatch { .. })
    ));
}

#[test]
fn a_cancel_whose_fate_never_comes_lapses_after_its_bound() {
    let mut n = node();
    let _ = n.receive(10, cancel(false));
    let lapse = 10 + UNDER_WAY_INIT_TIMEOUTS * Timing::default().init_timeout_ms;
    assert_eq!(start_answer(&n.receive(lapse - 1, start_groups())), None);
    assert!(matches!(
        start_answer(&n.receive(lapse, start_groups())),
        Some(StartOutcome::Mismatch { .. })
    ));
}
