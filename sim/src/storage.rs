//! Storage faults on a node's vault (docs/network.md, "Storage faults"), and how the host keeps
//! the vault so that they can happen: synced writes reach the vault at once, lazy ones
//! ([`joinsim::vault::Durability::Lazy`], docs/protocol.md "Durability") wait in the page cache
//! until the next synced write, the node's next tick after [`LAZY_FLUSH_MS`], or a process crash
//! (a kill: the operating system still writes them back). Only a power loss loses them.
//!
//! - `crash_after_write`: the node's next output that writes is written whole, then the machine
//!   crashes before any of that output's messages (its events, the decisions the writes hold,
//!   are recorded).
//! - `torn_write`: the node's next output that writes crashes the machine in the middle of its
//!   first write: that record is cut short (at a drawn byte) and is the vault's last, and
//!   nothing of the output happens (no write of it is durable, so none of its events or messages
//!   either). At the next start the host hands the torn bytes to
//!   [`joinsim::Vault::recover`], which refuses them with a clear error (a `vault_record_refused`
//!   harness entry) and starts the node from the records before it.
//! - `power_loss`: the machine loses power now: the node dies and its lazy writes not yet
//!   written back are lost.

use serde::{Deserialize, Serialize};

/// How long a lazy write may stay in the page cache before the node's next tick writes it back,
/// milliseconds of world time.
pub const LAZY_FLUSH_MS: u64 = 5_000;

/// A storage fault.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum StorageFault {
    /// Armed: the next output that writes is written whole, then the machine crashes.
    CrashAfterWrite,
    /// Armed: the next output that writes crashes the machine in the middle of its first write.
    TornWrite,
    /// At once: the machine loses power; lazy writes not yet written back are lost.
    PowerLoss,
}

impl StorageFault {
    /// The fault's name (`crash_after_write`, ...).
    pub fn name(self) -> &'static str {
        self.into()
    }
}
