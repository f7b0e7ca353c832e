//! The joiner's rules, one test each.

use super::*;
use crate::types::{ClusterId, LaunchId, NodeInfo, ProductVersion, ProtocolVersion};

fn tag(id: u128) -> ClusterTag {
    ClusterTag {
        name: "c".into(),
        id: ClusterId(id),
    }
}

fn addr(n: u8) -> Addr {
    Addr::new([10, 0, 0, n], 7000)
}

/// A cluster state of cluster `id` (CMG incarnation `id`) from leader `n{leader}` at `term`.
fn notice(id: u128, leader: u8, term: u64) -> ClusterStateNotice {
    ClusterStateNotice {
        term,
        leader: NodeInfo {
            name: format!("n{leader}"),
            addr: addr(leader),
            launch: LaunchId(1),
            protocol: ProtocolVersion(1),
            product: ProductVersion::new(3, 0, 0),
        },
        cmg_instance: InstanceId(id as u64),
        cmg_nodes: vec![format!("n{leader}")],
        tag: tag(id),
        lt_version: 0,
        member: false,
        receiver_launch: LaunchId(0),
    }
}

#[test]
fn a_waiting_joiner_follows_the_leader_and_requests() {
    let mut j = Joiner::new(0);
    assert_eq!(j.follow(&notice(1, 1, 3), 0, 100), Some(JoinSend::Request));
    assert_eq!(j.phase(), &JoinPhase::Requesting);
    assert_eq!(j.cluster, Some((tag(1), InstanceId(1))));
    let to = j.sending(JoinSend::Request, 5).unwrap();
    assert_eq!((to.name.as_str(), to.addr, to.attempt), ("n1", addr(1), 1));
    assert!(j.expects_response(1));
    assert!(!j.expects_response(2));
    assert!(!j.expects_ready_response(1));
}

#[test]
fn a_term_below_the_highest_seen_for_its_tag_is_stale() {
    let mut j = Joiner::new(0);
    assert!(!j.is_stale(&tag(1), 0));
    j.follow(&notice(1, 1, 3), 0, 100);
    assert!(j.is_stale(&tag(1), 2));
    assert!(!j.is_stale(&tag(1), 3));
    assert!(!j.is_stale(&tag(2), 0), "terms are per tag");
}

#[test]
fn only_a_change_of_cluster_makes_a_requesting_joiner_start_a_new_attempt() {
    let mut j = Joiner::new(0);
    j.follow(&notice(1, 1, 3), 0, 100);
    j.follow(&notice(1, 2, 4), 0, 100);
    assert_eq!(
        j.sending(JoinSend::Request, 0).unwrap().attempt,
        1,
        "same cluster, new leader"
    );
    j.follow(&notice(2, 3, 1), 0, 100);
    assert_eq!(
        j.sending(JoinSend::Request, 0).unwrap().attempt,
        2,
        "another cluster"
    );
}

#[test]
fn a_recovering_joiner_asks_again_only_after_a_failure_timeout() {
    let mut j = Joiner::new(0);
    j.follow(&notice(1, 1, 3), 0, 100);
    j.sending(JoinSend::Request, 50);
    j.accepted(7, 0);
    assert_eq!(j.recovery_target(), Some(7));
    assert!(j.is_accepted());
    assert_eq!(j.follow(&notice(1, 1, 3), 149, 100), None);
    assert_eq!(
        j.follow(&notice(1, 1, 3), 150, 100),
        Some(JoinSend::Request)
    );
    assert_eq!(j.phase(), &JoinPhase::Requesting);
    assert_eq!(j.sending(JoinSend::Request, 150).unwrap().attempt, 2);
}

#[test]
fn a_ready_joiner_resends_join_ready_and_a_joined_one_requests_anew() {
    let mut j = Joiner::new(0);
    j.follow(&notice(1, 1, 3), 0, 100);
    j.accepted(1, 0);
    j.recovered(0);
    assert_eq!(j.follow(&notice(1, 1, 3), 0, 100), Some(JoinSend::Ready));
    assert!(j.expects_ready_response(1));
    j.joined(4, 0);
    assert!(j.is_joined());
    // A notice sent after it was removed (LT version 5) makes it ask anew.
    let mut removed = notice(1, 1, 3);
    removed.lt_version = 5;
    assert_eq!(j.follow(&removed, 0, 100), Some(JoinSend::Request));
    assert_eq!(j.sending(JoinSend::Request, 0).unwrap().attempt, 2);
}

#[test]
fn a_refused_join_ready_starts_a_new_attempt() {
    let mut j = Joiner::new(0);
    j.follow(&notice(1, 1, 3), 0, 100);
    j.accepted(1, 0);
    j.recovered(0);
    j.ready_refused(0);
    assert_eq!(j.phase(), &JoinPhase::Requesting);
    assert!(j.expects_response(2));
}

