//! `thespian-director`: the operator's command-line tool.
//!
//! Only `help` exists so far; the package and daemon commands arrive with
//! the signed package format and the daemon.

use std::process::ExitCode;

const HELP: &str = "\
thespian-director: manage hot-loaded, signed Thespian actor packages

Usage: thespian-director [help]

Commands:
  help    Print this help

The package commands (gensrc, tlsinfo, avail, keygen) and the daemon
commands (start, load, refresh, list, unload, shutdown) are not built yet.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("help" | "--help" | "-h") => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Some("--version" | "-V") => {
            println!("thespian-director {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("thespian-director: unknown command {other:?}; run `thespian-director help`");
            ExitCode::from(2)
        }
    }
}
