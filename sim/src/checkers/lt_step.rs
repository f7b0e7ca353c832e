//! One CMG replica's LT report against the LT it reported before (what the LT step checkers
//! compare).

use std::collections::BTreeMap;

use joinsim::{Event, LaunchId, NodeName};

use super::History;
use crate::trace::{TraceEntry, TraceKind};

/// An `LtChanged` of a replica whose previous LT (since it last started) is of the same
/// incarnation, with the differences between the two.
#[derive(Debug)]
pub struct LtStep<'a> {
    /// The replica's previous LT version.
    pub before: u64,
    /// Its previous LT.
    pub old: &'a [(NodeName, LaunchId)],
    /// The new version.
    pub version: u64,
    /// The new LT.
    pub members: &'a [(NodeName, LaunchId)],
    /// The log index of the command that changed it.
    pub index: u64,
    /// Members gone from the LT: (name, launch).
    pub removed: Vec<(NodeName, LaunchId)>,
    /// Members whose launch changed: (name, old launch, new launch).
    pub replaced: Vec<(NodeName, LaunchId, LaunchId)>,
    /// How many names are new in the LT.
    pub added: usize,
}

impl<'a> LtStep<'a> {
    /// The step `entry` reports, if it is an `LtChanged` of a CMG replica whose previous LT is of
    /// the incarnation it hosts.
    pub fn of(entry: &'a TraceEntry, history: &'a History) -> Option<LtStep<'a>> {
        let TraceKind::Protocol(Event::LtChanged {
            version,
            members,
            index,
        }) = &entry.kind
        else {
            return None;
        };
        let label = entry.node.as_str();
        let instance = history.cmg_of.get(label)?;
        let (previous, before, old) = history.replica_lt.get(label)?;
        if previous != instance {
            return None;
        }
        let old_map: BTreeMap<&NodeName, LaunchId> = old.iter().map(|(n, l)| (n, *l)).collect();
        let new_map: BTreeMap<&NodeName, LaunchId> = members.iter().map(|(n, l)| (n, *l)).collect();
        let mut removed = Vec::new();
        let mut replaced = Vec::new();
        for (name, launch) in &old_map {
            match new_map.get(name) {
                None => removed.push(((*name).clone(), *launch)),
                Some(new) if new != launch => replaced.push(((*name).clone(), *launch, *new)),
                Some(_) => {}
            }
        }
        let added = new_map.keys().filter(|n| !old_map.contains_key(*n)).count();
        Some(LtStep {
            before: *before,
            old,
            version: *version,
            members,
            index: *index,
            removed,
            replaced,
            added,
        })
    }

    /// The number of LT changes: members added, removed, or replaced by a new launch.
    pub fn changes(&self) -> u64 {
        (self.removed.len() + self.replaced.len() + self.added) as u64
    }
}
