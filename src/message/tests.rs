//! Unit tests of `src/message.rs`.

use super::*;

#[test]
fn envelopes_round_trip_and_corrupt_bytes_are_an_error() {
    let env = Envelope {
        from: Addr::new([10, 0, 0, 1], 7000),
        from_launch: LaunchId(42),
        msg: Message::MsReconfigured {
            version: 3,
            instance: InstanceId(7),
        },
    };
    let bytes = env.encode();
    assert_eq!(Envelope::decode(&bytes, &"x").unwrap(), env);
    let err = Envelope::decode(&bytes[..bytes.len() - 1], &"10.0.0.1:7000").unwrap_err();
    assert!(matches!(err, Error::CorruptMessage { .. }), "{err:?}");
    assert!(err.to_string().contains("10.0.0.1:7000"));
    let garbage = [0xff_u8; 64];
    assert!(Envelope::decode(&garbage, &"y").is_err());
}

#[test]
fn kind_names_round_trip_and_serde_spells_them_alike() {
    use serde::de::{value::Error as ValueError, IntoDeserializer};
    use strum::IntoEnumIterator;
    assert_eq!(MessageKind::JoinReadyResponse.name(), "join_ready_response");
    assert_eq!(MessageKind::RaftCmg.to_string(), "raft_cmg");
    for kind in MessageKind::iter() {
        assert_eq!(MessageKind::from_name(kind.name()), Some(kind));
        let by_serde = MessageKind::deserialize(IntoDeserializer::<ValueError>::into_deserializer(
            kind.name(),
        ));
        assert_eq!(by_serde, Ok(kind), "serde and strum spell it alike");
    }
    assert_eq!(MessageKind::from_name("nope"), None);
    assert_eq!(MessageKind::from_name("JoinReady"), None);
}

/// The message kinds that docs/scenarios.md lists for the message rules: every `code` span of
/// the paragraph that starts "Message kinds for `hold`, `drop`, `duplicate` and `delay`", up to
/// its closing period.
fn documented() -> Vec<&'static str> {
    let doc = include_str!("../../docs/scenarios.md");
    let paragraph = doc
        .split("Message kinds for `hold`, `drop`, `duplicate` and `delay`")
        .nth(1)
        .expect("docs/scenarios.md lists the message kinds for the message rules")
        .split("\n\n")
        .next()
        .unwrap();
    let list = paragraph
        .split_once(':')
        .map_or(paragraph, |(_, list)| list);
    list.split('`').skip(1).step_by(2).collect()
}

#[test]
fn the_docs_list_exactly_the_message_kinds() {
    use strum::VariantNames;
    let mut documented = documented();
    documented.sort_unstable();
    let mut ours = MessageKind::VARIANTS.to_vec();
    ours.sort_unstable();
    assert_eq!(
        documented, ours,
        "docs/scenarios.md's message kinds for the message rules and MessageKind differ"
    );
}

/// `wire_len` counts what `encode` writes, and refuses what no receiver would accept (the madsim
/// world checks it instead of encoding each envelope).
#[test]
fn wire_len_is_the_encoded_length_within_the_limit() {
    let env = |name: String| Envelope {
        from: Addr::new([10, 0, 0, 1], 7000),
        from_launch: LaunchId(42),
        msg: Message::MsAddLearner {
            name,
            instance: InstanceId(7),
        },
    };
    for name in ["a".to_string(), "n".repeat(300)] {
        let e = env(name);
        assert_eq!(e.wire_len(), Some(e.encode().len() as u64));
    }
    let huge = env("x".repeat(MAX_MESSAGE_BYTES as usize + 1));
    assert_eq!(huge.wire_len(), None);
}

/// `RaftPayload` inside envelopes (src/raft_payload.rs).
mod raft_payload {
    use raft::eraftpb::{Entry, MessageType};

    use bincode::Options as _;
    use protobuf::Message as _;
    use raft::eraftpb::Message as RaftMessage;

    use super::*;
    use crate::codec::options as codec;
    use crate::raft_payload::RAFT_VARIANT;

    /// An append carrying one entry of `data_len` bytes.
    fn append(data_len: usize) -> RaftMessage {
        let mut msg = RaftMessage::default();
        msg.set_msg_type(MessageType::MsgAppend);
        msg.to = 2;
        msg.from = 1;
        msg.term = 3;
        let entry = Entry {
            data: vec![7u8; data_len].into(),
            ..Default::default()
        };
        msg.entries = vec![entry].into();
        msg
    }

    fn envelope(payload: RaftPayload) -> Envelope {
        Envelope {
            from: Addr::new([10, 0, 0, 1], 7000),
            from_launch: LaunchId(9),
            msg: Message::Raft {
                group: GroupKind::Ms,
                instance: InstanceId(5),
                from_name: "node-a".into(),
                payload,
            },
        }
    }

    #[test]
    fn raft_variant_is_the_index_bincode_writes() {
        let bytes = codec()
            .serialize(&envelope(RaftPayload::Bytes(Vec::new())).msg)
            .unwrap();
        assert_eq!(u32::from(bytes[0]), RAFT_VARIANT);
    }

    #[test]
    fn a_value_encodes_as_its_protobuf_bytes_and_decodes_as_bytes() {
        for data_len in [0, 10, 240, 300, 70_000] {
            let msg = append(data_len);
            let value = envelope(RaftPayload::from(msg.clone()));
            let bytes = envelope(RaftPayload::Bytes(msg.write_to_bytes().unwrap()));
            let encoded = value.encode();
            assert_eq!(
                encoded,
                bytes.encode(),
                "the same bytes as the Vec<u8> it was"
            );
            assert_eq!(value.wire_len(), Some(encoded.len() as u64), "{data_len}");
            assert_eq!(bytes.wire_len(), Some(encoded.len() as u64), "{data_len}");
            let decoded = Envelope::decode(&encoded, &"x").unwrap();
            assert_eq!(decoded, value, "equal across the two forms");
            let Message::Raft { payload, .. } = decoded.msg else {
                panic!("a raft message")
            };
            assert!(matches!(payload, RaftPayload::Bytes(_)));
            assert_eq!(payload.into_message().unwrap(), msg);
        }
        assert!(RaftPayload::from(RaftMessage::default()).is_empty());
    }

    #[test]
    fn corrupt_bytes_are_an_error_when_stepped_not_when_decoded() {
        let corrupt = RaftPayload::Bytes(vec![0xff; 9]);
        assert!(corrupt.into_message().is_err());
    }

    #[test]
    fn a_value_above_the_limit_has_no_wire_len() {
        let big = envelope(RaftPayload::from(append(MAX_MESSAGE_BYTES as usize)));
        assert_eq!(big.wire_len(), None);
        let just = MAX_MESSAGE_BYTES as usize - 200;
        let small = envelope(RaftPayload::from(append(just)));
        let len = small.wire_len().expect("within the limit");
        assert_eq!(len, small.encode().len() as u64);
    }
}
