//! Unit tests of `src/node/physical.rs`: a probe ack carries the responder's view only to a sync
//! probe whose prober does not hold it already.

use std::sync::Arc;

use crate::config::{NodeConfig, Timing};
use crate::message::{Envelope, Message};
use crate::node::Node;
use crate::topology::{record_digest, MemberRecord, Rumor};
use crate::types::{Addr, LaunchId};
use crate::vault::Vault;

/// Node `name` at 10.0.0.`n`, launch `n`, empty, with no seed: it admits itself at once.
fn lone(name: &str, n: u8) -> Node {
    lone_with(name, n, Timing::default())
}

/// [`lone`] with `timing`.
fn lone_with(name: &str, n: u8, timing: Timing) -> Node {
    let cfg = NodeConfig {
        name: name.into(),
        addr: Addr::new([10, 0, 0, n], 7000),
        product: Default::default(),
        protocol: Default::default(),
        seeds: Vec::new(),
        bug: None,
    };
    let (node, _) =
        Node::new(cfg, timing, LaunchId(u64::from(n)), 1, &Vault::default(), 0).unwrap();
    node
}

/// A probe from `prober` carrying `view` and `rumors`.
fn probe(prober: &Arc<MemberRecord>, view: Option<u64>, rumors: Vec<Rumor>) -> Envelope {
    Envelope {
        from: prober.addr(),
        from_launch: prober.launch(),
        msg: Message::Probe {
            sender: prober.clone(),
            view,
            rumors,
            relay_for: None,
        },
    }
}

/// The members of the ack `node` answers a probe from `prober` carrying `view` with.
fn ack_members(
    node: &mut Node,
    prober: &Arc<MemberRecord>,
    view: Option<u64>,
) -> Vec<Arc<MemberRecord>> {
    let out = node.receive(100, probe(prober, view, Vec::new()));
    let acks: Vec<Vec<Arc<MemberRecord>>> = out
        .messages
        .into_iter()
        .filter_map(|(to, e)| match e.msg {
            Message::ProbeAck { members, .. } if to == prober.addr() => Some(members),
            _ => None,
        })
        .collect();
    assert_eq!(acks.len(), 1, "one ack to the prober");
    acks.into_iter().next().unwrap()
}

