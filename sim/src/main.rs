//! `joinsim`: the command-line tool of the IEP-77 join protocol simulator.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Deterministic simulation of the Apache Ignite 3 cluster join and initialization protocol.
#[derive(Parser, Debug)]
#[command(name = "joinsim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The canonical run: K empty nodes start, init goes to the first, all join, then one more
    /// empty node joins. Exit 0 when every node joined.
    Demo {
        /// The seed of the run.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many nodes start before init.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=200))]
        nodes: u64,
    },
}

fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .without_time()
            .try_init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Demo { seed, nodes } => {
            let report = joinsim_sim::run_demo(seed, nodes as usize);
            print!("{}", joinsim_sim::format_demo(&report));
            if report.value.all_joined && report.value.init.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}
