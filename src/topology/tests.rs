//! Unit tests of `src/topology.rs`.

use super::*;
use crate::error::RejectionReason;
use crate::types::{ClusterId, ClusterTag, NodeInfo, ProductVersion, ProtocolVersion};

fn tag(id: u128) -> ClusterTag {
    ClusterTag {
        name: "c".into(),
        id: ClusterId(id),
    }
}

/// The record of `name` at 10.0.0.`n`, launch `launch`, holding `tag`, admitted at `at_ms`
/// by `by` (whose own tag was `by_tag`).
fn record(n: u8, launch: u64, tag: Option<ClusterTag>, at_ms: u64) -> MemberRecord {
    let name = format!("n{n}");
    MemberRecord {
        identity: Identity {
            info: NodeInfo {
                name: name.clone(),
                addr: Addr::new([10, 0, 0, n], 7000),
                launch: LaunchId(launch),
                protocol: ProtocolVersion(1),
                product: ProductVersion::new(3, 0, 0),
            },
            tag: tag.clone(),
            init: None,
            replica_of: None,
            incarnation: 1,
        },
        admitted_tag: tag,
        admitted_at_ms: at_ms,
        admitted_by: "seed".into(),
        admitter_tag: None,
    }
}

#[test]
fn a_member_silent_too_long_is_dead_and_a_silent_one_is_probed() {
    let timing = Timing::default();
    let mut t = PhysicalTopology::new();
    assert_eq!(t.merge(record(2, 1, None, 0), true, 0), Merged::Added);
    assert_eq!(t.merge(record(3, 1, None, 0), true, 0), Merged::Added);
    let later = timing.probe_interval_ms;
    t.heard_from(Addr::new([10, 0, 0, 3], 7000), LaunchId(1), later);
    // Another launch at the address proves nothing.
    t.heard_from(Addr::new([10, 0, 0, 2], 7000), LaunchId(9), later);
    let sweep = t.sweep(later, &timing);
    assert!(sweep.dead.is_empty());
    assert_eq!(sweep.probe, vec![Addr::new([10, 0, 0, 2], 7000)]);
    let sweep = t.sweep(timing.failure_timeout_ms, &timing);
    assert_eq!(sweep.dead, vec![Addr::new([10, 0, 0, 2], 7000)]);
}

#[test]
fn a_member_gets_one_sync_probe_per_rejoin_interval_and_a_stranger_always_does() {
    let rejoin_ms = Timing::default().rejoin_probe_ms;
    let mut t = PhysicalTopology::new();
    t.merge(record(2, 1, None, 0), true, 1_000);
    let addr = Addr::new([10, 0, 0, 2], 7000);
    // Met at 1 s: its first probes compare nothing, until a rejoin interval has passed.
    assert!(!t.probed(addr, 1_500, rejoin_ms));
    assert!(t.probed(addr, 1_000 + rejoin_ms, rejoin_ms));
    assert!(!t.probed(addr, 1_500 + rejoin_ms, rejoin_ms));
    assert!(t.probed(addr, 1_000 + 2 * rejoin_ms, rejoin_ms));
    // Not a member (a rejoin round's seed or removed member): every probe is a sync probe.
    let stranger = Addr::new([10, 0, 0, 9], 7000);
    assert!(t.probed(stranger, 1_500, rejoin_ms));
    assert!(t.probed(stranger, 1_600, rejoin_ms));
}

#[test]
fn a_restart_replaces_its_entry_and_gossip_never_revives_a_removed_launch() {
    let mut t = PhysicalTopology::new();
    let addr = Addr::new([10, 0, 0, 2], 7000);
    t.merge(record(2, 1, None, 10), true, 0);
    // An older admission of another launch is ignored; a newer one replaces the entry.
    assert_eq!(t.merge(record(2, 2, None, 5), false, 0), Merged::Kept);
    assert_eq!(
        t.merge(record(2, 2, None, 20), false, 0),
        Merged::Replaced { old: LaunchId(1) }
    );
    assert!(t.tombstones().contains(&(addr, LaunchId(1))));
    assert_eq!(t.remove(addr).map(|r| r.launch()), Some(LaunchId(2)));
    assert_eq!(t.admit_check(&record(2, 2, None, 20), false, 20), None);
    // The member itself (direct) comes back.
    assert_eq!(
        t.admit_check(&record(2, 2, None, 20), true, 20),
        Some(false)
    );
    assert!(!t.tombstones().contains(&(addr, LaunchId(2))));
}