#[test]
fn a_probe_ack_carries_the_view_only_to_a_sync_prober_that_lacks_it() {
    let mut a = lone("a", 1);
    let b = lone("b", 2).my_record().expect("b admitted itself");
    let a_record = a.my_record().expect("a admitted itself");
    // b holds exactly {b, a}: the view a holds once it merged b.
    let same = record_digest(&b).wrapping_add(record_digest(&a_record));
    assert!(ack_members(&mut a, &b, Some(same)).is_empty());
    // A probe that is not a sync probe (no digest) gets no view, whatever b holds.
    assert!(ack_members(&mut a, &b, None).is_empty());
    // Any other digest: b lacks something, and gets a's whole view (a itself, then b).
    let members = ack_members(&mut a, &b, Some(same ^ 1));
    let names: Vec<&str> = members
        .iter()
        .map(|r| r.identity.info.name.as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(members, a.known_records());
}

/// The ack `node` sends to a probe from `prober` that carries the rumor that `node` is suspected
/// at its current incarnation: the ack's sender record and rumors, and that incarnation.
fn ack_to_a_suspicion(
    node: &mut Node,
    prober: &Arc<MemberRecord>,
) -> (Arc<MemberRecord>, Vec<Rumor>, u64) {
    let before = node.my_record().expect("admitted").identity.incarnation;
    let suspicion = Rumor::Suspect {
        addr: node.cfg.addr,
        launch: node.launch,
        incarnation: before,
    };
    let out = node.receive(100, probe(prober, None, vec![suspicion]));
    let (sender, rumors) = out
        .messages
        .into_iter()
        .find_map(|(_, e)| match e.msg {
            Message::ProbeAck { sender, rumors, .. } => Some((sender, rumors)),
            _ => None,
        })
        .expect("an ack");
    (sender, rumors, before)
}

/// SWIM: a node that hears it is suspected refutes — its ack carries its record at a higher
/// incarnation, and the rumor that it is alive; an all-pairs node ignores the rumor.
#[test]
fn a_swim_node_refutes_a_suspicion_of_itself() {
    let swim = Timing {
        failure_detector: crate::config::FailureDetector::Swim,
        ..Timing::default()
    };
    let b = lone("b", 2).my_record().expect("b admitted itself");
    let (sender, rumors, before) = ack_to_a_suspicion(&mut lone_with("a", 1, swim), &b);
    assert!(sender.identity.incarnation > before);
    assert!(rumors.iter().any(|r| matches!(r, Rumor::Alive(me)
        if me.addr() == sender.addr() && me.identity.incarnation == sender.identity.incarnation)));
    // An all-pairs node ignores rumors: no refutation, nothing passed on.
    let (sender, rumors, before) = ack_to_a_suspicion(&mut lone("c", 3), &b);
    assert_eq!(sender.identity.incarnation, before);
    assert!(rumors.is_empty());
}

/// Decision (a node no seed answers turns to its own CMG's voters, docs/protocol.md Step 1;
/// scenario `voters-whose-only-seed-halted-turn-to-each-other`): `j`, a CMG voter of a restored
/// cluster (voters j, n2, n3) whose only seed (10.0.0.1) never answers, hand-shakes with that
/// seed alone until a failure timeout of handshakes went unanswered, then with its fellow
/// voters too — never with itself, even at the address its cluster knew it by.
#[test]
fn a_node_no_seed_answers_hand_shakes_with_its_own_cmg_voters_after_a_failure_timeout() {
    use crate::cluster_config::ClusterConfig;
    use crate::restore::RestoredCluster;
    use crate::types::{ClusterId, ClusterTag};
    let addr = |n: u8| Addr::new([10, 0, 0, n], 7000);
    let voters = vec!["j".to_string(), "n2".to_string(), "n3".to_string()];
    let cluster = RestoredCluster {
        config: ClusterConfig {
            tag: ClusterTag {
                name: "c".into(),
                id: ClusterId(7),
            },
            cmg_nodes: voters.clone(),
            ms_nodes: voters,
            ms_version: 1,
        },
        product: Default::default(),
        protocol: Default::default(),
        // j's old address (it moved to 10.0.0.9).
        addrs: [("j", 4), ("n2", 2), ("n3", 3)]
            .into_iter()
            .map(|(n, i)| (n.to_string(), addr(i)))
            .collect(),
    };
    let cfg = NodeConfig::new(
        "j".into(),
        addr(9),
        Default::default(),
        Default::default(),
        vec![addr(1)],
    );
    let timing = Timing::default();
    let vault = cluster.vault_of("j", 1);
    let (mut node, first) = Node::new(cfg, timing.clone(), LaunchId(9), 1, &vault, 0).unwrap();
    let targets = |out: &crate::node::Output| -> Vec<Addr> {
        out.messages
            .iter()
            .filter(|(_, e)| matches!(e.msg, Message::Handshake { .. }))
            .map(|(to, _)| *to)
            .collect()
    };
    let mut sent: Vec<(u64, Addr)> = targets(&first).into_iter().map(|a| (0, a)).collect();
    for now_ms in (timing.tick_ms..=20_000).step_by(timing.tick_ms as usize) {
        let out = node.tick(now_ms);
        sent.extend(targets(&out).into_iter().map(|a| (now_ms, a)));
    }
    let widened_ms = timing.failure_timeout_ms;
    assert!(
        sent.iter()
            .filter(|(at, _)| *at < widened_ms)
            .all(|(_, to)| *to == addr(1)),
        "only the seed before a failure timeout: {sent:?}"
    );
    assert!(
        sent.iter().any(|(_, to)| *to == addr(2) || *to == addr(3)),
        "a fellow voter after it: {sent:?}"
    );
    assert!(
        sent.iter().all(|(_, to)| *to != addr(4) && *to != addr(9)),
        "never itself: {sent:?}"
    );
    // A refusal from the fallback voter it hand-shakes with now (another cluster's node may
    // listen at that stale address) only ends that handshake: the node does not halt.
    let (_, fallback) = *sent.last().expect("handshakes were sent");
    assert_ne!(fallback, addr(1), "the last handshake went to a voter");
    let refusal = Message::HandshakeRefused {
        rejection: crate::error::Rejection {
            stage: crate::error::RejectionStage::PreInit,
            by: "other".into(),
            reason: crate::error::RejectionReason::TagMismatch {
                joiner: cluster.config.tag.clone(),
                cluster: ClusterTag {
                    name: "other".into(),
                    id: ClusterId(8),
                },
            },
        },
    };
    let envelope = Envelope {
        from: fallback,
        from_launch: LaunchId(77),
        msg: refusal,
    };
    let _output = node.receive(20_001, envelope);
    assert!(
        !node.is_halted(),
        "a fallback voter's refusal is no verdict"
    );
}

/// Decision (a name that lives elsewhere is not looked for, docs/protocol.md "Restart at another
/// address"; fuzz seeds 40003492, 60013849): a node removes a namesake it cannot hear (a
/// duplicate of its name, cut off by a partition); while others' views still report the
/// namesake alive, the node probes it at every rejoin round, so that the two meet again once
/// the partition heals. One nobody reports (the node's own instance before a move) is not looked
/// for. Before, a removed member of the node's own name was never looked for, and a duplicate
/// its CMG leader had removed never heard a cluster state.
#[test]
fn a_removed_namesake_others_report_alive_is_looked_for_at_rejoin_rounds() {
    let mut a = lone("a", 1);
    let b = lone("b", 2).my_record().expect("b admitted itself");
    let namesake = lone("a", 6)
        .my_record()
        .expect("the namesake admitted itself");
    let _ = a.receive(100, probe(&namesake, None, Vec::new()));
    let _ = a.receive(100, probe(&b, None, Vec::new()));
    let probes_to_namesake = |out: &crate::node::Output| {
        out.messages
            .iter()
            .any(|(to, e)| *to == namesake.addr() && matches!(e.msg, Message::Probe { .. }))
    };
    let (mut removed_at_ms, mut probed_unreported, mut probed_reported) = (None, false, false);
    for now_ms in (200..=16_000).step_by(100) {
        // b keeps hearing from both: its acks carry the namesake, and itself, alive.
        let _ = a.receive(now_ms, probe(&b, None, Vec::new()));
        if now_ms >= 8_000 && now_ms % 1_000 == 0 {
            let ack = Envelope {
                from: b.addr(),
                from_launch: b.launch(),
                msg: Message::ProbeAck {
                    sender: b.clone(),
                    members: vec![b.clone(), namesake.clone()],
                    rumors: Vec::new(),
                    relay_for: None,
                },
            };
            let _ = a.receive(now_ms, ack);
        }
        let out = a.tick(now_ms);
        if out.events.iter().any(
            |e| matches!(e, crate::event::Event::MemberRemoved { member, .. } if member == "a"),
        ) {
            removed_at_ms = Some(now_ms);
        }
        if removed_at_ms.is_some_and(|at| now_ms > at) && probes_to_namesake(&out) {
            if now_ms < 8_000 {
                probed_unreported = true;
            } else {
                probed_reported = true;
            }
        }
    }
    assert!(
        removed_at_ms.is_some_and(|at| at < 8_000),
        "the silent namesake is removed"
    );
    assert!(!probed_unreported, "not looked for while nobody reports it");
    assert!(probed_reported, "looked for once others report it alive");
}

/// Decision (a leader judges a join on what its failure detector says now, fuzz seed 50037096):
/// a member silent for a failure timeout counts as silent when a judgement asks
/// (`Node::silent_members`), before the next tick sweeps it — a node back from a pause handles
/// its inbox before it ticks — and the view keeps it until that sweep.
#[test]
fn a_member_silent_for_a_failure_timeout_is_silent_before_the_next_tick() {
    let mut a = lone("a", 1);
    let b = lone("b", 2).my_record().expect("b admitted itself");
    let c = lone("c", 3).my_record().expect("c admitted itself");
    let _ = a.receive(100, probe(&b, None, Vec::new()));
    let failure_timeout_ms = Timing::default().failure_timeout_ms;
    let _ = a.receive(100 + failure_timeout_ms, probe(&c, None, Vec::new()));
    assert_eq!(
        a.silent_members().into_iter().collect::<Vec<_>>(),
        vec![b.addr()]
    );
    assert!(
        a.known_records().iter().any(|k| k.addr() == b.addr()),
        "the view keeps b until a tick sweeps it"
    );
}
