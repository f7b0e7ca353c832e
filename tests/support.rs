//! Helpers shared by the simulation tests.

use std::collections::BTreeMap;

use joinsim::{
    Addr, ClusterConfig, ClusterId, ClusterTag, Event, InitParams, LaunchId, ProductVersion,
    ProtocolVersion, RestoredCluster,
};
use joinsim_sim::{TraceEntry, TraceKind, World};

/// The seeds of one test: `JOINSIM_SEED` alone, or `JOINSIM_TEST_SEEDS` (default 32) seeds
/// `base * 1000 + i`, so that tests do not share seeds. A failure prints the command that reruns
/// its seed alone (see `joinsim_sim::test_seeds`).
pub fn seeds(base: u64) -> impl Iterator<Item = u64> {
    joinsim_sim::test_seeds::test_seeds(base)
}

/// Init parameters with explicit lists.
pub fn params(name: &str, cmg: &[&str], ms: &[&str]) -> InitParams {
    InitParams {
        cluster_name: name.to_string(),
        cmg_nodes: cmg.iter().map(|s| s.to_string()).collect(),
        ms_nodes: ms.iter().map(|s| s.to_string()).collect(),
    }
}

/// Waits until each of `labels` sees all of `labels` in its physical topology.
pub async fn wait_physical(world: &World, labels: &[&str]) {
    let want: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
    world
        .wait_until("physical topology formed", 30_000, |w| {
            want.iter().all(|l| {
                w.view(l)
                    .is_some_and(|v| want.iter().all(|m| v.physical.iter().any(|(n, _)| n == m)))
            })
        })
        .await
        .expect("physical topology forms");
}

/// Starts `labels`, waits for the physical topology, inits through the first with CMG = MS =
/// `cmg`, and waits until all of them joined. Returns the tag.
pub async fn form_cluster(world: &World, labels: &[&str], cmg: &[&str]) -> ClusterTag {
    for l in labels {
        world.start(l);
    }
    wait_physical(world, labels).await;
    let tag = world
        .init(labels[0], params("test", cmg, cmg))
        .await
        .expect("init succeeds");
    wait_joined(world, labels).await;
    tag
}

/// Waits (60 s) until each of `labels` is joined.
pub async fn wait_joined(world: &World, labels: &[&str]) {
    world
        .wait_until(&format!("{labels:?} joined"), 60_000, |w| w.joined(labels))
        .await
        .expect("nodes join");
}

/// The CMG leader's label, if a running node leads.
pub fn cmg_leader(world: &World) -> Option<String> {
    world
        .views()
        .into_iter()
        .find(|(_, v)| v.is_cmg_leader())
        .map(|(l, _)| l)
}

/// The LT (version, names) held by the CMG leader.
pub fn leader_lt(world: &World) -> Option<(u64, Vec<String>)> {
    let leader = cmg_leader(world)?;
    let view = world.view(&leader)?;
    let lt = view.lt()?;
    Some((lt.version, lt.members.keys().cloned().collect()))
}

/// Protocol events in the trace, with their node.
pub fn events(trace: &[TraceEntry]) -> Vec<(&str, &Event)> {
    trace
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Protocol(p) => Some((e.node.as_str(), p)),
            _ => None,
        })
        .collect()
}

/// Asserts that all CMG replicas that reported an LT version reported the same members for it.
pub fn assert_lt_versions_agree(trace: &[TraceEntry]) {
    let mut by_version: BTreeMap<u64, (String, Vec<(String, LaunchId)>)> = BTreeMap::new();
    for (node, event) in events(trace) {
        if let Event::LtChanged {
            version, members, ..
        } = event
        {
            match by_version.get(version) {
                None => {
                    by_version.insert(*version, (node.to_string(), members.clone()));
                }
                Some((first, seen)) => assert_eq!(
                    seen, members,
                    "LT version {version}: {first} and {node} disagree"
                ),
            }
        }
    }
}

/// A cluster that existed before the run, with nodes at 10.0.0.x in spec order.
pub fn restored(
    name: &str,
    id: u128,
    cmg: &[&str],
    ms_version: u64,
    addrs: &[(&str, usize)],
) -> RestoredCluster {
    RestoredCluster {
        config: ClusterConfig {
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
            .map(|(n, i)| (n.to_string(), Addr::new([10, 0, 0, *i as u8 + 1], 7000)))
            .collect(),
    }
}

/// Runs the `joinsim` tool from the repository root.
pub fn joinsim(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_joinsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR").to_string() + "/..")
        .output()
        .expect("run joinsim")
}
