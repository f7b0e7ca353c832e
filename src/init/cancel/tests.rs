//! Unit tests of the cancel tracker (`src/init/cancel.rs`).

use super::*;

fn addr(i: u8) -> Addr {
    Addr::new([10, 0, 0, i], 7000)
}

fn names(list: &[&str]) -> BTreeSet<NodeName> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A cancel of a plan with voters a, b, c at addresses 1, 2, 3, told to 1..=4.
fn running(now_ms: u64) -> (CancelTracker, InstanceId) {
    let mut t = CancelTracker::new();
    let init = InstanceId(7);
    t.start(init, (1..=4).map(addr).collect(), now_ms, now_ms);
    let voter_addrs = [("a", 1), ("b", 2), ("c", 3)]
        .iter()
        .map(|(n, i)| (n.to_string(), addr(*i)))
        .collect();
    t.know_voters(init, names(&["a", "b", "c"]), voter_addrs);
    (t, init)
}

fn fenced_ack(t: &mut CancelTracker, init: InstanceId, i: u8, name: &str) -> AckOutcome {
    let voters = Some(vec!["a".into(), "b".into(), "c".into()]);
    t.on_ack(
        init,
        addr(i),
        Some(name.into()),
        Some(addr(i)),
        Vec::new(),
        false,
        voters,
        0,
        None,
    )
    .unwrap()
}

#[test]
fn fenced_voters_leaving_no_majority_decide_the_cancel_and_everyone_is_told() {
    let (mut t, init) = running(0);
    let first = fenced_ack(&mut t, init, 1, "a");
    assert!(!first.decided && first.tell.is_empty());
    // Two of three voters fenced: no majority can commit an answer without them.
    let second = fenced_ack(&mut t, init, 2, "b");
    assert!(second.decided && second.release_answer);
    assert_eq!(second.tell, (1..=4).map(addr).collect::<Vec<_>>());
    assert!(
        !second.done,
        "the fenced voters must still clear their replicas"
    );
}

#[test]
fn a_namesake_at_another_address_does_not_count_as_a_voter() {
    let (mut t, init) = running(0);
    fenced_ack(&mut t, init, 1, "a");
    let voters = Some(vec!["a".into(), "b".into(), "c".into()]);
    // "b" answering from address 9: not the plan's address of b.
    let out = t
        .on_ack(
            init,
            addr(9),
            Some("b".into()),
            None,
            Vec::new(),
            false,
            voters,
            0,
            None,
        )
        .unwrap();
    assert!(!out.decided);
}

/// A voter that moved to another host keeps its vault: its ack names the voters of the replica
/// it fenced, from where this node knows the name now. It counts, and its plan address (where
/// nobody answers any more) is no longer told (fuzz seed 4545).
#[test]
fn a_moved_voter_counts_where_it_is_known_now_and_its_old_address_is_dropped() {
    let (mut t, init) = running(0);
    fenced_ack(&mut t, init, 1, "a");
    let voters = Some(vec!["a".into(), "b".into(), "c".into()]);
    let out = t
        .on_ack(
            init,
            addr(9),
            Some("b".into()),
            Some(addr(9)),
            Vec::new(),
            false,
            voters,
            0,
            None,
        )
        .unwrap();
    assert!(out.decided, "a and the moved b leave no majority");
    assert!(
        !out.tell.contains(&addr(2)),
        "b's old address is not told: {:?}",
        out.tell
    );
    assert!(!t.told(init).contains(&addr(2)));
}

/// An empty node that took a voter's name at another address holds no replica of the init and
/// names no voters: even where this node knows the name now, it does not count as the voter.
#[test]
fn an_empty_namesake_known_under_the_name_does_not_count_as_the_voter() {
    let (mut t, init) = running(0);
    fenced_ack(&mut t, init, 1, "a");
    let out = t
        .on_ack(
            init,
            addr(9),
            Some("b".into()),
            Some(addr(9)),
            Vec::new(),
            false,
            Some(Vec::new()),
            0,
            None,
        )
        .unwrap();
    assert!(!out.decided);
}

#[test]
fn a_decided_ack_ends_the_cancel_once_nobody_is_pending() {
    let (mut t, init) = running(0);
    let mut last = None;
    for i in 1..=4 {
        last = t.on_ack(init, addr(i), None, None, Vec::new(), true, None, 0, None);
    }
    let last = last.unwrap();
    assert!(last.done && last.decided);
    assert!(t
        .on_ack(
            InstanceId(8),
            addr(1),
            None,
            None,
            Vec::new(),
            true,
            None,
            0,
            None
        )
        .is_none());
    // The members a replica knew are told, once.
    let (mut t, init) = running(0);
    t.on_ack(init, addr(1), None, None, Vec::new(), true, None, 0, None);
    let out = t
        .on_ack(
            init,
            addr(2),
            None,
            None,
            vec![addr(5), addr(3)],
            true,
            None,
            0,
            None,
        )
        .unwrap();
    assert_eq!(out.tell, vec![addr(5)], "a member not yet told");
}

