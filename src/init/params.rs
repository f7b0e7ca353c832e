//! Validation and defaulting of the user's init parameters against the receiving node's physical
//! topology ([`resolve_params`]): the checks an initiator makes before it draws an init id.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{InitError, NodeList};
use crate::init::{HeldCluster, InitCommand, InitParams};
use crate::types::{Addr, NodeName};

fn clean_list(list: &[NodeName], which: NodeList) -> Result<Vec<NodeName>, InitError> {
    let mut out: Vec<NodeName> = Vec::with_capacity(list.len());
    for name in list {
        let name = name.trim();
        if name.is_empty() {
            return Err(InitError::BlankNodeName { list: which });
        }
        if out.iter().any(|n| n == name) {
            return Err(InitError::DuplicateNodeName {
                list: which,
                name: name.to_string(),
            });
        }
        out.push(name.to_string());
    }
    out.sort();
    Ok(out)
}

/// Validates and defaults init parameters against a physical topology.
///
/// `members` is every member of the receiving node's view (itself included) as (name, address);
/// `held` the cluster each initialized member is known to hold; `own` the receiving node's name
/// and cluster, if it is initialized. Checks, in order: blank cluster name; blank or duplicate
/// names in the MS list, then the CMG list; two live members with one name; then defaulting (CMG
/// takes the MS list and the reverse; both empty: the first 3 names of the topology in sorted
/// order, or 5 when it has 5 or more); then every name must be a member; then:
/// - an initialized receiving node compares the command with its own cluster's init command:
///   any difference is `ParametersDiffer` (it knows its cluster; an init it receives must repeat
///   that cluster's init);
/// - every initialized named node must hold the same tag as the receiving node and as every
///   other initialized named node (`ForeignTag` otherwise, naming both tags);
/// - an empty receiving node compares the command with the init command of the cluster the
///   named nodes hold: one that shares neither the cluster name nor a list with it names a node
///   of another cluster (`ForeignTag`); anything else is left to the named nodes, which compare
///   it with what they hold (`Existing` for a repeat, `Mismatch` — `ParametersDiffer` — naming
///   what differs, requested and held).
pub fn resolve_params(
    params: &InitParams,
    members: &[(NodeName, Addr)],
    held: &BTreeMap<NodeName, HeldCluster>,
    own: Option<(&NodeName, &HeldCluster)>,
) -> Result<InitCommand, InitError> {
    let cluster_name = params.cluster_name.trim().to_string();
    if cluster_name.is_empty() {
        return Err(InitError::BlankClusterName);
    }
    let mut ms_nodes = clean_list(&params.ms_nodes, NodeList::Ms)?;
    let mut cmg_nodes = clean_list(&params.cmg_nodes, NodeList::Cmg)?;
    let mut addrs_by_name: BTreeMap<&str, Addr> = BTreeMap::new();
    for (name, addr) in members {
        if let Some(first) = addrs_by_name.insert(name.as_str(), *addr) {
            if first != *addr {
                return Err(InitError::DuplicateMember {
                    name: name.clone(),
                    first: first.min(*addr),
                    second: first.max(*addr),
                });
            }
        }
    }
    match (ms_nodes.is_empty(), cmg_nodes.is_empty()) {
        (true, true) => {
            let count = if addrs_by_name.len() >= 5 { 5 } else { 3 };
            let chosen: Vec<NodeName> = addrs_by_name
                .keys()
                .take(count)
                .map(|n| n.to_string())
                .collect();
            ms_nodes = chosen.clone();
            cmg_nodes = chosen;
        }
        (true, false) => ms_nodes = cmg_nodes.clone(),
        (false, true) => cmg_nodes = ms_nodes.clone(),
        (false, false) => {}
    }
    let named: BTreeSet<NodeName> = cmg_nodes.iter().chain(ms_nodes.iter()).cloned().collect();
    for name in &named {
        if !addrs_by_name.contains_key(name.as_str()) {
            return Err(InitError::NotInPhysicalTopology {
                name: (*name).clone(),
            });
        }
    }
    let command = InitCommand {
        cluster_name,
        cmg_nodes,
        ms_nodes,
    };
    // An initialized node knows its cluster: an init it receives is a repeat of the command that
    // cluster was created with, or it is refused at once.
    if let Some((own_name, own)) = own {
        if let Some(detail) = own.init.as_ref().and_then(|i| command.difference(i)) {
            return Err(InitError::ParametersDiffer {
                node: own_name.clone(),
                detail,
            });
        }
    }
    let mut expected: Option<&HeldCluster> = own.map(|(_, h)| h);
    for name in &named {
        let Some(cluster) = held.get(name) else {
            continue;
        };
        match expected {
            Some(e) if e.tag != cluster.tag => {
                return Err(InitError::ForeignTag {
                    name: name.clone(),
                    tag: cluster.tag.clone(),
                    expected: Some(e.tag.clone()),
                });
            }
            Some(_) => {}
            None => {
                // The first cluster met among the named nodes is the one this init is compared
                // with; the others must hold the same tag.
                let unrelated = match &cluster.init {
                    Some(init) => command.unrelated_to(init),
                    None => cluster.tag.name != command.cluster_name,
                };
                if unrelated {
                    return Err(InitError::ForeignTag {
                        name: name.clone(),
                        tag: cluster.tag.clone(),
                        expected: None,
                    });
                }
                // Anything else is compared by the named nodes themselves, with what they hold
                // now (what this node heard of them may be out of date: a cancel may have
                // cleared it): a repeat (`Existing`) or other parameters (`Mismatch`).
                expected = Some(cluster);
            }
        }
    }
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ClusterId, ClusterTag};

    fn members(names: &[&str]) -> Vec<(NodeName, Addr)> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), Addr::new([10, 0, 0, i as u8 + 1], 7000)))
            .collect()
    }

    fn params(name: &str, ms: &[&str], cmg: &[&str]) -> InitParams {
        InitParams {
            cluster_name: name.into(),
            ms_nodes: ms.iter().map(|s| s.to_string()).collect(),
            cmg_nodes: cmg.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn resolve(p: &InitParams, m: &[(NodeName, Addr)]) -> Result<InitCommand, InitError> {
        resolve_params(p, m, &BTreeMap::new(), None)
    }

    #[test]
    fn each_invalid_parameter_has_its_error() {
        let m = members(&["a", "b", "c"]);
        assert_eq!(
            resolve(&params("  ", &["a"], &[]), &m),
            Err(InitError::BlankClusterName)
        );
        assert_eq!(
            resolve(&params("c", &["a", " "], &[]), &m),
            Err(InitError::BlankNodeName { list: NodeList::Ms })
        );
        assert_eq!(
            resolve(&params("c", &["a"], &["b", ""]), &m),
            Err(InitError::BlankNodeName {
                list: NodeList::Cmg
            })
        );
        assert_eq!(
            resolve(&params("c", &["a", " a"], &[]), &m),
            Err(InitError::DuplicateNodeName {
                list: NodeList::Ms,
                name: "a".into()
            })
        );
        assert_eq!(
            resolve(&params("c", &["a"], &["z"]), &m),
            Err(InitError::NotInPhysicalTopology { name: "z".into() })
        );
        let mut dup = members(&["a", "b"]);
        dup.push(("a".into(), Addr::new([10, 0, 0, 9], 7000)));
        assert!(matches!(
            resolve(&params("c", &["a"], &[]), &dup),
            Err(InitError::DuplicateMember { .. })
        ));
        let tag = |id| ClusterTag {
            name: "c".into(),
            id: ClusterId(id),
        };
        let held = |id| HeldCluster {
            tag: tag(id),
            init: None,
        };
        let mut tags = BTreeMap::new();
        tags.insert("a".to_string(), held(1));
        tags.insert("b".to_string(), held(2));
        assert_eq!(
            resolve_params(&params("c", &["a", "b"], &[]), &m, &tags, None),
            Err(InitError::ForeignTag {
                name: "b".into(),
                tag: tag(2),
                expected: Some(tag(1)),
            })
        );
        let own = HeldCluster {
            tag: tag(3),
            init: Some(command("c", &["a"], &["a"])),
        };
        assert_eq!(
            resolve_params(
                &params("c", &["a"], &[]),
                &m,
                &tags,
                Some((&"c".into(), &own))
            ),
            Err(InitError::ForeignTag {
                name: "a".into(),
                tag: tag(1),
                expected: Some(tag(3)),
            })
        );
        assert!(matches!(
            resolve_params(&params("other", &["a"], &[]), &m, &tags, None),
            Err(InitError::ForeignTag { expected: None, .. })
        ));
        // One tag of the requested name: a repeat, left to the named nodes to compare.
        let own = HeldCluster {
            tag: tag(1),
            init: Some(command("c", &["a", "c"], &["a", "c"])),
        };
        let repeat = params("c", &["a", "c"], &[]);
        assert!(resolve_params(&repeat, &m, &tags, Some((&"c".into(), &own))).is_ok());
    }

    fn command(name: &str, cmg: &[&str], ms: &[&str]) -> InitCommand {
        InitCommand {
            cluster_name: name.into(),
            cmg_nodes: cmg.iter().map(|s| s.to_string()).collect(),
            ms_nodes: ms.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// docs/spec.md §5: every node compares a requested init with the command its cluster was
    /// created with — an initialized receiver at once, an empty one through the named nodes.
    #[test]
    fn an_init_is_compared_with_the_command_given_at_creation() {
        let m = members(&["a", "b", "c", "d"]);
        let c1 = ClusterTag {
            name: "c1".into(),
            id: ClusterId(7),
        };
        let created = command("c1", &["a", "b", "c"], &["a", "b", "c"]);
        let cluster = HeldCluster {
            tag: c1.clone(),
            init: Some(created),
        };
        let named: BTreeMap<NodeName, HeldCluster> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| (n.to_string(), cluster.clone()))
            .collect();
        let me: NodeName = "d".into();
        let initialized = Some((&me, &cluster));
        // The original init is a repeat, through an initialized node or an empty one, whatever
        // the current Meta Storage list is.
        let original = params("c1", &["a", "b", "c"], &[]);
        assert!(resolve_params(&original, &m, &named, initialized).is_ok());
        assert!(resolve_params(&original, &m, &named, None).is_ok());
        // One difference — the name, the CMG list, the MS list — is ParametersDiffer at once on
        // an initialized node (never ForeignTag: the named nodes hold its own tag), naming both
        // values.
        let cases = [
            (params("c2", &["a", "b", "c"], &[]), "cluster names"),
            // params(name, MS list, CMG list)
            (params("c1", &["a", "b", "c"], &["a", "b", "d"]), "CMG"),
            (
                params("c1", &["a", "b", "d"], &["a", "b", "c"]),
                "Meta Storage",
            ),
        ];
        for (p, what) in &cases {
            match resolve_params(p, &m, &named, initialized) {
                Err(InitError::ParametersDiffer { node, detail }) => {
                    assert_eq!(node, "d");
                    assert!(detail.starts_with(what), "{detail}");
                    assert!(detail.contains("requested") && detail.contains("held"));
                }
                other => panic!("{p:?}: {other:?}"),
            }
            // An empty node leaves it to the named nodes (they answer Mismatch).
            assert!(resolve_params(p, &m, &named, None).is_ok(), "{p:?}");
        }
        // Another name and other lists: the init of another cluster naming c1's nodes.
        let unrelated = params("x", &["a", "d"], &[]);
        assert!(matches!(
            resolve_params(&unrelated, &m, &named, None),
            Err(InitError::ForeignTag { expected: None, .. })
        ));
        assert!(matches!(
            resolve_params(&unrelated, &m, &named, initialized),
            Err(InitError::ParametersDiffer { .. })
        ));
    }

    #[test]
    fn defaults_fill_the_missing_lists() {
        let sizes = [(1, 1), (2, 2), (3, 3), (4, 3), (5, 5), (6, 5), (9, 5)];
        let all = ["i", "h", "g", "f", "e", "d", "c", "b", "a"];
        for (topology, chosen) in sizes {
            let m = members(&all[..topology]);
            let r = resolve(&params("c", &[], &[]), &m).unwrap();
            assert_eq!(r.cmg_nodes.len(), chosen, "topology of {topology}");
            assert_eq!(r.cmg_nodes, r.ms_nodes);
            let mut sorted: Vec<&str> = all[..topology].to_vec();
            sorted.sort();
            assert_eq!(r.cmg_nodes, sorted[..chosen].to_vec());
        }
        let m = members(&["a", "b", "c"]);
        let only_ms = resolve(&params("c", &["b", "a"], &[]), &m).unwrap();
        assert_eq!(only_ms.cmg_nodes, vec!["a", "b"]);
        let only_cmg = resolve(&params("c", &[], &["c"]), &m).unwrap();
        assert_eq!(only_cmg.ms_nodes, vec!["c"]);
    }
}
