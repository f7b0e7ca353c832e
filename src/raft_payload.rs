//! [`RaftPayload`]: the raft-rs message inside [`Message::Raft`](crate::message::Message::Raft),
//! a value while it stays in the process and protobuf bytes on the wire. A type module of its
//! own: the replicas (`raft_group`) make it and the messages carry it.

use bincode::Options as _;
use protobuf::Message as _;
use raft::eraftpb::Message as RaftMessage;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codec::{options as codec, MAX_MESSAGE_BYTES};
use crate::types::{Addr, GroupKind, InstanceId, LaunchId};

/// The raft-rs message a [`Message::Raft`](crate::message::Message::Raft) carries.
///
/// On the wire it is the protobuf encoding of an `eraftpb::Message`, as a byte string (bincode:
/// a varint length, then the bytes; the same bytes as the `Vec<u8>` it once was). A replica hands
/// its messages out as values and the madsim world delivers envelopes as values, so a message
/// that never leaves the process is never encoded nor decoded (issue 13: protobuf was 4–5% of a
/// run). Bytes come only from the wire (a decoded envelope, the corrupt-message fault); they are
/// decoded when a replica steps them, so corrupt protobuf is the replica's
/// [`Error::CorruptRaftMessage`](crate::error::Error::CorruptRaftMessage), as before.
///
/// Two payloads are equal when their encodings are.
#[derive(Clone, Debug)]
pub enum RaftPayload {
    /// As raft-rs handed it out.
    Message(Box<RaftMessage>),
    /// Protobuf bytes as they came off the wire, not decoded yet.
    Bytes(Vec<u8>),
}

impl RaftPayload {
    /// The payload as protobuf bytes (a copy of [`RaftPayload::Bytes`], an encoding of
    /// [`RaftPayload::Message`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            RaftPayload::Message(msg) => msg
                .write_to_bytes()
                .expect("protobuf encoding of an in-memory raft message cannot fail"),
            RaftPayload::Bytes(bytes) => bytes.clone(),
        }
    }

    /// The length of the protobuf bytes, counted without encoding a
    /// [`RaftPayload::Message`].
    pub fn len(&self) -> u64 {
        match self {
            RaftPayload::Message(msg) => u64::from(msg.compute_size()),
            RaftPayload::Bytes(bytes) => bytes.len() as u64,
        }
    }

    /// True when the protobuf encoding is empty (a default message, or no bytes).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The message, decoding bytes; the protobuf error's text when they are corrupt.
    pub fn into_message(self) -> Result<RaftMessage, String> {
        match self {
            RaftPayload::Message(msg) => Ok(*msg),
            RaftPayload::Bytes(bytes) => {
                RaftMessage::parse_from_bytes(&bytes).map_err(|e| e.to_string())
            }
        }
    }
}

impl From<RaftMessage> for RaftPayload {
    fn from(msg: RaftMessage) -> RaftPayload {
        RaftPayload::Message(Box::new(msg))
    }
}

impl PartialEq for RaftPayload {
    fn eq(&self, other: &RaftPayload) -> bool {
        match (self, other) {
            (RaftPayload::Bytes(a), RaftPayload::Bytes(b)) => a == b,
            _ => self.to_bytes() == other.to_bytes(),
        }
    }
}

impl Serialize for RaftPayload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RaftPayload::Bytes(bytes) => serializer.serialize_bytes(bytes),
            RaftPayload::Message(_) => serializer.serialize_bytes(&self.to_bytes()),
        }
    }
}

impl<'de> Deserialize<'de> for RaftPayload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RaftPayload, D::Error> {
        Vec::<u8>::deserialize(deserializer).map(RaftPayload::Bytes)
    }
}

/// Index of `Message::Raft` among the variants of [`Message`](crate::message::Message): bincode writes
/// it as a varint before the variant's fields (a unit test holds it).
pub(crate) const RAFT_VARIANT: u32 = 18;

/// The bincode layout of an [`Envelope`](crate::message::Envelope) whose message is `Message::Raft`, up
/// to the payload: the fields before it, in their order.
#[derive(Serialize)]
struct RaftEnvelopeHead<'a> {
    from: Addr,
    from_launch: LaunchId,
    variant: u32,
    group: GroupKind,
    instance: InstanceId,
    from_name: &'a str,
}

/// The wire length of an envelope from `from` (launch `from_launch`) carrying `Message::Raft`
/// with these fields, in bytes, counted without encoding the payload; `None` above
/// [`MAX_MESSAGE_BYTES`] (what [`Envelope::wire_len`](crate::message::Envelope::wire_len) answers).
pub(crate) fn raft_envelope_len(
    from: Addr,
    from_launch: LaunchId,
    group: GroupKind,
    instance: InstanceId,
    from_name: &str,
    payload: &RaftPayload,
) -> Option<u64> {
    let head = RaftEnvelopeHead {
        from,
        from_launch,
        variant: RAFT_VARIANT,
        group,
        instance,
        from_name,
    };
    let head_len = codec().serialized_size(&head).ok()?;
    let n = payload.len();
    // bincode's varint: one byte below 251, else a marker byte and 2, 4 or 8 bytes.
    let length_len = match n {
        0..=250 => 1,
        251..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    };
    let total = head_len + length_len + n;
    (total <= MAX_MESSAGE_BYTES).then_some(total)
}
