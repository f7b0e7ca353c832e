//! Whole protocol paths on the synchronous test network. Each test runs in milliseconds.

mod cancel_retry;
mod determinism;
mod doc_example;
mod durability;
mod faults;
mod harness;
mod init;
mod join_scenarios;
mod leave;
mod moved;
mod namesakes;
mod progress;
mod rejections;

use crate::testing::Network;
use crate::RestoredCluster;
use crate::{Addr, ClusterId, ClusterTag, Event, InitParams, ProductVersion, ProtocolVersion};

/// How long a test waits for anything, in simulated milliseconds.
const PATIENCE_MS: u64 = 60_000;

/// Init parameters with explicit lists.
fn params(name: &str, cmg: &[&str], ms: &[&str]) -> InitParams {
    InitParams {
        cluster_name: name.to_string(),
        cmg_nodes: cmg.iter().map(|s| s.to_string()).collect(),
        ms_nodes: ms.iter().map(|s| s.to_string()).collect(),
    }
}

/// Runs until each of `labels` sees all of `labels` in its physical topology.
fn wait_physical(net: &mut Network, labels: &[&str]) {
    net.wait_until(
        |n| {
            labels.iter().all(|l| {
                n.view(l).is_some_and(|v| {
                    labels
                        .iter()
                        .all(|m| v.physical.iter().any(|(name, _)| name == m))
                })
            })
        },
        PATIENCE_MS,
    )
    .expect("the physical topology forms");
}

/// Runs until each of `labels` is joined.
fn wait_joined(net: &mut Network, labels: &[&str]) {
    net.wait_until(|n| n.joined(labels), PATIENCE_MS)
        .unwrap_or_else(|e| panic!("{labels:?} join: {e}"));
}

/// Starts `labels`, waits for their physical topology, inits through the first with CMG = MS =
/// `cmg`, and waits until all of them joined. Returns the tag.
fn form_cluster(net: &mut Network, labels: &[&str], cmg: &[&str]) -> ClusterTag {
    for l in labels {
        net.start(l);
    }
    wait_physical(net, labels);
    let tag = net
        .init(labels[0], params("test", cmg, cmg))
        .expect("init succeeds");
    wait_joined(net, labels);
    tag
}

/// A cluster that existed before the run, with its nodes at the harness addresses given by index.
fn restored(
    name: &str,
    id: u128,
    cmg: &[&str],
    ms_version: u64,
    addrs: &[(&str, usize)],
) -> RestoredCluster {
    RestoredCluster {
        config: crate::ClusterConfig {
            tag: ClusterTag {
                name: name.to_string(),
                id: ClusterId(id),
            },
            cmg_nodes: cmg.iter().map(|s| s.to_string()).collect(),
            ms_nodes: cmg.iter().map(|s| s.to_string()).collect(),
            ms_version,
        },
        product: ProductVersion::default(),
        protocol: ProtocolVersion::default(),
        addrs: addrs
            .iter()
            .map(|(n, i)| (n.to_string(), crate::testing::node_addr(*i)))
            .collect::<std::collections::BTreeMap<String, Addr>>(),
    }
}

/// True when `label` ever appeared in an LT that some CMG replica reported.
fn ever_in_lt(net: &Network, label: &str) -> bool {
    net.all_events().any(|(_, e)| {
        matches!(e, Event::LtChanged { members, .. } if members.iter().any(|(n, _)| n == label))
    })
}
