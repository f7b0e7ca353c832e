//! The record frame of one [`VaultWrite`]: how a host stores a write as bytes, so that a record
//! torn by a crash (cut short at any byte) or corrupted on the medium is detected on the next
//! start and never used (docs/protocol.md, "Torn last record").
//!
//! The frame, all integers little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | payload length `n`, in bytes (at most [`MAX_RECORD_PAYLOAD_BYTES`]) |
//! | 4 | 4 | header check: the low 32 bits of FNV-1a 64 ([`crate::hash`]) of bytes 0..4 |
//! | 8 | 8 | payload checksum: FNV-1a 64 of the payload |
//! | 16 | `n` | payload: the write in the crate's wire codec (bincode, no trailing bytes) |
//!
//! Why every single-byte corruption is caught: FNV-1a XORs a byte into its state and multiplies
//! by an odd prime modulo 2^64; both steps are bijections, also on the low 32 bits alone (they
//! depend only on the low 32 bits of the state), so two inputs that differ in one byte always
//! hash differently — in 64 bits and in the low 32. A changed length byte fails the header
//! check, a changed checksum byte or payload byte fails the payload checksum. A cut at any byte
//! is torn: the header says how long the record is. FNV-1a is no defence against a medium that
//! forges records on purpose; it is against tears and bit rot.

use bincode::Options;
use thiserror::Error;

use super::VaultWrite;
use crate::hash::fnv1a_64;

/// The frame's header: length (4), header check (4), payload checksum (8), in bytes.
pub const RECORD_HEADER_BYTES: usize = 16;

/// The largest payload a record holds, in bytes (64 MiB). The largest write the protocol makes is
/// a Raft append or a created group's log (`MAX_LOG_ENTRIES` entries are a bound on the log, not
/// on one write; a write this large would be a bug of the state machine). A header announcing a
/// longer payload is refused ([`VaultRecordError::TooLong`]), so decoding never allocates more.
pub const MAX_RECORD_PAYLOAD_BYTES: usize = 64 << 20;

/// Why bytes are not one intact record. Every variant means: the record is refused, never applied.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum VaultRecordError {
    /// No bytes at all (a crash before the first byte of the record was written).
    #[error("empty: no bytes of the record")]
    Empty,
    /// The record is cut short: `have` bytes of `need` (`need` is `None` while the 16-byte header
    /// itself is incomplete, so the length is not known yet).
    #[error("torn: {have} of {} bytes", need.map_or_else(|| format!("at least {RECORD_HEADER_BYTES} (the header)"), |n| n.to_string()))]
    Torn {
        /// Bytes present.
        have: usize,
        /// Bytes the header announces (header included), when the header is whole.
        need: Option<usize>,
    },
    /// The length field does not match its check: the header is corrupt, so the length is not
    /// trusted.
    #[error("header checksum mismatch: length field {length} with check {stored:#010x}, expected {computed:#010x}")]
    HeaderMismatch {
        /// The length field as read.
        length: u32,
        /// The header check as read.
        stored: u32,
        /// The check of the length field as read.
        computed: u32,
    },
    /// The header announces a payload over [`MAX_RECORD_PAYLOAD_BYTES`].
    #[error(
        "too long: the header announces {length} payload bytes, at most {MAX_RECORD_PAYLOAD_BYTES}"
    )]
    TooLong {
        /// The announced payload length.
        length: usize,
    },
    /// More bytes than the header announces.
    #[error("trailing bytes: {extra} after a record of {record} bytes")]
    TrailingBytes {
        /// The record's length, header included.
        record: usize,
        /// Bytes after it.
        extra: usize,
    },
    /// The payload does not match its checksum (corrupted on the medium).
    #[error("checksum mismatch: stored {stored:#018x}, payload hashes to {computed:#018x}")]
    ChecksumMismatch {
        /// The checksum as read.
        stored: u64,
        /// The payload's checksum.
        computed: u64,
    },
    /// The payload matches its checksum but is not a `VaultWrite` in this build's codec (written
    /// by another version of the vault's types).
    #[error("undecodable payload: {detail}")]
    Undecodable {
        /// What the decoder said.
        detail: String,
    },
    /// The record is intact but contradicts the vault it follows ([`super::Vault::apply`]
    /// refused it): it is not that vault's next record.
    #[error("inapplicable: {detail}")]
    Inapplicable {
        /// What `Vault::apply` said.
        detail: String,
    },
}

