//! Lazy vault writes (`VaultWrite::durability`, docs/protocol.md "Durability: which writes are
//! synced"): a node restarted from a vault that lost each lazy write still converges, and the
//! cluster stays safe (no cancel of an answered cluster, every node keeps its tag).

use super::*;
use crate::vault::{Durability, VaultWrite};
use crate::{InitFate, InstanceId};

/// Forms n1..n4 (CMG and Meta Storage n1..n3) and returns the tag and the cluster's init id.
fn cluster(seed: u64) -> (Network, ClusterTag, InstanceId) {
    let mut net = Network::builder().seed(seed).nodes(4).build();
    let tag = form_cluster(&mut net, &["n1", "n2", "n3", "n4"], &["n1", "n2", "n3"]);
    let init = net.vault("n1").local.as_ref().unwrap().cmg_instance;
    (net, tag, init)
}

/// Every node joined, holding `tag`; no replica applied a cancel of the cluster.
fn converged_and_safe(net: &mut Network, tag: &ClusterTag) {
    wait_joined(net, &["n1", "n2", "n3", "n4"]);
    for l in ["n1", "n2", "n3", "n4"] {
        assert_eq!(&net.vault(l).local.as_ref().unwrap().config.tag, tag, "{l}");
    }
    assert!(!net.all_events().any(|(_, e)| matches!(
        e,
        Event::InitFateApplied {
            fate: Some(InitFate::Cancelled),
            ..
        }
    )));
    assert_eq!(net.leader_lt().unwrap().1, vec!["n1", "n2", "n3", "n4"]);
}

#[test]
fn the_lazy_writes_are_forget_cancel_and_lifting_a_fence() {
    let lazy: Vec<VaultWrite> = crate::vault::samples::every_write()
        .into_iter()
        .filter(|w| w.durability() == Durability::Lazy)
        .collect();
    assert_eq!(
        lazy,
        vec![
            VaultWrite::ForgetCancel(InstanceId(5)),
            VaultWrite::FenceCmg(None)
        ]
    );
}

/// A lost `ForgetCancel` of a cancel of this very cluster's init, refused because the init was
/// answered: the restart resumes it, the CMG refuses it again, and the cancel ends.
#[test]
fn a_lost_forget_cancel_of_an_answered_init_is_refused_again() {
    let (mut net, tag, init) = cluster(81);
    net.kill("n1");
    let mut vault = net.vault("n1").clone();
    vault.cancels.push(init);
    net.set_vault("n1", vault);
    net.start("n1");
    assert_eq!(
        net.view("n1").unwrap().cancels.len(),
        1,
        "the cancel resumes"
    );
    net.wait_until(
        |n| {
            n.events("n1")
                .any(|(_, e)| matches!(e, Event::CancelRefused { .. }))
        },
        PATIENCE_MS,
    )
    .expect("the CMG refuses the resumed cancel");
    net.wait_until(
        |n| n.vault("n1").cancels.is_empty() && n.view("n1").unwrap().cancels.is_empty(),
        PATIENCE_MS,
    )
    .expect("the cancel ends and is forgotten");
    converged_and_safe(&mut net, &tag);
}

/// A lost `ForgetCancel` of an init that nothing holds any more: the resumed cancel finds
/// nothing, runs out and is forgotten; the cluster is untouched.
#[test]
fn a_lost_forget_cancel_of_a_gone_init_finds_nothing() {
    let (mut net, tag, _) = cluster(82);
    net.kill("n4");
    let mut vault = net.vault("n4").clone();
    vault.cancels.push(InstanceId(0x5eed));
    net.set_vault("n4", vault);
    net.start("n4");
    net.wait_until(|n| n.vault("n4").cancels.is_empty(), 2 * PATIENCE_MS)
        .expect("the resumed cancel ends");
    converged_and_safe(&mut net, &tag);
}

/// A lost `FenceCmg(None)`: a CMG voter restarts fenced although its init was answered; it
/// learns the fate again from its group and takes part again.
#[test]
fn a_lost_unfence_is_learnt_again() {
    let (mut net, tag, init) = cluster(83);
    let voter = ["n1", "n2", "n3"]
        .into_iter()
        .find(|l| Some(l.to_string()) != net.cmg_leader())
        .unwrap();
    net.kill(voter);
    let mut vault = net.vault(voter).clone();
    vault.cmg_fenced = Some(init);
    net.set_vault(voter, vault);
    net.start(voter);
    net.wait_until(
        |n| {
            n.events(voter)
                .any(|(_, e)| matches!(e, Event::CmgUnfenced { .. }))
        },
        PATIENCE_MS,
    )
    .expect("the voter learns the init was answered");
    assert_eq!(net.vault(voter).cmg_fenced, None);
    converged_and_safe(&mut net, &tag);
    // It takes part in its group again: it holds the leader's whole log.
    let leader = net.cmg_leader().unwrap();
    let last = net.view(&leader).unwrap().cmg.as_ref().unwrap().last_index;
    net.wait_until(
        |n| n.view(voter).unwrap().cmg.as_ref().unwrap().last_index >= last,
        PATIENCE_MS,
    )
    .expect("the voter catches up");
}
