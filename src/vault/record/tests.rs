//! The record frame: every write round-trips; arbitrary bytes never panic; every truncation of a
//! valid record is torn; every single-byte corruption is caught.

use proptest::prelude::*;

use super::*;
use crate::vault::samples::every_write;

#[test]
fn every_write_round_trips() {
    for write in every_write() {
        let bytes = encode(&write);
        assert_eq!(decode(&bytes), Ok(write));
    }
}

#[test]
fn errors_say_exactly_what_is_wrong() {
    let write = every_write().remove(0);
    let bytes = encode(&write);
    assert_eq!(
        decode(&[]).unwrap_err().to_string(),
        "empty: no bytes of the record"
    );
    assert_eq!(
        decode(&bytes[..7]).unwrap_err().to_string(),
        "torn: 7 of at least 16 (the header) bytes"
    );
    let torn = decode(&bytes[..bytes.len() - 1]).unwrap_err();
    assert_eq!(
        torn.to_string(),
        format!("torn: {} of {} bytes", bytes.len() - 1, bytes.len())
    );
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0, 0]);
    assert_eq!(
        decode(&longer).unwrap_err().to_string(),
        format!("trailing bytes: 2 after a record of {} bytes", bytes.len())
    );
    let mut rotten = bytes.clone();
    *rotten.last_mut().unwrap() ^= 0x40;
    assert!(decode(&rotten)
        .unwrap_err()
        .to_string()
        .starts_with("checksum mismatch: stored 0x"));
    let mut bad_length = bytes.clone();
    bad_length[0] ^= 1;
    assert!(matches!(
        decode(&bad_length),
        Err(VaultRecordError::HeaderMismatch { .. })
    ));
}

#[test]
fn a_header_announcing_too_much_is_refused_before_any_allocation() {
    let length = (MAX_RECORD_PAYLOAD_BYTES as u32 + 1).to_le_bytes();
    let mut bytes = length.to_vec();
    bytes.extend_from_slice(&header_check(length).to_le_bytes());
    bytes.extend_from_slice(&[0; 8]);
    assert_eq!(
        decode(&bytes),
        Err(VaultRecordError::TooLong {
            length: MAX_RECORD_PAYLOAD_BYTES + 1
        })
    );
}

#[test]
fn a_well_framed_payload_of_another_codec_is_undecodable() {
    let payload = [0xff, 0xff, 0xff, 0xff, 0x00];
    let length = (payload.len() as u32).to_le_bytes();
    let mut bytes = length.to_vec();
    bytes.extend_from_slice(&header_check(length).to_le_bytes());
    bytes.extend_from_slice(&fnv1a_64(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);
    assert!(matches!(
        decode(&bytes),
        Err(VaultRecordError::Undecodable { .. })
    ));
}

fn any_write() -> impl Strategy<Value = VaultWrite> {
    let writes = every_write();
    (0..writes.len()).prop_map(move |i| writes[i].clone())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn arbitrary_bytes_behind_a_valid_header_never_panic(
        payload in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let length = (payload.len() as u32).to_le_bytes();
        let mut bytes = length.to_vec();
        bytes.extend_from_slice(&header_check(length).to_le_bytes());
        bytes.extend_from_slice(&fnv1a_64(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
        let _ = decode(&bytes);
    }

    #[test]
    fn every_truncation_is_torn(write in any_write()) {
        let bytes = encode(&write);
        prop_assert_eq!(decode(&bytes[..0]), Err(VaultRecordError::Empty));
        for cut in 1..bytes.len() {
            let need = (cut >= RECORD_HEADER_BYTES).then_some(bytes.len());
            prop_assert_eq!(
                decode(&bytes[..cut]),
                Err(VaultRecordError::Torn { have: cut, need })
            );
        }
    }

    #[test]
    fn every_single_byte_corruption_is_caught(
        write in any_write(),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut bytes = encode(&write);
        let at = at.index(bytes.len());
        bytes[at] ^= flip;
        let error = decode(&bytes).unwrap_err();
        let expected_kind = match at {
            0..=7 => matches!(error, VaultRecordError::HeaderMismatch { .. }),
            _ => matches!(error, VaultRecordError::ChecksumMismatch { .. }),
        };
        prop_assert!(expected_kind, "byte {} flipped by {:#04x}: {}", at, flip, error);
    }
}
