//! Transitional path: the CMG replica and the leader's duties are in `src/cmg/replica.rs` and
//! `src/cmg/leader_duties.rs`, routed by `src/node/cmg.rs` and `src/node/cmg_validation.rs`.
//! `src/init.rs` still names the replica by this path; remove this module once it names
//! `crate::cmg::CmgReplica`.

pub(crate) use crate::cmg::CmgReplica;
