//! The one-value configuration files of the director directory (seed 2.4).
//!
//! Each `NAME.cfg` holds one Python literal, read as data only (the
//! original `eval()`ed them). An absent file means the default; an
//! unreadable, malformed or ill-typed one is an error naming the file and
//! position, and the daemon refuses to start on it rather than guess.

use std::path::{Path, PathBuf};

use crate::pyliteral;
use actor_abi::{Map, Value};
use runtime::tls::trusted_file::{self, ReadError};

/// Largest `.cfg` (and `.tli`) file read: these hold one small literal.
pub const MAX_SETTINGS_FILE: u64 = 1 << 20;

/// System bases the original accepted; every one runs our threaded native base.
pub const SYSTEM_BASES: &[&str] =
    &["simpleSystemBase", "multiprocQueueBase", "multiprocTCPBase", "multiprocUDPBase", "native"];

/// The settings, with defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The director directory.
    pub dir: PathBuf,
    /// `thespbase.cfg` (default `multiprocTCPBase`).
    pub system_base: String,
    /// `oldthespbase.cfg`, if present.
    pub old_system_base: Option<String>,
    /// `adminport.cfg` (default 1900).
    pub admin_port: u16,
    /// `convleader.cfg`, if present.
    pub convention_leader: Option<String>,
    /// `convention.cfg`, if present: this daemon is a member of a convention.
    pub convention: Option<crate::convention::ConventionSettings>,
    /// `membername.cfg` (default: this host's name).
    pub member_name: String,
    /// `othercaps.cfg` (default `{}`).
    pub other_caps: Map,
    /// `thesplog.cfg`, if present (a logging dictConfig subset).
    pub logging: Option<Value>,
    /// `thesplogd.cfg` (default: first writable of /var/log, the current
    /// directory, /var/tmp, /tmp).
    pub log_dir: PathBuf,
    /// `thesplogf.cfg` (default `thespian_system.log`).
    pub log_file: String,
    /// `thesplogs.cfg` (default 51200): rotate the system log at this size.
    pub log_size: u64,
    /// `stricttrust.cfg` (default `True`): refuse the directory and any key,
    /// package, `.tli` or `.cfg` file another user could change.
    pub strict_trust: bool,
}

/// Why a configuration file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("{file}: cannot read: {reason}")]
    Unreadable {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// Not a Python literal (or code posing as one).
    #[error("{file}: {error}")]
    Syntax {
        /// The file.
        file: PathBuf,
        /// Line, column and what is wrong.
        error: pyliteral::PyLiteralError,
    },
    /// Too large, not a regular file, or another user could change it.
    #[error("{0}")]
    Refused(ReadError),
    /// A field of a structured file is wrong.
    #[error("{file}: {error}")]
    Field {
        /// The file.
        file: PathBuf,
        /// The field and what is wrong with it.
        error: crate::convention::SettingsError,
    },
    /// A literal of the wrong type or range.
    #[error("{file}: expected {expected}, found {found}")]
    Type {
        /// The file.
        file: PathBuf,
        /// What the file must hold.
        expected: &'static str,
        /// What it holds.
        found: String,
    },
}

/// Reads `dir/NAME.cfg`: `None` if absent. With `strict`, a file another
/// user could change is refused.
fn read_checked(dir: &Path, name: &str, strict: bool) -> Result<Option<(PathBuf, Value)>, ConfigError> {
    let file = dir.join(name);
    let bytes = match trusted_file::read(&file, MAX_SETTINGS_FILE, strict) {
        Ok(b) => b,
        Err(ReadError::Missing(_)) => return Ok(None),
        Err(ReadError::Io { reason, .. }) => return Err(ConfigError::Unreadable { file, reason }),
        Err(e) => return Err(ConfigError::Refused(e)),
    };
    let text = String::from_utf8(bytes)
        .map_err(|e| ConfigError::Unreadable { file: file.clone(), reason: format!("not UTF-8: {e}") })?;
    match pyliteral::parse(&text) {
        Ok(v) => Ok(Some((file, v))),
        Err(error) => Err(ConfigError::Syntax { file, error }),
    }
}

fn wrong(file: PathBuf, expected: &'static str, v: &Value) -> ConfigError {
    ConfigError::Type { file, expected, found: format!("{} {v}", v.kind()) }
}

