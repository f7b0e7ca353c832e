//! Pictures and diagrams of a recorded run ([`crate::record::RunRecord`]): each module turns one
//! run into one file a person reads.

pub mod timeline;
