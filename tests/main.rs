//! Seeded simulations of the whole protocol on madsim. Each behaviour runs over many seeds
//! (`JOINSIM_TEST_SEEDS`, default 32); a failure names its seed.

#![cfg(madsim)]

mod support;

mod cli;
mod determinism;
mod explore;
mod fault_actions;
mod fuzz;
mod history_bugs;
mod init;
mod join_scenarios;
mod leader_change;
mod leave_and_reconfiguration;
mod model_validation;
mod mutated_files;
mod network_model;
mod restart;
mod robustness;
mod scenario_language;
mod stall;
mod storage_faults;
mod swim;
mod test_seeds;
mod trace_file;
mod trace_hashes;
mod world_controls;