fn string(dir: &Path, name: &str, strict: bool) -> Result<Option<String>, ConfigError> {
    match read_checked(dir, name, strict)? {
        None => Ok(None),
        Some((_, Value::String(s))) if !s.is_empty() => Ok(Some(s)),
        Some((file, v)) => Err(wrong(file, "a non-empty string", &v)),
    }
}

/// Reads `dir/NAME.cfg` as a whole number within `range`: `None` if absent.
fn whole(
    dir: &Path,
    name: &str,
    strict: bool,
    range: std::ops::RangeInclusive<i64>,
    expected: &'static str,
) -> Result<Option<i64>, ConfigError> {
    match read_checked(dir, name, strict)? {
        None => Ok(None),
        Some((_, Value::Int(n))) if range.contains(&n) => Ok(Some(n)),
        Some((file, v)) => Err(wrong(file, expected, &v)),
    }
}

/// The first of the original's default log directories that we can write to.
pub fn default_log_dir() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    [PathBuf::from("/var/log"), cwd, PathBuf::from("/var/tmp"), PathBuf::from("/tmp")]
        .into_iter()
        .find(|d| writable(d))
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else { return false };
    // SAFETY: `c` is a valid NUL-terminated path; access() only reads it.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

impl Config {
    /// Reads every configuration file of `dir`, after checking (unless
    /// `stricttrust.cfg` says `False`) that no other user can change the
    /// directory or the files.
    pub fn load(dir: &Path) -> Result<Config, ConfigError> {
        let strict = strict_trust(dir)?;
        if strict {
            trusted_file::check_dir(dir).map_err(ConfigError::Refused)?;
        }
        let system_base = Self::base(dir, "thespbase.cfg", strict)?.unwrap_or_else(|| "multiprocTCPBase".to_string());
        let old_system_base = Self::base(dir, "oldthespbase.cfg", strict)?;
        let admin_port =
            whole(dir, "adminport.cfg", strict, 1..=65535, "a port number 1-65535")?.map_or(1900, |p| p as u16);
        let other_caps = match read_checked(dir, "othercaps.cfg", strict)? {
            None => Map::new(),
            Some((_, Value::Map(m))) => m,
            Some((file, v)) => return Err(wrong(file, "a dict", &v)),
        };
        let logging = match read_checked(dir, "thesplog.cfg", strict)? {
            None => None,
            Some((_, v @ Value::Map(_))) => Some(v),
            Some((file, v)) => return Err(wrong(file, "a logging dict", &v)),
        };
        let log_size =
            whole(dir, "thesplogs.cfg", strict, 1..=i64::MAX, "a size in bytes > 0")?.map_or(51200, |n| n as u64);
        let convention = match read_checked(dir, "convention.cfg", strict)? {
            None => None,
            Some((file, v)) => Some(
                crate::convention::ConventionSettings::parse(&v, dir)
                    .map_err(|error| ConfigError::Field { file, error })?,
            ),
        };
        let member_name = crate::convention::settings::member_name(string(dir, "membername.cfg", strict)?)
            .map_err(|error| ConfigError::Field { file: dir.join("membername.cfg"), error })?;
        Ok(Config {
            dir: dir.to_path_buf(),
            system_base,
            old_system_base,
            admin_port,
            convention_leader: string(dir, "convleader.cfg", strict)?,
            convention,
            member_name,
            other_caps,
            logging,
            log_dir: string(dir, "thesplogd.cfg", strict)?.map_or_else(default_log_dir, PathBuf::from),
            log_file: string(dir, "thesplogf.cfg", strict)?.unwrap_or_else(|| "thespian_system.log".to_string()),
            log_size,
            strict_trust: strict,
        })
    }

    fn base(dir: &Path, name: &str, strict: bool) -> Result<Option<String>, ConfigError> {
        match read_checked(dir, name, strict)? {
            None => Ok(None),
            Some((_, Value::String(s))) if SYSTEM_BASES.contains(&s.as_str()) => Ok(Some(s)),
            Some((file, v)) => Err(wrong(
                file,
                "one of 'simpleSystemBase', 'multiprocQueueBase', 'multiprocTCPBase', 'multiprocUDPBase', 'native'",
                &v,
            )),
        }
    }

