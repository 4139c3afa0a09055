//! `logtide-load`: the load generator (issue 5). Parses the command line and hands over to
//! [`logtide::loadgen::cli::main`]; `logtide-load --help` lists every option.

use std::process::ExitCode;

use clap::Parser;
use logtide::loadgen::cli::{self, Args};

fn main() -> ExitCode {
    ExitCode::from(cli::main(Args::parse()))
}
