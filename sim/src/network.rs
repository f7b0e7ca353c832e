//! The simulated network (docs/network.md): joinsim's own, on madsim's clock. A message is handed
//! to the network by its sender, travels for its drawn latency, and is given to its receiver at
//! the instant it arrives; the model (latency per link, loss, partitions) is in [`model`], the
//! rules a test or the fuzzer sets (hold, drop, duplicate, delay) in [`rules`].

pub mod delivery;
pub mod model;
pub mod rules;

pub use delivery::{DeliveryQueue, MAX_IN_FLIGHT};
pub use model::{LinkSettings, NetworkModel, MAX_LATENCY_MS};
pub use rules::{
    MessageFilter, MessageRules, RuleAction, RuleId, ALWAYS_PPM, MAX_DELAY_MS, MAX_RULES,
};