#[test]
fn the_higher_incarnation_wins_and_gossip_never_brings_an_older_identity_back() {
    let mut t = PhysicalTopology::new();
    let addr = Addr::new([10, 0, 0, 2], 7000);
    t.merge(record(2, 1, None, 10), true, 0);
    let mut newer = record(2, 1, None, 10);
    newer.identity.tag = Some(tag(1));
    newer.identity.incarnation = 2;
    let before = t.view_digest(&record(1, 1, None, 0));
    assert_eq!(t.merge(newer.clone(), false, 0), Merged::Refreshed);
    assert_eq!(t.member(addr), Some(&newer));
    assert_ne!(t.view_digest(&record(1, 1, None, 0)), before);
    // The older identity (incarnation 1), heard again through gossip or even from the member
    // itself (a delayed message), changes nothing.
    let digest = t.view_digest(&record(1, 1, None, 0));
    assert_eq!(t.merge(record(2, 1, None, 10), true, 0), Merged::Kept);
    assert_eq!(t.member(addr), Some(&newer));
    assert_eq!(t.view_digest(&record(1, 1, None, 0)), digest);
}

#[test]
fn a_node_raises_its_incarnation_only_when_its_identity_changes() {
    let mut t = PhysicalTopology::new();
    assert_eq!(
        t.current_me(record(1, 1, None, 0).identity),
        None,
        "not admitted"
    );
    t.handshaking(Addr::new([10, 0, 0, 9], 7000), 0);
    assert_eq!(t.incarnation(), 1, "a handshake offers a new incarnation");
    t.enter(record(1, 1, None, 0));
    let first = t.current_me(record(1, 1, None, 0).identity).unwrap();
    assert_eq!(first.identity.incarnation, 1);
    // Unchanged: the same shared record, the same incarnation.
    let again = t.current_me(record(1, 1, None, 0).identity).unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    // Initialized since: one more.
    let tagged = t
        .current_me(record(1, 1, Some(tag(1)), 0).identity)
        .unwrap();
    assert_eq!(tagged.identity.incarnation, 2);
    assert_eq!(tagged.identity.tag, Some(tag(1)));
    assert_eq!(tagged.admitted_at_ms, 0, "the admission stays");
}

#[test]
fn an_empty_node_lets_in_only_the_tag_its_members_hold() {
    let mut t = PhysicalTopology::new();
    t.merge(record(2, 1, Some(tag(1)), 10), true, 0);
    t.merge(record(3, 1, Some(tag(1)), 20), true, 0);
    assert_eq!(
        t.first_tag_wins(&record(4, 1, Some(tag(1)), 0).identity),
        Ok(())
    );
    assert_eq!(t.first_tag_wins(&record(4, 1, None, 0).identity), Ok(()));
    let refused = t.first_tag_wins(&record(4, 1, Some(tag(2)), 0).identity);
    assert!(
        matches!(&refused, Err(RejectionReason::ConflictingTag { member, .. }) if member == "n2"),
        "{refused:?}"
    );
    // A name known as empty (initialized among us since) is let in.
    assert_eq!(t.admit_check(&record(4, 1, None, 0), true, 0), Some(false));
    assert_eq!(
        t.first_tag_wins(&record(4, 1, Some(tag(2)), 0).identity),
        Ok(())
    );
}

#[test]
fn crossing_admissions_are_won_by_the_earliest() {
    let mut t = PhysicalTopology::new();
    t.merge(record(2, 1, Some(tag(2)), 20), true, 0);
    assert_eq!(t.conflicting_admissions(), None);
    t.merge(record(3, 1, Some(tag(1)), 10), true, 0);
    t.merge(record(4, 1, Some(tag(1)), 30), true, 0);
    let (winner, losers) = t.conflicting_admissions().expect("a conflict");
    assert_eq!(winner.identity.info.name, "n3");
    let losers: Vec<&str> = losers
        .iter()
        .map(|r| r.identity.info.name.as_str())
        .collect();
    assert_eq!(losers, vec!["n2"]);
    // A cluster initialized among the members: the CMG decides.
    let mut initialized = record(5, 1, None, 40);
    initialized.identity.tag = Some(tag(3));
    t.merge(initialized, true, 0);
    assert_eq!(t.conflicting_admissions(), None);
}

#[test]
fn rejoin_targets_are_absent_seeds_and_removed_members() {
    let mut t = PhysicalTopology::new();
    let own = Addr::new([10, 0, 0, 1], 7000);
    t.merge(record(2, 1, None, 0), true, 0);
    t.merge(record(3, 1, None, 0), true, 0);
    t.remove(Addr::new([10, 0, 0, 3], 7000));
    let seeds = [
        own,
        Addr::new([10, 0, 0, 2], 7000),
        Addr::new([10, 0, 0, 9], 7000),
    ];
    assert_eq!(
        t.rejoin_targets(seeds.into_iter().collect(), own, 0, 4_000),
        vec![
            Addr::new([10, 0, 0, 3], 7000),
            Addr::new([10, 0, 0, 9], 7000)
        ]
    );
    assert!(t.rejoin_round_due(100, 100));
    assert!(!t.rejoin_round_due(150, 100));
    let many: BTreeSet<Addr> = (10..40).map(|i| Addr::new([10, 0, 0, i], 7000)).collect();
    assert_eq!(
        t.rejoin_targets(many, own, 0, 4_000).len(),
        MAX_REJOIN_PROBES
    );
}

