//! `always_physical_member_passed_pre_init`: each `MemberAdded`/`MemberReplaced` (name, launch)
//! was `Admitted` by some node (or admitted itself, `EnteredTopology` via itself), and its
//! versions are compatible with those of the node whose view it enters, whichever path brought
//! it (docs/protocol.md, "pre-init on every path"); and each `Admitted` holds the pre-init
//! rules: compatible versions, and one tag when both nodes are initialized.

use joinsim::{ClusterTag, Event, LaunchId};

use super::{Check, History, Invariant, Violation};
use crate::trace::{TraceEntry, TraceKind};

/// Checks every admission and every member taken into a physical-topology view.
#[derive(Debug, Default)]
pub struct AlwaysPhysicalMemberPassedPreInit;

impl Check for AlwaysPhysicalMemberPassedPreInit {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysPhysicalMemberPassedPreInit
    }

    fn observe(&mut self, entry: &TraceEntry, history: &History) -> Option<Violation> {
        let label = entry.node.as_str();
        let violation = |member: &str, detail: String| {
            Some(Violation::at(
                entry,
                Invariant::AlwaysPhysicalMemberPassedPreInit,
                vec![label.into(), member.to_string()],
                detail,
            ))
        };
        match &entry.kind {
            TraceKind::Protocol(Event::Admitted {
                member,
                launch,
                tag,
            }) => {
                let problem = admission_problem(history, label, member, *launch, tag.as_ref())?;
                violation(member, problem)
            }
            TraceKind::Protocol(
                Event::MemberAdded { member, launch }
                | Event::MemberReplaced {
                    member,
                    new: launch,
                    ..
                },
            ) => {
                if !history.admitted.contains(&(member.clone(), *launch)) {
                    return violation(
                        member,
                        format!(
                            "{label} added {member} (launch {launch:?}), which no node admitted"
                        ),
                    );
                }
                // Pre-init holds on every path into a view (docs/protocol.md, "pre-init on
                // every path"): whoever admitted the member, this node's view takes it only if
                // their versions are compatible.
                let problem = version_problem(history, label, member, *launch)?;
                violation(member, format!("{problem}, into its view"))
            }
            _ => None,
        }
    }
}

/// Why admitting `member` at `admitter` broke the pre-init rules, if it did: versions must be
/// compatible, and two initialized nodes must hold one tag.
fn admission_problem(
    history: &History,
    admitter: &str,
    member: &str,
    launch: LaunchId,
    member_tag: Option<&ClusterTag>,
) -> Option<String> {
    if let Some(problem) = version_problem(history, admitter, member, launch) {
        return Some(problem);
    }
    if let (Some(Some(own)), Some(other)) = (history.tag_of.get(admitter), member_tag) {
        if own != other {
            return Some(format!(
                "{admitter}, initialized with {own}, admitted {member} initialized with {other}"
            ));
        }
    }
    None
}

/// Why `member` (that launch) may not be in `viewer`'s view, if their versions are
/// incompatible: another protocol version, or another product major.minor.
fn version_problem(
    history: &History,
    viewer: &str,
    member: &str,
    launch: LaunchId,
) -> Option<String> {
    let mine = history.nodes.get(viewer)?;
    let theirs = history
        .label_of(member, launch)
        .and_then(|l| history.nodes.get(l))?;
    if mine.protocol != theirs.protocol || !mine.product.compatible_with(&theirs.product) {
        return Some(format!(
            "{viewer} ({} / protocol {}) admitted {member} ({} / protocol {})",
            mine.product, mine.protocol, theirs.product, theirs.protocol
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn physical_member_never_admitted_trips() {
        let ok = feed(vec![
            (
                "a",
                Event::Admitted {
                    member: "b".into(),
                    launch: LaunchId(2),
                    tag: None,
                },
            ),
            (
                "c",
                Event::MemberAdded {
                    member: "b".into(),
                    launch: LaunchId(2),
                },
            ),
        ]);
        assert_eq!(ok, None);
        let v = feed(vec![(
            "c",
            Event::MemberAdded {
                member: "b".into(),
                launch: LaunchId(2),
            },
        )]);
        assert_eq!(
            v.unwrap().invariant,
            Invariant::AlwaysPhysicalMemberPassedPreInit
        );
        // Self-admission counts for the node itself.
        assert_eq!(self_admitted_a_in_the_view_of_b(facts()), None);
    }

    /// `a` admits itself; `b` takes it into its view (through a probe, say), and later drops it.
    fn self_admitted_a_in_the_view_of_b(facts: BTreeMap<String, NodeFacts>) -> Option<Violation> {
        let mut checker = Checker::new(facts);
        [
            ("a", started(1, None)),
            ("b", started(2, None)),
            ("a", Event::EnteredTopology { via: "a".into() }),
            (
                "b",
                Event::MemberAdded {
                    member: "a".into(),
                    launch: LaunchId(1),
                },
            ),
            (
                "b",
                Event::MemberRemoved {
                    member: "a".into(),
                    launch: LaunchId(1),
                    cause: RemovalCause::Dead,
                },
            ),
        ]
        .into_iter()
        .find_map(|(n, e)| checker.observe(&entry(n, e)))
    }

    #[test]
    fn an_admission_that_breaks_pre_init_rules_trips() {
        let admitted = |tag| Event::Admitted {
            member: "b".into(),
            launch: LaunchId(2),
            tag,
        };
        let initialized_a = Event::Started {
            launch: LaunchId(1),
            tag: Some(tag(1)),
            ms_version: Some(1),
        };
        // An initialized node admits a node of another cluster.
        let v = feed(vec![
            ("a", initialized_a.clone()),
            ("b", started(2, None)),
            ("a", admitted(Some(tag(9)))),
        ]);
        assert_eq!(
            v.unwrap().invariant,
            Invariant::AlwaysPhysicalMemberPassedPreInit
        );
        // Same tag, or an empty joiner: fine.
        assert_eq!(
            feed(vec![
                ("a", initialized_a.clone()),
                ("b", started(2, None)),
                ("a", admitted(Some(tag(1)))),
                ("a", admitted(None)),
            ]),
            None
        );
        // Incompatible product versions.
        let mut f = facts();
        f.get_mut("b").unwrap().product = ProductVersion::new(3, 1, 0);
        let mut checker = Checker::new(f);
        let v = [
            ("a", started(1, None)),
            ("b", started(2, None)),
            ("a", admitted(None)),
        ]
        .into_iter()
        .find_map(|(n, e)| checker.observe(&entry(n, e)));
        assert_eq!(
            v.unwrap().invariant,
            Invariant::AlwaysPhysicalMemberPassedPreInit
        );
    }

    #[test]
    fn a_member_of_another_version_added_to_a_view_trips() {
        // a runs another product and admitted itself: no handshake checked it against b, yet
        // b's view may not take it (pre-init on every path).
        let mut f = facts();
        f.get_mut("a").unwrap().product = ProductVersion::new(3, 1, 0);
        assert_eq!(
            self_admitted_a_in_the_view_of_b(f).unwrap().invariant,
            Invariant::AlwaysPhysicalMemberPassedPreInit
        );
    }
}
