//! Unit tests of the Raft group wrapper.

use super::*;

fn open(timing: &Timing) -> RaftGroup {
    let voters = vec!["a".to_string(), "b".to_string(), "c".to_string()];
    let record = RaftGroup::empty_record(InstanceId(1), voters);
    RaftGroup::open(GroupKind::Cmg, "a", &record, timing, &discard_logger()).unwrap()
}

/// Without the knob raft-rs draws the timeout anew in [election_ticks, 2 * election_ticks);
/// with it, every draw is the fixed value (what keeps the synchronous harness seeded).
#[test]
fn a_fixed_election_timeout_is_the_only_value_raft_rs_draws() {
    let timing = Timing {
        fixed_election_ticks: Some(13),
        ..Timing::default()
    };
    let mut fixed = open(&timing);
    for _ in 0..50 {
        fixed.raw.raft.reset_randomized_election_timeout();
        assert_eq!(fixed.raw.raft.randomized_election_timeout(), 13);
    }
    let mut free = open(&Timing::default());
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        free.raw.raft.reset_randomized_election_timeout();
        seen.insert(free.raw.raft.randomized_election_timeout());
    }
    assert!(seen.len() > 1, "{seen:?}");
    assert!(seen.iter().all(|t| (10..20).contains(t)), "{seen:?}");
}

/// A settled group answers `process` at once with nothing; every call into raft-rs
/// unsettles it, so what that call made ready is processed.
#[test]
fn a_settled_group_wakes_at_the_next_call_into_raft_rs() {
    let timing = Timing {
        fixed_election_ticks: Some(10),
        ..Timing::default()
    };
    let mut group = open(&timing);
    let mut drained = GroupStep::default();
    group.process(&mut drained).unwrap();
    assert!(group.settled, "nothing more was ready");
    let mut step = GroupStep::default();
    group.process(&mut step).unwrap();
    assert!(step.messages.is_empty() && step.writes.is_empty());
    // Ticks until the election timeout: the campaign's vote requests are processed.
    let mut votes = 0;
    for _ in 0..12 {
        group.tick();
        assert!(!group.settled);
        let mut step = GroupStep::default();
        group.process(&mut step).unwrap();
        votes += step.messages.len();
    }
    assert!(votes >= 2, "{votes} vote requests to the two other voters");
    // A campaign on request wakes it too (the next term's requests).
    group.campaign();
    let mut step = GroupStep::default();
    group.process(&mut step).unwrap();
    assert!(!step.messages.is_empty(), "a campaign asks for votes");
}

/// A heartbeat from `from` at `term` to `group`, naming `commit`.
fn heartbeat(group: &RaftGroup, from: &str, term: u64, commit: u64) -> RaftPayload {
    let mut msg = RaftMessage::default();
    msg.set_msg_type(MessageType::MsgHeartbeat);
    msg.from = crate::types::raft_id(from);
    msg.to = group.id();
    msg.term = term;
    msg.commit = commit;
    RaftPayload::Message(Box::new(msg))
}

/// A heartbeat whose commit lies beyond the replica's log (its leader believes this Raft id
/// holds entries another instance acknowledged; fuzz seed 60014523) marks the leader's
/// overestimate, kept within the log as before; a heartbeat within the log clears it, and one
/// of an older term changes nothing.
#[test]
fn a_heartbeat_beyond_the_log_marks_the_leaders_overestimate() {
    let voters = vec!["a".to_string(), "b".to_string(), "c".to_string()];
    let record = RaftGroup::bootstrap_record(InstanceId(1), voters, None, vec![vec![1], vec![2]]);
    let timing = Timing {
        fixed_election_ticks: Some(10),
        ..Timing::default()
    };
    let mut b = RaftGroup::open(GroupKind::Ms, "b", &record, &timing, &discard_logger()).unwrap();
    assert_eq!(b.last_index(), 2);
    assert!(!b.leader_overestimates());
    b.step(heartbeat(&b, "a", 2, 4)).unwrap();
    assert!(
        b.leader_overestimates(),
        "the leader believes b holds 4 of 2"
    );
    assert_eq!(b.commit_index(), 2, "the commit stays within the log");
    b.step(heartbeat(&b, "c", 1, 2)).unwrap();
    assert!(
        b.leader_overestimates(),
        "a stale term's heartbeat changes nothing"
    );
    b.step(heartbeat(&b, "a", 2, 2)).unwrap();
    assert!(
        !b.leader_overestimates(),
        "a heartbeat within the log clears it"
    );
}
