//! The one stable hasher of joinsim: FNV-1a, 64 bits.
//!
//! Everything that must hash the same on every build, platform and run uses it: a node's Raft id
//! from its name ([`crate::types::raft_id`]), the state digests of the Raft groups' snapshots, and
//! in `joinsim-sim` the trace hash of a run, the checkers' log-entry digests and the test seeds'
//! bases. Those hashes are recorded (trace hashes in `tests/data/trace-hashes.txt`, seeds in test
//! names, Raft ids in every vault), so the function must never change.
//!
//! Why a fixed hasher: std's `DefaultHasher` (SipHash) is documented as subject to change between
//! releases, and `RandomState` is seeded at random per process; neither gives the same number
//! tomorrow. FNV-1a is fully specified by two constants (the offset basis
//! `0xcbf2_9ce4_8422_2325` and the prime `0x100_0000_01b3`; Fowler, Noll, Vo, IETF draft
//! `draft-eastlake-fnv`): for each byte, XOR it into the state, then multiply by the prime, modulo
//! 2^64. It is not a cryptographic hash and not meant to resist collisions chosen by an adversary.
//!
//! [`Fnv64`] implements [`std::hash::Hasher`], so `write_u64` and the other integer writers feed
//! the integer's native-endian bytes (std's default methods); for a stable result across platforms
//! feed explicit bytes ([`Hasher::write`], or [`fnv1a_64`]).

use std::hash::Hasher;

/// FNV-1a's 64-bit offset basis: the state before any byte.
const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV's 64-bit prime.
const PRIME: u64 = 0x0100_0000_01b3;

/// An FNV-1a 64-bit hasher: start from [`Fnv64::default`], feed bytes with [`Hasher::write`],
/// read the hash with [`Hasher::finish`] (which does not reset the state: feeding more goes on
/// from there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(OFFSET_BASIS)
    }
}

impl Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(PRIME);
        }
    }
}

/// The FNV-1a 64-bit hash of `bytes`.
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    let mut hasher = Fnv64::default();
    hasher.write(bytes);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known vectors of FNV-1a 64 (from the FNV reference test suite).
    #[test]
    fn known_vectors() {
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn feeding_in_pieces_is_feeding_at_once() {
        let mut hasher = Fnv64::default();
        hasher.write(b"foo");
        assert_eq!(hasher.finish(), fnv1a_64(b"foo"));
        hasher.write(b"bar");
        assert_eq!(hasher.finish(), fnv1a_64(b"foobar"));
    }
}