/// The payload codec: bincode as the wire codec (`crate::codec`), bounded by
/// [`MAX_RECORD_PAYLOAD_BYTES`] instead of the message bound, no trailing bytes.
fn payload_codec() -> impl Options {
    bincode::DefaultOptions::new()
        .with_limit(MAX_RECORD_PAYLOAD_BYTES as u64)
        .reject_trailing_bytes()
}

/// The header check of a length field: the low 32 bits of FNV-1a 64 of its 4 bytes.
fn header_check(length: [u8; 4]) -> u32 {
    fnv1a_64(&length) as u32
}

/// The frame of one write: header, then payload (see the module's table).
///
/// # Panics
/// When the write encodes to more than [`MAX_RECORD_PAYLOAD_BYTES`]: the state machine never
/// makes such a write (a bug, not an input).
pub fn encode(write: &VaultWrite) -> Vec<u8> {
    let payload = payload_codec()
        .serialize(write)
        .unwrap_or_else(|e| panic!("a vault write over {MAX_RECORD_PAYLOAD_BYTES} bytes: {e}"));
    let length = u32::try_from(payload.len())
        .expect("MAX_RECORD_PAYLOAD_BYTES fits in u32")
        .to_le_bytes();
    let mut bytes = Vec::with_capacity(RECORD_HEADER_BYTES + payload.len());
    bytes.extend_from_slice(&length);
    bytes.extend_from_slice(&header_check(length).to_le_bytes());
    bytes.extend_from_slice(&fnv1a_64(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);
    bytes
}

/// Reads one record: exactly the bytes of one frame, or the error that says what is wrong (in
/// this order: empty, torn header, corrupt header, too long, torn payload, trailing bytes,
/// payload checksum, codec). Never panics, whatever the bytes.
pub fn decode(bytes: &[u8]) -> Result<VaultWrite, VaultRecordError> {
    if bytes.is_empty() {
        return Err(VaultRecordError::Empty);
    }
    let Some(header) = bytes.get(..RECORD_HEADER_BYTES) else {
        return Err(VaultRecordError::Torn {
            have: bytes.len(),
            need: None,
        });
    };
    let field =
        |at: usize| -> [u8; 4] { [header[at], header[at + 1], header[at + 2], header[at + 3]] };
    let length_bytes = field(0);
    let length = u32::from_le_bytes(length_bytes);
    let stored_check = u32::from_le_bytes(field(4));
    let computed_check = header_check(length_bytes);
    if stored_check != computed_check {
        return Err(VaultRecordError::HeaderMismatch {
            length,
            stored: stored_check,
            computed: computed_check,
        });
    }
    let length = length as usize;
    if length > MAX_RECORD_PAYLOAD_BYTES {
        return Err(VaultRecordError::TooLong { length });
    }
    let record = RECORD_HEADER_BYTES + length;
    if bytes.len() < record {
        return Err(VaultRecordError::Torn {
            have: bytes.len(),
            need: Some(record),
        });
    }
    if bytes.len() > record {
        return Err(VaultRecordError::TrailingBytes {
            record,
            extra: bytes.len() - record,
        });
    }
    let mut checksum = [0u8; 8];
    checksum.copy_from_slice(&header[8..16]);
    let stored = u64::from_le_bytes(checksum);
    let payload = &bytes[RECORD_HEADER_BYTES..];
    let computed = fnv1a_64(payload);
    if stored != computed {
        return Err(VaultRecordError::ChecksumMismatch { stored, computed });
    }
    payload_codec()
        .deserialize(payload)
        .map_err(|e| VaultRecordError::Undecodable {
            detail: e.to_string(),
        })
}

#[cfg(test)]
mod tests;