/// A node whose join ready's answer was lost (its leader moved or died) learns from a notice
/// that says it is in the leader's LT that it joined, and asks nothing more (fuzz seed 31101701).
#[test]
fn a_notice_naming_the_receiver_a_member_makes_it_joined() {
    let mut j = Joiner::new(0);
    j.follow(&notice(1, 1, 3), 0, 100);
    j.accepted(1, 0);
    j.recovered(0);
    assert_eq!(j.phase(), &JoinPhase::ReadySent);
    let mut member = notice(1, 2, 4);
    member.member = true;
    member.lt_version = 6;
    assert_eq!(j.follow(&member, 10, 100), None);
    assert_eq!(j.phase(), &JoinPhase::Joined { lt_version: 6 });
    assert_eq!(
        j.follow(&member, 20, 100),
        None,
        "a joined member asks nothing"
    );
    assert_eq!(j.phase(), &JoinPhase::Joined { lt_version: 6 });
}

/// A joined node ignores a notice sent before it joined (an LT version below the one it joined
/// at) that reached it late; a newer one (it was removed since) makes it ask again (fuzz seed
/// 31100691).
#[test]
fn a_joined_node_ignores_a_notice_older_than_its_lt_version() {
    let mut j = Joiner::new(0);
    j.follow(&notice(1, 1, 3), 0, 100);
    j.joined(6, 0);
    let mut late = notice(1, 1, 3);
    late.lt_version = 5;
    assert_eq!(j.follow(&late, 10, 100), None);
    assert!(j.is_joined());
    let mut removed = notice(1, 1, 3);
    removed.lt_version = 7;
    assert_eq!(j.follow(&removed, 20, 100), Some(JoinSend::Request));
    assert_eq!(j.phase(), &JoinPhase::Requesting);
}

#[test]
fn a_revoked_attempt_starts_a_new_one() {
    let mut j = Joiner::new(0);
    j.follow(&notice(1, 1, 3), 0, 100);
    assert!(j.expects_response(1));
    j.attempt_revoked(5);
    assert_eq!(j.phase(), &JoinPhase::Requesting);
    assert!(
        !j.expects_response(1),
        "the revoked attempt's answers no longer count"
    );
    assert!(j.expects_response(2));
    assert_eq!(j.sending(JoinSend::Request, 5).unwrap().attempt, 2);
}

#[test]
fn at_most_sixteen_tags_are_remembered_the_smallest_goes_first() {
    let mut j = Joiner::new(0);
    for id in 1..=16 {
        j.follow(&notice(id, 1, 5), 0, 100);
    }
    assert!(j.is_stale(&tag(1), 4));
    j.follow(&notice(17, 1, 5), 0, 100);
    assert!(!j.is_stale(&tag(1), 4), "tag 1 was forgotten");
    assert!(j.is_stale(&tag(2), 4));
}

#[test]
fn a_redirect_counts_only_from_the_leader_followed_to_another_node() {
    let mut j = Joiner::new(0);
    j.follow(&notice(1, 1, 3), 0, 100);
    assert!(
        !j.redirect(addr(9), ("n2".into(), addr(2))),
        "not from the leader"
    );
    assert!(!j.redirect(addr(1), ("n1".into(), addr(1))), "names itself");
    assert!(j.redirect(addr(1), ("n2".into(), addr(2))));
    assert_eq!(j.sending(JoinSend::Request, 0).unwrap().addr, addr(2));
    assert_eq!(j.awaiting(), Some(JoinSend::Request));
}

#[test]
fn a_join_message_is_resent_after_join_retry_ms() {
    let mut j = Joiner::new(0);
    assert_eq!(j.resend_due(1_000, 100), None, "waiting: nothing to resend");
    j.follow(&notice(1, 1, 3), 0, 100);
    j.sending(JoinSend::Request, 10);
    assert_eq!(j.resend_due(109, 100), None);
    assert_eq!(j.resend_due(110, 100), Some(JoinSend::Request));
}

#[test]
fn nothing_is_sent_without_a_leader() {
    let mut j = Joiner::new(0);
    assert_eq!(j.sending(JoinSend::Request, 10), None);
    j.follow(&notice(1, 1, 3), 0, 100);
    j.reset(0);
    assert_eq!(j.sending(JoinSend::Request, 10), None);
    assert_eq!(j.phase(), &JoinPhase::Waiting);
    assert_eq!(j.cluster, None);
    assert_eq!(j.leader_name(), "");
}

