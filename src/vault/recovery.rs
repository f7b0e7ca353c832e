//! Starting from a vault whose last record may be torn (docs/protocol.md, "Torn last record").
//!
//! A host that keeps a node's vault as the materialized [`Vault`] of every record but the last,
//! plus the bytes of the last record ([`super::record`]), rebuilds the vault to start from with
//! [`Vault::recover`]. An intact last record is applied; a torn or corrupt one is refused — not
//! applied, and its error returned — and the node starts from the records before it.
//!
//! Why refusing is safe: the host sends a step's messages only after every write of that step is
//! durable (`Output`'s contract), so a write torn by a crash never completed, and no message that
//! depended on it left. Starting without it is starting from the vault of a crash one write
//! earlier, which the protocol must survive anyway. A lazy write ([`super::Durability::Lazy`])
//! may be lost the same way. A record that fails its checks is never used, not even in part.

use super::record::{decode, VaultRecordError};
use super::Vault;

/// The vault a node starts from after [`Vault::recover`], and the refused last record's error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// The vault: the materialized records, with the last record applied when it was intact.
    pub vault: Vault,
    /// Why the last record was refused (`None`: there was none, or it was applied). A host
    /// reports it (the simulator as a storage fault); the node starts either way.
    pub refused: Option<VaultRecordError>,
}

impl Vault {
    /// The vault to start from: `self` (every record before the last) with `tail`, the last
    /// record's bytes, applied when it decodes and applies; refused with its error when it is torn,
    /// corrupt, or contradicts `self` ([`VaultRecordError::Inapplicable`]). `None` or an empty
    /// tail: nothing was being written (an empty tail is not reported: a crash before the first
    /// byte leaves nothing). Never panics, whatever the bytes.
    pub fn recover(&self, tail: Option<&[u8]>) -> Recovered {
        let mut vault = self.clone();
        let refused = match tail.map(decode) {
            None | Some(Err(VaultRecordError::Empty)) => None,
            Some(Err(e)) => Some(e),
            Some(Ok(write)) => match vault.apply(&write) {
                Ok(()) => None,
                Err(e) => {
                    vault = self.clone();
                    Some(VaultRecordError::Inapplicable {
                        detail: e.to_string(),
                    })
                }
            },
        };
        Recovered { vault, refused }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{GroupKind, InstanceId};
    use crate::vault::record::{encode, RECORD_HEADER_BYTES};
    use crate::vault::samples::{group, local};
    use crate::vault::VaultWrite;

    fn before() -> Vault {
        let mut v = Vault::empty();
        v.apply(&VaultWrite::SetLocal(local(3))).unwrap();
        v.apply(&VaultWrite::CreateGroup(GroupKind::Cmg, Box::new(group())))
            .unwrap();
        v
    }

    #[test]
    fn an_intact_tail_is_applied() {
        let write = VaultWrite::RecordCancel(InstanceId(9));
        let bytes = encode(&write);
        let recovered = before().recover(Some(&bytes));
        assert_eq!(recovered.refused, None);
        assert_eq!(recovered.vault.cancels, vec![InstanceId(9)]);
        assert_eq!(before().recover(None).vault, before());
        assert_eq!(before().recover(Some(&[])).refused, None);
    }

    #[test]
    fn a_torn_or_corrupt_tail_is_refused_and_the_vault_is_the_records_before_it() {
        let write = VaultWrite::RecordCancel(InstanceId(9));
        let bytes = encode(&write);
        for cut in 1..bytes.len() {
            let recovered = before().recover(Some(&bytes[..cut]));
            assert_eq!(recovered.vault, before(), "cut at {cut}");
            assert!(matches!(
                recovered.refused,
                Some(VaultRecordError::Torn { have, .. }) if have == cut
            ));
        }
        let mut rotten = bytes.clone();
        rotten[RECORD_HEADER_BYTES] ^= 0xff;
        let recovered = before().recover(Some(&rotten));
        assert_eq!(recovered.vault, before());
        assert!(matches!(
            recovered.refused,
            Some(VaultRecordError::ChecksumMismatch { .. })
        ));
    }

    #[test]
    fn an_intact_tail_that_contradicts_the_vault_is_refused() {
        // A Meta Storage version below the stored one: not this vault's next record.
        let write = VaultWrite::SetMsConfig {
            version: 2,
            nodes: vec![],
        };
        let recovered = before().recover(Some(&encode(&write)));
        assert_eq!(recovered.vault, before());
        let refused = recovered.refused.unwrap().to_string();
        assert!(
            refused.starts_with("inapplicable: corrupt vault: Meta Storage version would decrease"),
            "{refused}"
        );
    }
}
