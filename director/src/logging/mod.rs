//! The daemon's logging: its own system log (`thesplogd`/`thesplogf`,
//! rotated at `thesplogs` bytes) plus whatever `thesplog.cfg` configures.
//! Records from package actors carry the actor's address in
//! `%(actorAddress)s`; host records carry an empty one.

pub mod dictconfig;
pub mod dispatch;
pub mod format;
pub mod sink;

use file_rotate::ContentLimit;

use crate::config::Config;
use dictconfig::{DEFAULT_FORMAT, LogConfigError, LoggerSpec, Spec};
use dispatch::Dispatcher;
use format::Format;
use sink::Handler;

/// Old system logs kept beside the current one.
const SYSTEM_LOG_BACKUPS: usize = 2;

/// Builds the dispatcher for `config` (without installing it); warnings
/// name every unsupported key.
pub fn build(config: &Config) -> Result<(Dispatcher, Vec<String>), LogConfigError> {
    let mut warnings = Vec::new();
    let spec = match &config.logging {
        Some(cfg) => dictconfig::build(cfg, &config.log_dir, &mut warnings)?,
        None => Spec {
            handlers: Vec::new(),
            root: LoggerSpec { level: Some(30), handlers: Vec::new(), propagate: false },
            loggers: Vec::new(),
        },
    };
    let path = config.system_log();
    let limit = ContentLimit::BytesSurpassed(usize::try_from(config.log_size).unwrap_or(usize::MAX));
    let output = sink::rotating(&path, limit, SYSTEM_LOG_BACKUPS)
        .map_err(|e| LogConfigError { path: format!("system log {}", path.display()), message: e })?;
    let system = Handler {
        name: "system".into(),
        level: 20,
        format: Format::parse(DEFAULT_FORMAT, None, &mut warnings, "system log"),
        filters: Vec::new(),
        output,
    };
    Ok((Dispatcher { system: Some(system), spec }, warnings))
}

/// Installs logging for `config` as the process logger; returns the warnings.
pub fn install(config: &Config) -> Result<Vec<String>, LogConfigError> {
    let (dispatcher, warnings) = build(config)?;
    let max = dispatcher.max_level();
    if log::set_boxed_logger(Box::new(dispatcher)).is_ok() {
        log::set_max_level(max);
    }
    for w in &warnings {
        log::warn!("{w}");
    }
    Ok(warnings)
}

/// Checks `thesplog.cfg` without writing anything but opening its files;
/// for the `config` command.
pub fn validate(config: &Config) -> Result<Vec<String>, LogConfigError> {
    let mut warnings = Vec::new();
    if let Some(cfg) = &config.logging {
        dictconfig::build(cfg, &config.log_dir, &mut warnings)?;
    }
    Ok(warnings)
}