#[test]
fn the_held_answer_waits_for_the_cmg_nodes_or_its_deadline() {
    let (mut t, init) = running(0);
    let user = addr(100);
    let error = InitError::Busy { max: 1 };
    let cmg: BTreeSet<Addr> = [addr(1), addr(2)].into_iter().collect();
    t.hold_answer(init, user, RequestId(3), error.clone(), 500, cmg);
    assert!(t.holds_answer_for(user, RequestId(3)));
    assert!(!t.holds_answer_for(user, RequestId(4)));
    let ack = |t: &mut CancelTracker, i| {
        t.on_ack(init, addr(i), None, None, Vec::new(), false, None, 0, None)
            .unwrap()
    };
    assert!(!ack(&mut t, 1).release_answer);
    assert!(ack(&mut t, 2).release_answer, "every CMG node confirmed");
    let timing = Timing::default();
    assert!(t
        .tick(499, &timing)
        .iter()
        .all(|d| !matches!(d, CancelDue::Answer(_))));
    assert_eq!(t.tick(500, &timing).first(), Some(&CancelDue::Answer(init)));
    assert_eq!(t.take_answer(init), Some((user, RequestId(3), error)));
    assert_eq!(t.take_answer(init), None);
}

#[test]
fn a_cancel_is_resent_every_retry_until_done_or_out_of_time() {
    let timing = Timing::default();
    let (mut t, init) = running(0);
    assert!(t.tick(timing.init_retry_ms - 1, &timing).is_empty());
    let resend = t.tick(timing.init_retry_ms, &timing);
    assert_eq!(
        resend,
        vec![CancelDue::Resend {
            init,
            to: (1..=4).map(addr).collect(),
            decided: false
        }]
    );
    assert!(
        t.tick(timing.init_retry_ms, &timing).is_empty(),
        "counted as sent"
    );
    let limit = MAX_CANCEL_RETRY_TIMEOUTS * timing.init_timeout_ms;
    assert_eq!(t.tick(limit, &timing), vec![CancelDue::End(init)]);
}

#[test]
fn a_member_that_appears_is_told_again_and_the_oldest_cancel_makes_room() {
    let (mut t, init) = running(0);
    let unacknowledged = |t: &CancelTracker| t.in_flight_view()[0].unacknowledged;
    t.on_ack(init, addr(1), None, None, Vec::new(), false, None, 0, None);
    assert_eq!(unacknowledged(&t), 3);
    let told: Vec<Addr> = (1..=4).map(addr).collect();
    assert_eq!(t.told(init), told, "acknowledged or not, each was told");
    assert_eq!(t.retell(addr(1)), vec![(init, false)]);
    assert_eq!(unacknowledged(&t), 4, "told again: pending again");
    assert_eq!(t.retell(addr(9)), vec![(init, false)]);
    assert_eq!(
        t.told(init).last(),
        Some(&addr(9)),
        "a new member is told too"
    );
    let mut t = CancelTracker::new();
    for i in 0..MAX_RECORDED_CANCELS as u64 {
        assert_eq!(t.evictee(InstanceId(100 + i)), None);
        t.start(InstanceId(100 + i), BTreeSet::new(), 10 - i % 3, 0);
    }
    // Oldest start first (ids 102, 105, ... started at 8), then the lowest id.
    assert_eq!(t.evictee(InstanceId(1)), Some(InstanceId(102)));
    assert_eq!(t.evictee(InstanceId(100)), None, "already running");
    assert!(t.remove(InstanceId(102)) && !t.remove(InstanceId(102)));
}

#[test]
fn the_view_of_a_cancel_counts_who_has_not_acknowledged() {
    let (mut t, init) = running(30);
    let view = t.in_flight_view();
    assert_eq!(
        view,
        vec![CancelInFlight {
            init,
            started_ms: 30,
            unacknowledged: 4,
            decided: false,
            holds_answer: false,
        }]
    );
    let cmg: BTreeSet<Addr> = [addr(1)].into_iter().collect();
    t.hold_answer(
        init,
        addr(100),
        RequestId(3),
        InitError::Busy { max: 1 },
        500,
        cmg,
    );
    t.on_ack(init, addr(2), None, None, Vec::new(), true, None, 40, None);
    let view = t.in_flight_view();
    assert_eq!(view[0].unacknowledged, 3);
    assert!(view[0].decided && view[0].holds_answer, "{view:?}");
}

#[test]
fn the_planted_bug_decides_the_cancel_on_one_fenced_voter() {
    let (mut t, init) = running(0);
    let voters = Some(vec!["a".into(), "b".into(), "c".into()]);
    let bug = Some(PlantedBug::CancelDestroysAnsweredCluster);
    let first = t
        .on_ack(
            init,
            addr(1),
            Some("a".into()),
            Some(addr(1)),
            Vec::new(),
            false,
            voters,
            0,
            bug,
        )
        .unwrap();
    assert!(
        first.decided,
        "b and c, a majority, may have answered a user all the same"
    );
}