#[test]
fn a_removed_member_whose_name_lives_elsewhere_is_not_probed() {
    let mut t = PhysicalTopology::new();
    let own = Addr::new([10, 0, 0, 1], 7000);
    let at = |n: u8| Addr::new([10, 0, 0, n], 7000);
    t.merge(record(3, 1, None, 0), true, 0);
    t.remove(at(3));
    assert_eq!(
        t.rejoin_targets(BTreeSet::new(), own, 10, 4_000),
        vec![at(3)]
    );
    // n3 moved to 10.0.0.7: its old address is no longer looked for.
    let mut moved = record(7, 2, None, 10);
    moved.identity.info.name = "n3".into();
    t.merge(moved, true, 10);
    assert!(t.rejoin_targets(BTreeSet::new(), own, 10, 4_000).is_empty());
    t.remove(at(7));
    assert_eq!(
        t.rejoin_targets(BTreeSet::new(), own, 10, 4_000),
        vec![at(3), at(7)]
    );
}

/// A removed member named like the node itself is looked for only while gossip reports it
/// alive (a live namesake, fuzz seeds 40003492 and 60013849), not when nobody does (the node's
/// own instance before a move).
#[test]
fn a_removed_namesake_is_probed_while_gossip_reports_it() {
    let mut t = PhysicalTopology::new();
    let own = Addr::new([10, 0, 0, 1], 7000);
    let six = Addr::new([10, 0, 0, 6], 7000);
    t.enter(record(1, 1, None, 0));
    let mut namesake = record(6, 6, None, 0);
    namesake.identity.info.name = "n1".into();
    t.merge(namesake.clone(), false, 0);
    t.remove(six);
    assert!(t
        .rejoin_targets(BTreeSet::new(), own, 100, 4_000)
        .is_empty());
    assert_eq!(t.admit_check(&namesake, false, 1_000), None);
    assert_eq!(
        t.rejoin_targets(BTreeSet::new(), own, 1_500, 4_000),
        vec![six]
    );
    assert_eq!(
        t.rejoin_targets(BTreeSet::new(), own, 5_000, 4_000),
        vec![six]
    );
    assert!(t
        .rejoin_targets(BTreeSet::new(), own, 5_001, 4_000)
        .is_empty());
}

#[test]
fn versions_are_checked_on_every_path() {
    let joiner = record(2, 1, None, 0).identity;
    let v = ProductVersion::new(3, 0, 9);
    assert_eq!(entry_check(ProtocolVersion(1), v, &joiner), Ok(()));
    assert!(matches!(
        entry_check(ProtocolVersion(2), v, &joiner),
        Err(RejectionReason::ProtocolMismatch { .. })
    ));
    assert!(matches!(
        entry_check(ProtocolVersion(1), ProductVersion::new(3, 1, 0), &joiner),
        Err(RejectionReason::ProductMismatch { .. })
    ));
}

/// Two views with the same records have the same digest whatever the order they were built
/// in; any change of a member's identity, a replacement or a removal moves it, and undoing the
/// change brings it back (the digest is kept, not recomputed).
#[test]
fn the_view_digest_follows_the_records_not_their_history() {
    let me = record(1, 1, None, 0);
    let mut a = PhysicalTopology::new();
    a.merge(record(2, 1, None, 0), true, 0);
    a.merge(record(3, 1, None, 0), true, 0);
    let mut b = PhysicalTopology::new();
    b.merge(record(3, 1, None, 0), false, 5);
    b.merge(record(2, 1, None, 0), true, 7);
    assert_eq!(a.view_digest(&me), b.view_digest(&me));
    let same = a.view_digest(&me);
    // Another own record, an identity refreshed, a newer launch, a removal: each moves it.
    assert_ne!(a.view_digest(&record(1, 2, None, 0)), same);
    let mut tagged = record(2, 1, None, 0);
    tagged.identity.tag = Some(tag(1));
    tagged.identity.incarnation = 2;
    assert_eq!(a.merge(tagged.clone(), false, 0), Merged::Refreshed);
    assert_ne!(a.view_digest(&me), same);
    b.merge(tagged.clone(), false, 0);
    assert_eq!(
        a.view_digest(&me),
        b.view_digest(&me),
        "the same records again"
    );
    a.merge(record(3, 2, None, 9), true, 0);
    assert_ne!(a.view_digest(&me), same);
    b.merge(record(3, 2, None, 9), true, 0);
    assert_eq!(a.view_digest(&me), b.view_digest(&me));
    a.remove(Addr::new([10, 0, 0, 3], 7000));
    assert_ne!(a.view_digest(&me), b.view_digest(&me));
    let mut c = PhysicalTopology::new();
    c.merge(tagged, true, 0);
    assert_eq!(a.view_digest(&me), c.view_digest(&me));
    assert_eq!(
        PhysicalTopology::new().view_digest(&me),
        record_digest(&me),
        "an empty view is the node's own record"
    );
}
