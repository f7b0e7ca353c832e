//! "First admitted wins" and pre-init validation off the handshake: the rules of the physical
//! topology that decide which members may stand side by side (docs/protocol.md, "Physical
//! topology"). Part of the [`PhysicalTopology`] component.

use super::{Identity, MemberRecord, PhysicalTopology};
use crate::error::RejectionReason;
use crate::types::{ProductVersion, ProtocolVersion};

impl PhysicalTopology {
    /// The part of pre-init validation that an empty contacted node decides from its view: a
    /// tag already present among members wins — unless the joiner is a member this node knew as
    /// empty (initialized since by a cluster formed among us). `Err` names the earliest-admitted
    /// member holding another tag.
    pub fn first_tag_wins(&self, joiner: &Identity) -> Result<(), RejectionReason> {
        let Some(joiner_tag) = &joiner.tag else {
            return Ok(());
        };
        if self.seen_empty.contains(&joiner.info.name) {
            return Ok(());
        }
        let mut tagged: Vec<&MemberRecord> = self
            .records()
            .filter(|r| r.identity.tag.is_some() && r.addr() != joiner.info.addr)
            .collect();
        if tagged.is_empty()
            || tagged
                .iter()
                .any(|r| r.identity.tag.as_ref() == Some(joiner_tag))
        {
            return Ok(());
        }
        tagged.sort_by(|a, b| a.admission_key().cmp(&b.admission_key()));
        let first = tagged[0];
        Err(RejectionReason::ConflictingTag {
            joiner: joiner_tag.clone(),
            member: first.identity.info.name.clone(),
            member_tag: first
                .identity
                .tag
                .clone()
                .unwrap_or_else(|| joiner_tag.clone()),
        })
    }

    /// Conflicting admissions, as an empty node resolves them: among the initialized members
    /// that empty nodes let in (and that this node never knew as empty), the earliest admitted
    /// wins and every one admitted with another tag loses. `None` when there is nothing to
    /// resolve: fewer than two such members, or a cluster was initialized among the members
    /// (then the CMG decides). Losers in address order.
    pub fn conflicting_admissions(&self) -> Option<(MemberRecord, Vec<MemberRecord>)> {
        let initialized_here = self
            .records()
            .any(|r| r.admitted_tag.is_none() && r.identity.tag.is_some());
        let mut tagged: Vec<&MemberRecord> = self
            .records()
            .filter(|r| r.entered_empty_topology())
            .filter(|r| !self.seen_empty.contains(&r.identity.info.name))
            .collect();
        if initialized_here || tagged.len() < 2 {
            return None;
        }
        tagged.sort_by(|a, b| a.admission_key().cmp(&b.admission_key()));
        let winner = tagged[0].clone();
        let losers = tagged
            .into_iter()
            .filter(|r| r.admitted_tag != winner.admitted_tag)
            .cloned()
            .collect();
        Some((winner, losers))
    }
}

/// The part of pre-init validation that holds on every path by which a member enters a node's
/// view (handshake, announce, probe, probe ack, a merge after a heal): equal protocol versions
/// and compatible product versions (`protocol` and `product` are the checking node's).
/// **Decision (pre-init on every path):** a member met through gossip or a probe, not a
/// handshake (say, a node that formed its own topology and is found by a rejoin probe), is
/// checked the same way; tags are left to the rules of the handshake and the crossing-admissions
/// eviction, and then to the CMG.
pub(crate) fn entry_check(
    protocol: ProtocolVersion,
    product: ProductVersion,
    joiner: &Identity,
) -> Result<(), RejectionReason> {
    if joiner.info.protocol != protocol {
        return Err(RejectionReason::ProtocolMismatch {
            joiner: joiner.info.protocol,
            cluster: protocol,
        });
    }
    if !joiner.info.product.compatible_with(&product) {
        return Err(RejectionReason::ProductMismatch {
            joiner: joiner.info.product,
            cluster: product,
        });
    }
    Ok(())
}
