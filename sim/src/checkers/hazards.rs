//! The hazards: dangerous states the testbed reports without calling them a bug of the run.

use serde::Serialize;

use joinsim::InstanceId;

use super::{ClusterFacts, History};

/// A kind of hazard.
///
/// Its names are the snake_case of the variants (`two_clusters`), derived once by strum and
/// serde: `Display` (or `<&str>::from`) spells one, `str::parse` reads one back (a scenario's
/// `[expect] hazards`), `HazardKind::VARIANTS` ([`strum::VariantNames`]) lists every name, and
/// the JSON of a [`Hazard`] writes the same name. docs/scenarios.md's `hazards` row lists exactly
/// these names (a test in `sim/src/scenario/model.rs` checks it).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum HazardKind {
    /// Two committed clusters, each with a running CMG majority, whose CMG members can reach
    /// each other ([`two_clusters`]).
    TwoClusters,
}

/// A dangerous state the testbed reports without calling it a bug of the run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Hazard {
    /// Its kind.
    pub kind: HazardKind,
    /// Simulated time when it was first seen, in milliseconds.
    pub at_ms: u64,
    /// What exactly.
    pub detail: String,
}

/// The `two_clusters` hazard, if the history shows it now: two different committed clusters,
/// each with a running majority of its CMG, whose CMG members can reach each other.
/// `running(a)` tells whether node `a` (a label) runs; `reachable(a, b)` whether running nodes
/// `a` and `b` can exchange messages.
pub fn two_clusters(
    history: &History,
    now_ms: u64,
    running: impl Fn(&str) -> bool,
    reachable: impl Fn(&str, &str) -> bool,
) -> Option<Hazard> {
    if history.clusters.len() < 2 {
        return None;
    }
    let hosts = |instance: &InstanceId| -> Vec<String> {
        history
            .cmg_of
            .iter()
            .filter(|(l, i)| *i == instance && running(l))
            .map(|(l, _)| l.clone())
            .collect()
    };
    // A cluster whose CMG cannot reach a majority (a lone replica of an old cluster) cannot
    // act as a cluster: it is not half of a hazard.
    let clusters: Vec<(&InstanceId, &ClusterFacts)> = history
        .clusters
        .iter()
        .filter(|(i, c)| hosts(i).len() > c.cmg_nodes.len() / 2)
        .collect();
    for (i, (a_id, a)) in clusters.iter().enumerate() {
        for (b_id, b) in clusters.iter().skip(i + 1) {
            if a.tag == b.tag {
                continue;
            }
            for x in hosts(a_id) {
                for y in hosts(b_id) {
                    if reachable(&x, &y) {
                        let detail = format!(
                            "cluster {} (CMG {:?}) and cluster {} (CMG {:?}) are both committed, and CMG members {x} and {y} can reach each other",
                            a.tag, a.cmg_nodes, b.tag, b.cmg_nodes
                        );
                        return Some(Hazard {
                            kind: HazardKind::TwoClusters,
                            at_ms: now_ms,
                            detail,
                        });
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use joinsim::{Event, GroupKind, ProductVersion, ProtocolVersion};

    use super::super::testing::*;
    use super::super::Checker;
    use super::*;

    #[test]
    fn two_committed_clusters_that_can_talk_are_a_hazard() {
        let mut checker = Checker::new(facts());
        let other = InstanceId(8);
        let history = vec![
            ("a", cmg_started()),
            ("a", init_applied(1, 1, 2)),
            (
                "c",
                Event::GroupStarted {
                    group: GroupKind::Cmg,
                    instance: other,
                    from_vault: false,
                },
            ),
            (
                "c",
                Event::ClusterInitApplied {
                    instance: other,
                    tag: tag(2),
                    product: ProductVersion::new(3, 0, 0),
                    protocol: ProtocolVersion(1),
                    ms_version: 1,
                    cmg_nodes: vec!["c".into()],
                    index: 2,
                },
            ),
        ];
        for (n, e) in history {
            assert!(checker.observe(&entry(n, e)).is_none());
        }
        checker.look_for_hazards(10, |_| true, |_, _| false);
        assert!(checker.hazards().is_empty(), "partitioned apart: no hazard");
        checker.look_for_hazards(15, |l| l != "a", |_, _| true);
        assert!(
            checker.hazards().is_empty(),
            "a CMG without a running majority: no hazard"
        );
        checker.look_for_hazards(20, |_| true, |_, _| true);
        assert_eq!(checker.hazards().len(), 1);
        assert_eq!(checker.hazards()[0].kind, HazardKind::TwoClusters);
    }
}
