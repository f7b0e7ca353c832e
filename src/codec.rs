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

/// A stable digest (FNV-1a, 64 bits, [`crate::hash`]) of a value's wire encoding: the bytes are
/// hashed as they are produced, never gathered (the same bytes as [`encode`]: the size limit
/// only refuses, it does not change the encoding).
pub(crate) fn digest<T: Serialize>(value: &T) -> u64 {
    use std::hash::Hasher;
    struct Sink(crate::hash::Fnv64);
    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.write(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut sink = Sink(crate::hash::Fnv64::default());
    bincode::DefaultOptions::new()
        .reject_trailing_bytes()
        .serialize_into(&mut sink, value)
        .expect("a value of this crate always serializes");
    sink.0.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streamed digest hashes exactly the wire bytes: digests recorded in vaults and traces
    /// before it streamed stay the same.
    #[test]
    fn digest_is_the_fnv_of_the_encoding() {
        let values: Vec<(u64, String, Vec<Option<u32>>)> = vec![
            (0, String::new(), vec![]),
            (u64::MAX, "n1".into(), vec![Some(7), None, Some(u32::MAX)]),
            (300, "é".repeat(100), vec![None; 40]),
        ];
        for value in &values {
            assert_eq!(digest(value), crate::hash::fnv1a_64(&encode(value)));
        }
        let nested: Option<(Vec<(u8, String)>, bool)> = Some((vec![(1, "a".into()); 3], true));
        assert_eq!(digest(&nested), crate::hash::fnv1a_64(&encode(&nested)));
        assert_ne!(digest(&values[0]), digest(&values[1]));
    }
}
