//! `thespian-director`: the operator's command-line tool. Each command is a
//! thin printer over the `director` library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use director::{DirectorControl, SendOptions, avail, dir, gensrc, keygen, tlsinfo};
use runtime::tls::{KeyStrength, SourceAuthority, TrustPolicy};

mod lifecycle;

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
    /// Start the daemon in the background (then refresh); a running one is left alone.
    Start {
        /// Run in the foreground (for service managers).
        #[arg(long)]
        foreground: bool,
    },
    /// Stop every actor (ActorExitRequest, no OnDeactivate), unload everything and exit.
    Shutdown,
    /// Load a group's newest valid package, or exactly one FILE.tls (starts the daemon if needed).
    Load {
        /// A group name or a .tls file.
        target: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Load the newest package of every group that has a .tli file.
    Refresh {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Unload a loaded version by hash (a unique prefix is enough).
    Unload {
        /// The hash or a unique prefix.
        hash: String,
        /// Seconds its actors get to answer the messages they already hold
        /// before they stop; what is left then is dropped and counted.
        #[arg(long, default_value = "10", value_parser = parse_drain)]
        timeout: std::time::Duration,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show every loaded version with its actors and the state of its code.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The convention's members instead: who they are and what they run.
        #[arg(long)]
        convention: bool,
    },
    /// Show whether the daemon runs, its pid, uptime, socket and counts (exit 3 when not running).
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send JSON to a role or global name and print the reply as one line of JSON.
    Ask {
        /// Look for the role in this group.
        #[arg(long)]
        group: Option<String>,
        /// Use this loaded version (hash or prefix) instead of the active one.
        #[arg(long)]
        source: Option<String>,
        /// Seconds to wait for the reply (more than 0, at most a day).
        #[arg(long, default_value = "5", value_parser = parse_timeout)]
        timeout: std::time::Duration,
        /// A role or a global name.
        target: String,
        /// The message, as JSON.
        json: String,
    },
    /// Send JSON to a role or global name.
    Tell {
        /// Look for the role in this group.
        #[arg(long)]
        group: Option<String>,
        /// Use this loaded version (hash or prefix) instead of the active one.
        #[arg(long)]
        source: Option<String>,
        /// A role or a global name.
        target: String,
        /// The message, as JSON.
        json: String,
    },
    /// Start the daemon at boot: write and enable a systemd unit (or an upstart job).
    ///
    /// `bootstart [NAME] [nostart]`: NAME defaults to thespian-director; with
    /// `nostart` the service is not started now. THESPIAN_DIRECTOR_BOOT_ROOT
    /// prefixes every path written and skips the service manager.
    Bootstart {
        /// NAME and/or `nostart`.
        args: Vec<String>,
        /// Write for this manager (systemd or upstart) instead of detecting one.
        #[arg(long)]
        manager: Option<String>,
    },
    /// Show the configuration read from the director directory's .cfg files.
    Config {
        /// Print JSON.
        #[arg(long)]
        json: bool,
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

/// The Source Authority of the director directory, with `stricttrust.cfg` applied.
fn authority(allow_legacy: bool) -> Result<SourceAuthority, ExitCode> {
    let dir = dir::director_dir();
    let strict = match director::config::strict_trust(&dir) {
        Ok(s) => s,
        Err(e) => return Err(fail(e, 1)),
    };
    let policy = TrustPolicy { allow_legacy_keys: allow_legacy, strict_modes: strict, ..TrustPolicy::default() };
    Ok(SourceAuthority::new(dir).with_policy(policy))
}

/// The longest `ask --timeout`: a day.
const MAX_ASK_TIMEOUT_SECS: f64 = 86_400.0;

/// Parses `--timeout SECONDS`: a number of seconds, more than 0 and at most a day.
fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > MAX_ASK_TIMEOUT_SECS {
        return Err(format!("{text:?}: give a number of seconds more than 0 and at most {MAX_ASK_TIMEOUT_SECS}"));
    }
    Ok(std::time::Duration::from_secs_f64(secs.max(0.001)))
}

/// Parses `unload --timeout SECONDS`: more than 0 and at most an hour.
fn parse_drain(text: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number of seconds"))?;
    let most = director::daemon::unloading::MAX_DRAIN_MS as f64 / 1000.0;
    if !secs.is_finite() || secs <= 0.0 || secs > most {
        return Err(format!("{text:?}: give a number of seconds more than 0 and at most {most}"));
    }
    Ok(std::time::Duration::from_secs_f64(secs.max(0.001)))
}

/// Prints an error and returns its exit status.
pub(crate) fn fail(message: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("thespian-director: {message}");
    ExitCode::from(code)
}

fn legacy_warning(strength: KeyStrength) {
    if strength == KeyStrength::Legacy {
        eprintln!("warning: signed with a legacy 1024-bit key; use 3072 bits (thespian-director keygen NAME)");
    }
}

fn run(cmd: Cmd) -> ExitCode {
    let control = || DirectorControl::from_env();
    match cmd {
        Cmd::Start { foreground } => lifecycle::start(foreground),
        Cmd::Config { json } => lifecycle::config(json),
        Cmd::Bootstart { args, manager } => lifecycle::bootstart(&args, manager.as_deref()),
        Cmd::Shutdown => lifecycle::shutdown(&control()),
        Cmd::Load { target, json } => lifecycle::load(&control(), &target, json),
        Cmd::Refresh { json } => lifecycle::refresh(&control(), json),
        Cmd::Unload { hash, timeout, json } => lifecycle::unload(&control(), &hash, timeout, json),
        Cmd::List { json, convention: false } => lifecycle::list(&control(), json),
        Cmd::List { json, convention: true } => lifecycle::members(&control(), json),
        Cmd::Status { json } => lifecycle::status(&control(), json),
        Cmd::Ask { group, source, timeout, target, json } => {
            let o = SendOptions { group, source, timeout: Some(timeout) };
            lifecycle::ask(&control(), &target, &json, &o)
        }
        Cmd::Tell { group, source, target, json } => {
            lifecycle::tell(&control(), &target, &json, &SendOptions { group, source, timeout: None })
        }
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
            let authority = match authority(allow_legacy_key) {
                Ok(a) => a,
                Err(code) => return code,
            };
            match tlsinfo::tlsinfo(&file, &dir::director_dir(), &authority, &query) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e, e.exit_code()),
            }
        }
        Cmd::Avail { json, allow_legacy_key } => {
            let dir = dir::director_dir();
            let authority = match authority(allow_legacy_key) {
                Ok(a) => a,
                Err(code) => return code,
            };
            match avail::avail(&dir, &authority) {
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

/// Lets a closed pipe end this process quietly (`list | head -1`), as it
/// ends any Unix filter, instead of a panic in `println!`. Not for the
/// daemon: `start` starts it as a new process, whose Rust runtime ignores
/// SIGPIPE again.
fn default_sigpipe() {
    // SAFETY: restoring the default action of SIGPIPE has no memory-safety
    // preconditions; no handler of ours is replaced.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

fn main() -> ExitCode {
    // Started by a daemon as the worker process of an isolated version
    // (marked by its environment, not by arguments): serve, then exit.
    runtime::worker::run_if_worker();
    let cli = Cli::parse();
    if !matches!(cli.command, Some(Cmd::Start { foreground: true })) {
        default_sigpipe();
    }
    match cli.command {
        Some(cmd) => run(cmd),
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_long_help();
            ExitCode::SUCCESS
        }
    }
}
