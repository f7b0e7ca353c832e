//! Unit tests of `src/node/physical.rs`: a probe ack carries the responder's view only to a sync
//! probe whose prober does not hold it already.

use std::sync::Arc;

use crate::config::{NodeConfig, Timing};
use crate::message::{Envelope, Message};
use crate::node::Node;
use crate::topology::{record_digest, MemberRecord};
use crate::types::{Addr, LaunchId};
use crate::vault::Vault;

/// Node `name` at 10.0.0.`n`, launch `n`, empty, with no seed: it admits itself at once.
fn lone(name: &str, n: u8) -> Node {
    let cfg = NodeConfig {
        name: name.into(),
        addr: Addr::new([10, 0, 0, n], 7000),
        product: Default::default(),
        protocol: Default::default(),
        seeds: Vec::new(),
        bug: None,
    };
    let (node, _) = Node::new(
        cfg,
        Timing::default(),
        LaunchId(u64::from(n)),
        1,
        &Vault::default(),
        0,
    )
    .unwrap();
    node
}

/// The members of the ack `node` answers a probe from `prober` carrying `view` with.
fn ack_members(
    node: &mut Node,
    prober: &Arc<MemberRecord>,
    view: Option<u64>,
) -> Vec<Arc<MemberRecord>> {
    let out = node.receive(
        100,
        Envelope {
            from: prober.addr(),
            from_launch: prober.launch(),
            msg: Message::Probe {
                sender: prober.clone(),
                view,
            },
        },
    );
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
