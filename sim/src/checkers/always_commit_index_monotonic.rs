//! `always_commit_index_monotonic`: a replica's durable commit index never goes down, per (node,
//! group), across restarts (a restart replays from the vault, which keeps the commit index); a
//! wipe, a destroyed replica or a newly created one starts again from 0.

use joinsim::vault::VaultWrite;

use super::{Check, History, Invariant, Violation};

/// Compares each durable commit index with the replica's previous one.
#[derive(Debug, Default)]
pub struct AlwaysCommitIndexMonotonic;

impl Check for AlwaysCommitIndexMonotonic {
    fn invariant(&self) -> Invariant {
        Invariant::AlwaysCommitIndexMonotonic
    }

    fn observe_write(
        &mut self,
        label: &str,
        time_us: u64,
        write: &VaultWrite,
        history: &History,
    ) -> Option<Violation> {
        let VaultWrite::HardState(kind, hard_state) = write else {
            return None;
        };
        let replica = history.durable.replica(label, *kind)?;
        let (before, instance) = (replica.commit, replica.instance);
        (hard_state.commit < before).then(|| Violation {
            invariant: Invariant::AlwaysCommitIndexMonotonic,
            time_us,
            nodes: vec![label.to_string()],
            detail: format!(
                "{label}'s {kind} replica {instance:?} lowered its durable commit index from {before} to {}",
                hard_state.commit
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn a_commit_index_going_down_trips() {
        use Step::*;
        let base = || {
            vec![
                Write("a", create()),
                Write("a", append(1, &[1, 1, 1])),
                Write("a", commit(3)),
            ]
        };
        let mut history = base();
        history.push(Write("a", commit(3)));
        history.push(Harness("a", HarnessEvent::NodeKilled));
        history.push(Write("a", commit(3)));
        assert_eq!(replay(history), None, "a restart keeps the commit index");
        let mut history = base();
        history.push(Harness("a", HarnessEvent::NodeKilled));
        history.push(Write("a", commit(2)));
        assert_eq!(
            replay(history).unwrap().invariant,
            Invariant::AlwaysCommitIndexMonotonic
        );
        // A wiped replica starts again from nothing.
        let mut history = base();
        history.push(Harness("a", HarnessEvent::VaultWiped));
        history.push(Write("a", create()));
        history.push(Write("a", commit(0)));
        assert_eq!(replay(history), None);
    }
}
