//! `always_committed_entries_durable`: an entry is committed once a replica holds it durably at
//! or below its durable commit index; when a replica's log loses it (truncated, or replaced by
//! another entry) and no other replica of that incarnation still holds it, it is lost. A wipe
//! loses everything of that node without a fault (and a destroyed replica likewise): an entry
//! whose every copy went with wipes is not reported.

use joinsim::vault::VaultWrite;

use super::durable::entry_digest;
use super::{Check, History, Invariant, Violation};

/// Looks at every log append for a committed entry it drops from its last holder.
#[derive(Debug, Default)]
pub struct AlwaysCommittedEntriesDurable;

impl Check for AlwaysCommittedEntriesDurable {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysCommittedEntriesDurable
    }

    fn observe_write(
        &mut self,
        label: &str,
        time_us: u64,
        write: &VaultWrite,
        history: &History,
    ) -> Option<Violation> {
        let VaultWrite::Append(kind, new) = write else {
            return None;
        };
        let first = new.first()?.index;
        let replica = history.durable.replica(label, *kind)?;
        let instance = replica.instance;
        let new: Vec<(u64, u64)> = new.iter().map(entry_digest).collect();
        let committed = history.durable.committed(*kind, instance);
        let old_len = replica.entries.len() as u64;
        for index in first..=old_len.min(committed.len() as u64) {
            let at = (index - 1) as usize;
            let held = replica.entries[at];
            let now = new.get((index - first) as usize).copied();
            if committed[at] == held
                && now != Some(held)
                && !history
                    .durable
                    .held_elsewhere(label, *kind, instance, at, held)
            {
                let (term, _) = held;
                return Some(Violation {
                    invariant: Invariant::AlwaysCommittedEntriesDurable,
                    time_us,
                    nodes: vec![label.to_string()],
                    detail: format!(
                        "{label}'s {kind} replica {instance:?} dropped committed entry {index} (term {term}), which no other replica holds; {}",
                        match now {
                            Some((t, _)) => format!("it wrote an entry of term {t} there"),
                            None => "nothing was written at its index".to_string(),
                        }
                    ),
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn a_committed_entry_lost_on_every_replica_trips() {
        use Step::*;
        // a and b hold entries 1..3; a committed all three.
        let base = || {
            vec![
                Write("a", create()),
                Write("b", create()),
                Write("a", append(1, &[1, 1, 1])),
                Write("b", append(1, &[1, 1, 1])),
                Write("a", commit(3)),
            ]
        };
        // a drops entry 3 (rewrites 2 as it was, nothing at 3) while b still holds it: kept.
        let mut history = base();
        history.push(Write("a", append(2, &[1])));
        assert_eq!(replay(history), None);
        // b is wiped (legitimately losing everything), then a drops entry 3: lost everywhere.
        let mut history = base();
        history.push(Harness("b", HarnessEvent::VaultWiped));
        history.push(Write("a", append(2, &[1])));
        assert_eq!(
            replay(history).unwrap().invariant,
            Invariant::AlwaysCommittedEntriesDurable
        );
        // b drops it first, then a: the last copy goes with a.
        let mut history = base();
        history.push(Write("b", append(3, &[2])));
        history.push(Write("a", append(3, &[2])));
        assert_eq!(
            replay(history).unwrap().invariant,
            Invariant::AlwaysCommittedEntriesDurable
        );
        // Uncommitted entries may be replaced.
        let mut history = base();
        history.push(Write("a", append(4, &[1, 1])));
        history.push(Write("b", append(4, &[1])));
        history.push(Write("a", append(4, &[2])));
        history.push(Write("b", append(4, &[2])));
        assert_eq!(replay(history), None);
        // Wiping every holder loses the entry without a fault.
        let mut history = base();
        history.push(Harness("a", HarnessEvent::VaultWiped));
        history.push(Harness("b", HarnessEvent::VaultWiped));
        assert_eq!(replay(history), None);
    }
}
