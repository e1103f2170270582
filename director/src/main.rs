//! `thespian-director`: the operator's command-line tool. Each command is a
//! thin printer over the `director` library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use director::{avail, dir, gensrc, keygen, tlsinfo};
use runtime::tls::{KeyStrength, SourceAuthority, TrustPolicy};

/// Manage hot-loaded, signed Thespian actor packages.
///
/// Files live in THESPIAN_DIRECTOR_DIR (default /opt/thespian/director):
/// packages (*.tls), trusted public keys (*_tls.key) and group descriptions (*.tli).
#[derive(Parser)]
#[command(name = "thespian-director", version, disable_help_subcommand = false)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build a plugin crate (or take prebuilt libraries), pack and sign it as GROUP-VERSION.tls.
    ///
    /// OPTIONS are any of: version:V | version:date, tli:FILE, deps:FILE,
    /// lib:TRIPLE=PATH (repeatable; then nothing is built) and SRCGLOBs
    /// (relative to SOURCES_DIR, `**` recurses) to include as audit sources.
    Gensrc {
        /// The package group.
        group: String,
        /// The private signing key (PEM).
        private_key: PathBuf,
        /// The plugin crate's directory.
        sources_dir: PathBuf,
        /// version:, tli:, deps:, lib: options and source globs.
        options: Vec<String>,
        /// Accept a 1024-bit key (with a warning).
        #[arg(long)]
        allow_legacy_key: bool,
    },
    /// Create a signing key pair: NAME.pem (private, 0600) and NAME_tls.key (public).
    Keygen {
        /// Base name of the two files.
        name: PathBuf,
        /// Key size in bits.
        #[arg(long, default_value_t = keygen::DEFAULT_BITS)]
        bits: usize,
        /// Allow 1024-bit keys.
        #[arg(long)]
        allow_legacy_key: bool,
    },
    /// Validate a package; `contents` lists it, a MEMBER name prints that audit source.
    Tlsinfo {
        /// The package file (as given, else in the director directory).
        file: PathBuf,
        /// `contents` or an audit source name.
        what: Option<String>,
        /// Accept packages signed with 1024-bit keys.
        #[arg(long)]
        allow_legacy_key: bool,
    },
    /// List the packages in the director directory per group, newest first.
    Avail {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Accept packages signed with 1024-bit keys.
        #[arg(long)]
        allow_legacy_key: bool,
    },
}

fn authority(allow_legacy: bool) -> SourceAuthority {
    SourceAuthority::new(dir::director_dir())
        .with_policy(TrustPolicy { allow_legacy_keys: allow_legacy, ..TrustPolicy::default() })
}

fn fail(message: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("thespian-director: {message}");
    ExitCode::from(code)
}

fn legacy_warning(strength: KeyStrength) {
    if strength == KeyStrength::Legacy {
        eprintln!("warning: signed with a legacy 1024-bit key; use 3072 bits (thespian-director keygen NAME)");
    }
}

fn run(cmd: Cmd) -> ExitCode {
    match cmd {
        Cmd::Gensrc { group, private_key, sources_dir, options, allow_legacy_key } => {
            let args = gensrc::GensrcArgs {
                group,
                private_key,
                sources_dir,
                options,
                allow_legacy_key,
                director_dir: dir::director_dir(),
            };
            match gensrc::gensrc(&args) {
                Ok(out) => {
                    legacy_warning(out.key_strength);
                    println!("Wrote {}", out.package.display());
                    if let Some(tli) = out.tli {
                        println!("Wrote {}", tli.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e, 1),
            }
        }
        Cmd::Keygen { name, bits, allow_legacy_key } => match keygen::keygen(&name, bits, allow_legacy_key) {
            Ok(pair) => {
                println!("Wrote {} (private: keep it secret)", pair.private.display());
                println!("Wrote {} (public: copy it into THESPIAN_DIRECTOR_DIR)", pair.public.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(e, 1),
        },
        Cmd::Tlsinfo { file, what, allow_legacy_key } => {
            let query = tlsinfo::Query::from_arg(what.as_deref());
            match tlsinfo::tlsinfo(&file, &dir::director_dir(), &authority(allow_legacy_key), &query) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e, e.exit_code()),
            }
        }
        Cmd::Avail { json, allow_legacy_key } => {
            let dir = dir::director_dir();
            match avail::avail(&dir, &authority(allow_legacy_key)) {
                Ok(report) if json => match serde_json::to_string_pretty(&report) {
                    Ok(text) => {
                        println!("{text}");
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(e, 1),
                },
                Ok(report) => {
                    print!("{}", report.render());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("cannot read {}: {e}", dir.display()), 1),
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(cmd) => run(cmd),
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_long_help();
            ExitCode::SUCCESS
        }
    }
}
