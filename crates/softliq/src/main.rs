//! `softliq`: the command line of the soft-liquidation risk engine.
#![forbid(unsafe_code)]
// A cast that can truncate, wrap or lose a sign is a conversion with a reason: checked
// (`try_from`) or allowed where it stands with the reason. Tests are exempt.
#![cfg_attr(
    not(test),
    warn(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss
    )
)]

mod commands;
mod format;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: at a million accounts the engine's index and
/// accounts are gigabytes of small allocations, and mimalloc uses about a third less memory than
/// glibc's malloc; measured in docs/engine.md. Transparent huge pages are turned off at start
/// (softliq_node::huge_pages) unless `MIMALLOC_ALLOW_THP` is set.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "softliq",
    version,
    about = "Soft-liquidation risk engine for lending markets"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show an account's positions, health, risk level and liquidation prices.
    Account(commands::account::Args),
    /// Quote a liquidation, run it until healthy, or compare all five policies.
    Liquidate(commands::liquidate::Args),
    /// Write the log into the PostgreSQL event store (to its end, or following it).
    Project(commands::project::Args),
    /// Rebuild the state from a data directory and check it: hashes, commands, invariants.
    Replay(commands::replay::Args),
    /// Run the engine as a service: HTTP API, live stream, metrics, dashboard (the main job).
    Serve(Box<commands::serve::Args>),
    /// Liquidate through a softliq server's API when it pays after costs.
    Keeper(commands::serve::KeeperArgs),
    /// Print a fresh bearer token, or a tokens-file entry with --role and --subject.
    Token(commands::token::Args),
    /// Run a stress scenario through every mechanism and write report.html, summary.json and
    /// runs.csv; `sim fit` estimates synthetic-path parameters from hourly closes.
    Sim(commands::sim::Args),
    /// Drive the seeded synthetic workload into a data directory (used by the crash test).
    #[command(hide = true)]
    Drive(commands::drive::Args),
    /// A long randomized run of the engine (calm, crash-prone and auction markets), checking
    /// every invariant after every command with --audit; exit 1 on any break.
    Soak(commands::soak::Args),
}

fn main() -> ExitCode {
    let _ = softliq_node::huge_pages::configure();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Account(args) => commands::account::run(&args),
        Command::Liquidate(args) => commands::liquidate::run(&args),
        Command::Replay(args) => commands::replay::run(&args),
        Command::Project(args) => commands::project::run(&args),
        Command::Sim(args) => commands::sim::run(&args),
        Command::Drive(args) => commands::drive::run(&args),
        Command::Soak(args) => commands::soak::run(&args),
        Command::Serve(args) => commands::serve::run(&args),
        Command::Keeper(args) => commands::serve::run_keeper(&args),
        Command::Token(args) => commands::token::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // 2: the input was refused (clap uses 2 for bad arguments too).
            ExitCode::from(2)
        }
    }
}
