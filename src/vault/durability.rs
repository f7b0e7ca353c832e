//! Which vault writes the protocol syncs (docs/protocol.md, "Durability: which writes are
//! synced"). A host makes a [`Durability::Synced`] write durable before any message of the same
//! [`crate::Output`] leaves; a [`Durability::Lazy`] write it may keep in a cache and lose on a
//! crash that comes soon after. The protocol is correct either way for a lazy write: losing it
//! leaves the vault as it was before the write, and the tests in
//! `src/testing/tests/durability.rs` start a node from such a vault.

use serde::Serialize;

use super::VaultWrite;

/// Whether the protocol needs a write durable before the messages that follow it.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// Made durable (fsync) before any message of the same output is sent: a message that leaves
    /// may depend on it, and a crash must not undo it.
    Synced,
    /// Written without a sync: a crash right after may lose it (the vault is then as before the
    /// write), and the protocol stays correct and converges.
    Lazy,
}

impl VaultWrite {
    /// Whether the protocol syncs this write (docs/protocol.md, "Durability: which writes are
    /// synced", has the table and each reason).
    ///
    /// - `SetLocal`, `ClearLocal`: the node's membership of a cluster; its join ready, its cancel
    ///   acknowledgement and its handshakes say what it holds. **Synced.**
    /// - `SetMsConfig`: the stored Meta Storage version, which the spec says never decreases (the
    ///   join check "stored X > cluster's Y" rests on it; `always_ms_version_monotonic` checks it
    ///   across restarts). **Synced.**
    /// - `CreateGroup`, `DestroyGroup`, `HardState`, `Append`: Raft's stable storage (a vote, a
    ///   term, an acknowledged entry), and a destroyed replica is acknowledged to its canceller.
    ///   **Synced.**
    /// - `RecordCancel`: recorded before any `CancelInit` leaves, so that a restart resumes it.
    ///   **Synced.**
    /// - `ForgetCancel`: the cancel ended. Lost, the restart resumes a cancel that already ended:
    ///   every cancel is decided by the CMG log (Step 2.6), whoever sends it and however often, so
    ///   a resumed cancel of an answered init is refused, of a cleared one finds nothing, and of
    ///   one that is neither clears a cluster no user was answered, as the spec asks. **Lazy.**
    /// - `FenceCmg(Some(_))`: the fence is a promise to a canceller, who may count it to decide.
    ///   **Synced.**
    /// - `FenceCmg(None)`: the fence lifted; a replica is unfenced only once the init's fate is
    ///   known to be "answered". Lost, the replica is fenced again after a restart and learns
    ///   that fate again from its group's voters (a fence only withholds a replica's part; it
    ///   never votes or accepts for it). **Lazy.**
    /// - `RecordCleared`: the memory of a decided cancel that lets this node tell a member of
    ///   that init that comes back; it is written because other copies of it may be gone.
    ///   **Synced.**
    pub fn durability(&self) -> Durability {
        match self {
            VaultWrite::ForgetCancel(_) | VaultWrite::FenceCmg(None) => Durability::Lazy,
            VaultWrite::SetLocal(_)
            | VaultWrite::ClearLocal
            | VaultWrite::SetMsConfig { .. }
            | VaultWrite::CreateGroup(..)
            | VaultWrite::DestroyGroup(..)
            | VaultWrite::HardState(..)
            | VaultWrite::Append(..)
            | VaultWrite::RecordCancel(_)
            | VaultWrite::FenceCmg(Some(_))
            | VaultWrite::RecordCleared(..) => Durability::Synced,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::samples::every_write;

    /// docs/protocol.md's table, "Durability: which writes are synced", says what `durability`
    /// says, for every variant (rows `| `Name` | synced |`, `FenceCmg` split by its argument).
    #[test]
    fn the_docs_table_is_the_code() {
        let docs = include_str!("../../docs/protocol.md");
        let section = docs
            .split("## Durability: which writes are synced")
            .nth(1)
            .expect("docs/protocol.md has the section")
            .split("\n## ")
            .next()
            .unwrap();
        let mut rows: Vec<(String, String)> = section
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let name = cells.get(1)?.strip_prefix('`')?.split('`').next()?;
                Some((name.to_string(), cells.get(2)?.to_string()))
            })
            .collect();
        rows.sort();
        let mut code: Vec<(String, String)> = every_write()
            .iter()
            .map(|w| {
                let name: &'static str = w.into();
                let name = match w {
                    VaultWrite::FenceCmg(Some(_)) => "FenceCmg(Some)".to_string(),
                    VaultWrite::FenceCmg(None) => "FenceCmg(None)".to_string(),
                    _ => name.to_string(),
                };
                (name, w.durability().to_string())
            })
            .collect();
        code.sort();
        code.dedup();
        assert_eq!(rows, code);
    }

    #[test]
    fn names_are_snake_case() {
        assert_eq!(Durability::Synced.to_string(), "synced");
        assert_eq!("lazy".parse::<Durability>(), Ok(Durability::Lazy));
        assert_eq!(
            <Durability as strum::VariantNames>::VARIANTS,
            ["synced", "lazy"]
        );
    }
}
