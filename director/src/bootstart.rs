//! `bootstart [NAME] [nostart]`: start the daemon at boot.
//!
//! On systemd it writes a unit that runs `start --foreground` with
//! `THESPIAN_DIRECTOR_DIR` set and restarts on failure (the daemon refreshes
//! as it starts), enables it and starts it now unless `nostart`. On
//! upstart/initctl it writes the job file instead. `THESPIAN_DIRECTOR_BOOT_ROOT`,
//! when set, prefixes every path written and skips the service manager
//! (for tests and packaging).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::atomic;

/// The service name used when none is given.
pub const DEFAULT_NAME: &str = "thespian-director";
/// The environment variable that redirects writes and skips the service manager.
pub const BOOT_ROOT_VAR: &str = "THESPIAN_DIRECTOR_BOOT_ROOT";

/// The service managers supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    /// systemd: a unit in /etc/systemd/system.
    Systemd,
    /// upstart: a job in /etc/init.
    Upstart,
}

impl Manager {
    /// Parses `systemd` or `upstart` (or `initctl`).
    pub fn parse(s: &str) -> Option<Manager> {
        match s {
            "systemd" => Some(Manager::Systemd),
            "upstart" | "initctl" => Some(Manager::Upstart),
            _ => None,
        }
    }

    /// The manager running this machine, if a supported one.
    pub fn detect() -> Option<Manager> {
        if Path::new("/run/systemd/system").is_dir() {
            return Some(Manager::Systemd);
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path).any(|d| d.join("initctl").is_file()).then_some(Manager::Upstart)
    }
}

/// What `bootstart` was asked to do.
#[derive(Debug, Clone)]
pub struct BootstartArgs {
    /// The service name.
    pub name: String,
    /// Start the service now as well.
    pub start_now: bool,
    /// Force a manager instead of detecting one.
    pub manager: Option<Manager>,
    /// The director directory.
    pub dir: PathBuf,
    /// The `thespian-director` binary the service runs.
    pub binary: PathBuf,
}

/// What `bootstart` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The unit or job file written.
    pub file: PathBuf,
    /// The service manager commands run (none under a boot root).
    pub commands: Vec<String>,
}

/// Why `bootstart` failed.
#[derive(Debug, thiserror::Error)]
pub enum BootstartError {
    /// The director directory does not exist.
    #[error("THESPIAN_DIRECTOR_DIR \"{0}\" does not exist; cannot create boot start configuration")]
    NoDirectory(PathBuf),
    /// No supported service manager.
    #[error("unsupported: neither systemd nor upstart (initctl) manages this machine")]
    Unsupported,
    /// A bad service name.
    #[error("service name {0:?} must be 1-64 of [A-Za-z0-9_.@-]")]
    BadName(String),
    /// The file could not be written.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// A service manager command failed.
    #[error("`{command}` failed: {reason}")]
    Command {
        /// The command.
        command: String,
        /// Its error output.
        reason: String,
    },
}

/// The systemd unit text.
pub fn systemd_unit(name: &str, dir: &Path, binary: &Path) -> String {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let user = if uid == 0 { String::new() } else { format!("User={uid}\n") };
    format!(
        "[Unit]\n\
         Description=Thespian Director actor system ({name}) for {dir}\n\
         After=network.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         {user}\
         Environment=\"THESPIAN_DIRECTOR_DIR={dir}\"\n\
         ExecStart={binary} start --foreground\n\
         ExecStop={binary} shutdown\n\
         Restart=on-failure\n\
         RestartSec=2\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        dir = dir.display(),
        binary = binary.display(),
    )
}

/// The upstart job text.
pub fn upstart_job(name: &str, dir: &Path, binary: &Path) -> String {
    format!(
        "description \"Thespian Director actor system ({name})\"\n\
         start on runlevel [2345]\n\
         stop on runlevel [!2345]\n\
         respawn\n\
         env THESPIAN_DIRECTOR_DIR=\"{dir}\"\n\
         exec {binary} start --foreground\n",
        dir = dir.display(),
        binary = binary.display(),
    )
}

fn run(cmd: &[&str]) -> Result<String, BootstartError> {
    let line = cmd.join(" ");
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .map_err(|e| BootstartError::Command { command: line.clone(), reason: e.to_string() })?;
    if out.status.success() {
        Ok(line)
    } else {
        Err(BootstartError::Command { command: line, reason: String::from_utf8_lossy(&out.stderr).trim().to_string() })
    }
}

/// Writes the unit or job and (outside a boot root) enables and starts it.
pub fn bootstart(args: &BootstartArgs) -> Result<Installed, BootstartError> {
    if !args.dir.is_dir() {
        return Err(BootstartError::NoDirectory(args.dir.clone()));
    }
    let valid = !args.name.is_empty()
        && args.name.len() <= 64
        && args.name.chars().all(|c| c.is_ascii_alphanumeric() || "_.@-".contains(c));
    if !valid {
        return Err(BootstartError::BadName(args.name.clone()));
    }
    let manager = args.manager.or_else(Manager::detect).ok_or(BootstartError::Unsupported)?;
    let root = std::env::var_os(BOOT_ROOT_VAR).filter(|r| !r.is_empty()).map(PathBuf::from);
    let (relative, text) = match manager {
        Manager::Systemd => {
            (format!("etc/systemd/system/{}.service", args.name), systemd_unit(&args.name, &args.dir, &args.binary))
        }
        Manager::Upstart => (format!("etc/init/{}.conf", args.name), upstart_job(&args.name, &args.dir, &args.binary)),
    };
    let file = root.as_deref().unwrap_or(Path::new("/")).join(relative);
    let werr = |e: std::io::Error| BootstartError::Write { path: file.clone(), reason: e.to_string() };
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(werr)?;
    }
    atomic::write(&file, text.as_bytes(), 0o644).map_err(werr)?;
    if root.is_some() {
        return Ok(Installed { file, commands: Vec::new() });
    }
    let name = args.name.as_str();
    let mut commands = Vec::new();
    match manager {
        Manager::Systemd => {
            commands.push(run(&["systemctl", "daemon-reload"])?);
            commands.push(run(&["systemctl", "enable", name])?);
            if args.start_now {
                commands.push(run(&["systemctl", "start", name])?);
            }
        }
        Manager::Upstart => {
            commands.push(run(&["initctl", "reload-configuration"])?);
            if args.start_now {
                commands.push(run(&["initctl", "start", name])?);
            }
        }
    }
    Ok(Installed { file, commands })
}