    /// Host threads for the system base: `simpleSystemBase` runs host
    /// actors on one thread (its sequential model); the others use two.
    pub fn host_threads(&self) -> usize {
        if self.system_base == "simpleSystemBase" { 1 } else { 2 }
    }

    /// Where versions run unless a group's TLI says otherwise:
    /// `simpleSystemBase` (and our `native`) inside the daemon, the
    /// `multiproc*` bases (the default) in one worker process per version.
    pub fn isolation(&self) -> crate::tli::Isolation {
        match self.system_base.as_str() {
            "simpleSystemBase" | "native" => crate::tli::Isolation::InProcess,
            _ => crate::tli::Isolation::Process,
        }
    }

    /// The system log's path.
    pub fn system_log(&self) -> PathBuf {
        self.log_dir.join(&self.log_file)
    }

    /// The `config` command's lines (`--json` uses [`Config::to_json`]).
    pub fn render(&self) -> String {
        let mut out = format!("Sources location: {}/\n", self.dir.display());
        out.push_str(&format!("System Base: {}\n", self.system_base));
        let isolation = match self.isolation() {
            crate::tli::Isolation::Process => "process (one worker process per loaded version)",
            crate::tli::Isolation::InProcess => "in-process (versions run inside the daemon)",
        };
        out.push_str(&format!("Isolation: {isolation}\n"));
        if let Some(old) = &self.old_system_base {
            out.push_str(&format!("OLD System Base: {old}\n"));
        }
        out.push_str(&format!("Admin Port: {}\n", self.admin_port));
        if let Some(leader) = &self.convention_leader {
            out.push_str(&format!("Convention Leader: {leader}\n"));
        }
        if let Some(c) = &self.convention {
            out.push_str(&format!("Convention: {} at {} ({})\n", c.name, c.url, c.auth.describe()));
            out.push_str(&format!("Member Name: {}\n", self.member_name));
        }
        out.push_str(&format!("Logging directory: {}\n", self.log_dir.display()));
        out.push_str(&format!("Other Capabilities: {}\n", python_repr(&Value::Map(self.other_caps.clone()))));
        out.push_str(&format!("Strict Trust: {}\n", python_repr(&Value::Bool(self.strict_trust))));
        out
    }

    /// The warning to give at every start when strict trust is off.
    pub fn trust_warning(&self) -> Option<String> {
        (!self.strict_trust).then(|| {
            format!(
                "stricttrust.cfg is False: keys, packages, .tli and .cfg files in {} are trusted even when \
                 another user can change them",
                self.dir.display()
            )
        })
    }

    /// The settings as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "sources_location": self.dir.display().to_string(),
            "system_base": self.system_base,
            "isolation": self.isolation().describe(),
            "old_system_base": self.old_system_base,
            "admin_port": self.admin_port,
            "convention_leader": self.convention_leader,
            "convention": self.convention.as_ref().map(|c| serde_json::json!({
                "url": c.url, "name": c.name, "auth": c.auth.describe(),
            })),
            "member_name": self.member_name,
            "logging_directory": self.log_dir.display().to_string(),
            "log_file": self.log_file,
            "log_size": self.log_size,
            "other_capabilities": Value::Map(self.other_caps.clone()).to_json(),
            "logging": self.logging.as_ref().map(Value::to_json),
            "strict_trust": self.strict_trust,
        })
    }
}

/// `stricttrust.cfg` (default `True`). The file itself is always held to
/// the strict check: otherwise whoever could write it could turn it off.
pub fn strict_trust(dir: &Path) -> Result<bool, ConfigError> {
    match read_checked(dir, "stricttrust.cfg", true)? {
        None => Ok(true),
        Some((_, Value::Bool(b))) => Ok(b),
        Some((file, v)) => Err(wrong(file, "True or False", &v)),
    }
}

/// A value written back as a Python literal (`True`, `None`, `'text'`...).
pub fn python_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::String(s) => format!("{s:?}"),
        Value::Bytes(b) => format!("b{:?}", String::from_utf8_lossy(b)),
        Value::List(l) => format!("[{}]", l.iter().map(python_repr).collect::<Vec<_>>().join(", ")),
        Value::Map(m) if m.is_empty() => "{}".into(),
        Value::Map(m) => {
            let items: Vec<String> = m.iter().map(|(k, v)| format!("{k:?}: {}", python_repr(v))).collect();
            format!("{{ {} }}", items.join(", "))
        }
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
