//! The `yiwang` command line: `yiwang serve` runs the service; the other
//! subcommands are tools for operators and developers.
//!
//! Exit codes: 0 success / valid, 1 invalid or rejected, 2 usage or I/O error.

mod cli;

/// mimalloc instead of glibc's malloc: sqlx hands every bound value and row
/// between the async runtime and SQLite's connection threads, and glibc's
/// frees across threads (with `malloc_consolidate`) took about a sixth of
/// the server's CPU in the events benchmark (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "yiwang",
    version,
    about = "yiwang government-services server and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service (embedded SQLite under ./data by default).
    Serve(cli::serve::ServeArgs),
    /// Identity numbers: citizen ID, unified social credit code, licence identifier.
    #[command(subcommand)]
    Id(cli::id::IdCommand),
    /// Keys and signatures with the GM (SM2) or international (P-256) suite.
    #[command(subcommand)]
    Crypto(cli::crypto::CryptoCommand),
    /// The network ID credential issuer: create its directory.
    #[command(subcommand)]
    Issuer(cli::netid::IssuerCommand),
    /// The network ID credential (网证): issue, present as QR, verify, revoke.
    #[command(subcommand)]
    Netid(cli::netid::NetidCommand),
    /// E-licences (电子证照): issue with an issuer directory.
    #[command(subcommand)]
    Licence(cli::netid::LicenceCommand),
    /// Developer tools: synthetic data for benchmarks.
    #[command(subcommand)]
    Dev(cli::dev::DevCommand),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let outcome = match cli.command {
        Command::Serve(args) => cli::serve::run(args),
        Command::Id(command) => cli::id::run(command),
        Command::Crypto(command) => cli::crypto::run(command),
        Command::Issuer(command) => cli::netid::run_issuer(command),
        Command::Netid(command) => cli::netid::run(command),
        Command::Licence(command) => cli::netid::run_licence(command),
        Command::Dev(command) => cli::dev::run(command),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("yiwang: {error}");
            ExitCode::from(2)
        }
    }
}