#[test]
fn learner_asks_and_cancel_queries_have_their_clocks() {
    let mut j = Joiner::new(0);
    j.accepted(1, 0);
    assert_eq!(
        j.learner_ask_due(1_000, 50),
        Some(0),
        "asked at once after acceptance"
    );
    assert_eq!(j.learner_ask_due(1_049, 50), None);
    assert_eq!(j.learner_ask_due(1_050, 50), Some(1), "the second ask");
    // A new acceptance counts the asks from 0 again.
    j.accepted(2, 1_060);
    assert_eq!(j.learner_ask_due(1_060, 50), Some(0));
    // At once even within the first `ms_retry_ms` of the clock (a node accepted 10 ms into a
    // run asked only at 500 ms, the first ask measured from time 0).
    let mut early = Joiner::new(0);
    early.accepted(1, 10);
    assert_eq!(early.learner_ask_due(10, 500), Some(0));
    assert_eq!(early.learner_ask_due(509, 500), None);
    assert!(j.cancel_query_waited(100, 100));
    j.cancel_query_sent(100);
    assert!(!j.cancel_query_waited(199, 100));
    assert!(j.cancel_query_waited(200, 100));
}

#[test]
fn the_phase_clock_restarts_only_when_the_phase_changes() {
    let mut j = Joiner::new(7);
    assert_eq!(j.progress().since_ms, 7, "waiting since the start");
    j.follow(&notice(1, 1, 3), 100, 1_000);
    assert_eq!(j.progress().since_ms, 100);
    j.follow(&notice(1, 2, 4), 150, 1_000);
    assert_eq!(
        j.progress().since_ms,
        100,
        "still requesting, from another leader"
    );
    j.accepted(5, 200);
    assert_eq!(j.progress().since_ms, 200);
    j.recovered(300);
    assert_eq!(j.progress().since_ms, 300);
    j.ready_refused(350);
    assert_eq!(j.progress().since_ms, 350, "requesting again");
    j.accepted(5, 400);
    j.recovered(410);
    j.joined(9, 420);
    assert_eq!(j.progress().since_ms, 420);
    j.reset(500);
    let progress = j.progress();
    assert_eq!((j.phase(), progress.since_ms), (&JoinPhase::Waiting, 500));
    j.reset(600);
    assert_eq!(j.progress().since_ms, 500, "waiting already");
}

#[test]
fn progress_names_the_leader_the_cluster_and_the_attempt() {
    let mut j = Joiner::new(0);
    let idle = j.progress();
    assert_eq!((idle.leader, idle.cluster, idle.attempt), (None, None, 0));
    j.follow(&notice(1, 1, 3), 10, 1_000);
    j.redirect(addr(1), ("n2".into(), addr(2)));
    let p = j.progress();
    assert_eq!(p.leader.as_deref(), Some("n2"), "the redirect is followed");
    assert_eq!(p.cluster, Some(tag(1)));
    assert_eq!(p.attempt, 1);
    j.reset(20);
    assert_eq!(
        j.progress().leader,
        None,
        "no leader once the cluster is gone"
    );
}

#[test]
fn the_last_join_message_sent_and_received_are_remembered() {
    let mut j = Joiner::new(0);
    j.received(MessageKind::ClusterState, "n1".into(), 5);
    j.follow(&notice(1, 1, 3), 5, 1_000);
    j.sending(JoinSend::Request, 6);
    let p = j.progress();
    let sent = p.last_sent.unwrap();
    assert_eq!(
        (sent.kind, sent.peer.as_str(), sent.at_ms),
        (MessageKind::JoinRequest, "n1", 6)
    );
    let got = p.last_received.unwrap();
    assert_eq!(
        (got.kind, got.peer.as_str(), got.at_ms),
        (MessageKind::ClusterState, "n1", 5)
    );
    j.received(MessageKind::RaftCmg, "n3".into(), 8);
    j.received(MessageKind::Probe, "n3".into(), 9);
    assert_eq!(
        j.progress().last_received.unwrap().at_ms,
        5,
        "Raft and probes are not the join's"
    );
    j.received(MessageKind::JoinResponse, "n1".into(), 12);
    j.accepted(1, 12);
    j.recovered(20);
    j.sending(JoinSend::Ready, 20);
    let p = j.progress();
    assert_eq!(p.last_sent.unwrap().kind, MessageKind::JoinReady);
    assert_eq!(p.last_received.unwrap().kind, MessageKind::JoinResponse);
}

#[test]
fn nothing_sent_without_a_leader_is_not_remembered_as_sent() {
    let mut j = Joiner::new(0);
    assert_eq!(j.sending(JoinSend::Request, 10), None);
    assert_eq!(j.progress().last_sent, None);
}

#[test]
fn a_joiners_leader_is_addressed_where_its_name_moved() {
    let mut j = Joiner::new(0);
    j.follow(&notice(1, 1, 3), 0, 100);
    assert!(!j.leader_moved("n2", addr(9)), "another name moves nothing");
    assert!(
        !j.leader_moved("n1", addr(1)),
        "the same address is no move"
    );
    assert!(j.leader_moved("n1", addr(9)));
    let to = j.sending(JoinSend::Request, 5).unwrap();
    assert_eq!((to.name.as_str(), to.addr), ("n1", addr(9)));
    assert!(
        !Joiner::new(0).leader_moved("n1", addr(9)),
        "no leader, nothing to move"
    );
}
