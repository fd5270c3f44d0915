//! The `migrated` binary: parse arguments, load settings, set up logging, run, and map the
//! result to an exit code (0 ok, 1 failure or differences, 2 usage or configuration).

use std::process::ExitCode;

use clap::Parser as _;
use migrated::cli::Cli;
use migrated::{cmd, error};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cmd::main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(error::exit_code(&err))
        }
    }
}
