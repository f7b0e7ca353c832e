//! The wire codec: bincode with a size limit and no trailing bytes, for messages, log entries,
//! Raft contexts and the digests hashed into the trace. Every module that encodes uses these, so
//! that no component needs `crate::message` to encode its own types.

use bincode::Options;
use serde::Serialize;

/// The largest encoded envelope accepted, in bytes.
pub const MAX_MESSAGE_BYTES: u64 = 4 << 20;

/// The codec's options: bincode's defaults, at most [`MAX_MESSAGE_BYTES`], no trailing bytes.
pub(crate) fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_limit(MAX_MESSAGE_BYTES)
        .reject_trailing_bytes()
}

/// Encodes a value with the wire codec (used for log entries and contexts too).
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    options()
        .serialize(value)
        .expect("value exceeds MAX_MESSAGE_BYTES")
}

/// Decodes a value encoded by [`encode`].
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> std::result::Result<T, String> {
    options().deserialize(bytes).map_err(|e| e.to_string())
}

/// A stable digest (FNV-1a, 64 bits, [`crate::hash`]) of a value's wire encoding.
pub(crate) fn digest<T: Serialize>(value: &T) -> u64 {
    crate::hash::fnv1a_64(&encode(value))
}
