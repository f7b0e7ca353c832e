//! The joiner's account of its join (`NodeView::join_progress`): when its phase began, the leader
//! it believes, its last join message sent and received — following the protocol as it runs.

use super::*;
use crate::{JoinPhase, MessageKind};

/// A late node joins a formed cluster: its progress ends with its join ready to the leader and
/// the leader's answer, its phase clock at the moment it joined.
#[test]
fn a_joined_node_shows_its_last_join_exchange_with_the_leader() {
    let mut net = Network::builder().seed(11).nodes(4).build();
    form_cluster(&mut net, &["n1", "n2", "n3"], &["n1", "n2", "n3"]);
    net.start("n4");
    wait_joined(&mut net, &["n4"]);
    let leader = net.cmg_leader().expect("a CMG leader");
    let view = net.view("n4").unwrap();
    let progress = &view.join_progress;
    assert_eq!(progress.leader.as_deref(), Some(leader.as_str()));
    assert!(progress.attempt >= 1, "{progress:?}");
    assert_eq!(
        progress.cluster,
        view.local.as_ref().map(|l| l.config.tag.clone())
    );
    let sent = progress.last_sent.as_ref().expect("a join message sent");
    assert_eq!(
        (sent.kind, sent.peer.as_str()),
        (MessageKind::JoinReady, leader.as_str())
    );
    let got = progress
        .last_received
        .as_ref()
        .expect("a join message received");
    assert_eq!(
        (got.kind, got.peer.as_str()),
        (MessageKind::JoinReadyResponse, leader.as_str())
    );
    let joined_at = net
        .events("n4")
        .find(|(_, e)| matches!(e, Event::Joined { .. }))
        .map(|(at, _)| at)
        .unwrap();
    assert!(
        sent.at_ms <= got.at_ms && got.at_ms == joined_at,
        "{progress:?}"
    );
    assert_eq!(progress.since_ms, joined_at, "joined when the answer came");
}

/// A node whose join request left, then whose every answer from the CMG is lost, stays asking:
/// its phase clock stays where it began asking, it keeps resending to the leader it believes,
/// and the last message it received is from before the cut.
#[test]
fn a_node_cut_off_from_its_cmg_keeps_asking_the_leader_it_believes() {
    let mut net = Network::builder().seed(12).nodes(4).build();
    form_cluster(&mut net, &["n1", "n2", "n3"], &["n1", "n2", "n3"]);
    net.start("n4");
    net.wait_until(
        |n| {
            n.view("n4")
                .is_some_and(|v| v.join_progress.last_sent.is_some())
        },
        PATIENCE_MS,
    )
    .expect("n4 asks to join");
    let asked = net.view("n4").unwrap().join_progress.clone();
    assert_eq!(net.view("n4").unwrap().join, JoinPhase::Requesting);
    let cut_ms = net.now_ms();
    for cmg in ["n1", "n2", "n3"] {
        net.partition_oneway(cmg, "n4");
    }
    let retry = net.timing().join_retry_ms;
    net.run_for(retry + retry / 2);
    let view = net.view("n4").unwrap();
    let progress = &view.join_progress;
    assert_eq!(view.join, JoinPhase::Requesting);
    assert_eq!(
        progress.since_ms, asked.since_ms,
        "the same phase since it began asking"
    );
    assert_eq!(progress.leader, asked.leader);
    assert_eq!(progress.attempt, asked.attempt);
    let sent = progress.last_sent.as_ref().unwrap();
    assert_eq!(sent.kind, MessageKind::JoinRequest);
    assert_eq!(Some(&sent.peer), asked.leader.as_ref());
    assert!(
        sent.at_ms >= cut_ms + retry,
        "resent after join_retry_ms: {sent:?}"
    );
    let got = progress.last_received.as_ref().unwrap();
    assert_eq!(got.kind, MessageKind::ClusterState);
    assert!(
        got.at_ms <= cut_ms,
        "nothing of the join arrived since the cut: {got:?}"
    );
}
