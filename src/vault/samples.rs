//! Test values: one vault write of every variant, and the records they are built from.

use super::*;
use crate::types::ClusterId;

/// A local state of cluster `c` (id 1) at Meta Storage version `ms_version`.
pub(crate) fn local(ms_version: u64) -> LocalState {
    LocalState {
        config: ClusterConfig {
            tag: ClusterTag {
                name: "c".into(),
                id: ClusterId(1),
            },
            cmg_nodes: vec!["a".into()],
            ms_nodes: vec!["a".into()],
            ms_version,
        },
        cmg_instance: InstanceId(1),
        ms_instance: InstanceId(1),
        init: InitCommand::default(),
    }
}

/// A replica record of incarnation 1 with voter `a` and an empty log.
pub(crate) fn group() -> GroupRecord {
    GroupRecord {
        instance: InstanceId(1),
        plan: None,
        initial_voters: vec!["a".into()],
        hard_state: HardStateRecord::default(),
        entries: vec![],
    }
}

/// One write of every variant (`FenceCmg` twice: with and without an init).
pub(crate) fn every_write() -> Vec<VaultWrite> {
    let entry = EntryRecord {
        index: 1,
        term: 1,
        kind: EntryKind::ConfChange,
        data: vec![1, 2, 3],
        context: vec![4],
    };
    vec![
        VaultWrite::SetLocal(local(1)),
        VaultWrite::ClearLocal,
        VaultWrite::SetMsConfig {
            version: 2,
            nodes: vec!["a".into(), "b".into()],
        },
        VaultWrite::CreateGroup(GroupKind::Cmg, Box::new(group())),
        VaultWrite::DestroyGroup(GroupKind::Ms, InstanceId(7)),
        VaultWrite::HardState(
            GroupKind::Cmg,
            HardStateRecord {
                term: 2,
                vote: 3,
                commit: 1,
            },
        ),
        VaultWrite::Append(GroupKind::Ms, vec![entry]),
        VaultWrite::RecordCancel(InstanceId(5)),
        VaultWrite::ForgetCancel(InstanceId(5)),
        VaultWrite::FenceCmg(Some(InstanceId(1))),
        VaultWrite::FenceCmg(None),
        VaultWrite::RecordCleared(
            InstanceId(4),
            Some(ClusterTag {
                name: "old".into(),
                id: ClusterId(4),
            }),
        ),
    ]
}

#[test]
fn every_variant_has_a_sample() {
    let mut names: Vec<&'static str> = every_write().iter().map(|w| w.into()).collect();
    names.dedup();
    assert_eq!(names, <VaultWrite as strum::VariantNames>::VARIANTS);
}
