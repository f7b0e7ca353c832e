//! Join validation (docs/protocol.md Step 4): the checks every CMG replica makes, in log order,
//! before a node is validated.

use super::ClusterState;
use crate::bugs::PlantedBug;
use crate::error::RejectionReason;
use crate::types::{ClusterTag, NodeInfo};

/// Join validation, the same on every replica. `Ok` means the node may be validated. `bug` is
/// the node configuration's planted bug (private to the crate, like that field).
pub(crate) fn validate_join(
    cluster: &ClusterState,
    info: &NodeInfo,
    stored: Option<&(ClusterTag, u64)>,
    bug: Option<PlantedBug>,
) -> Result<(), RejectionReason> {
    if info.protocol != cluster.protocol {
        return Err(RejectionReason::ProtocolMismatch {
            joiner: info.protocol,
            cluster: cluster.protocol,
        });
    }
    if !info.product.compatible_with(&cluster.product) {
        return Err(RejectionReason::ProductMismatch {
            joiner: info.product,
            cluster: cluster.product,
        });
    }
    if let Some((tag, ms_version)) = stored {
        if tag != &cluster.config.tag && bug != Some(PlantedBug::SkipJoinTagCheck) {
            return Err(RejectionReason::TagMismatch {
                joiner: tag.clone(),
                cluster: cluster.config.tag.clone(),
            });
        }
        if *ms_version > cluster.config.ms_version && bug != Some(PlantedBug::AcceptMsVersionAhead)
        {
            return Err(RejectionReason::MsVersionAhead {
                joiner: *ms_version,
                cluster: cluster.config.ms_version,
            });
        }
    }
    Ok(())
}
