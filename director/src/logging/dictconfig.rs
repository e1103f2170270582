//! The subset of Python's `logging.config.dictConfig` that `thesplog.cfg`
//! uses: `version`, `formatters` (`format`/`fmt`, `datefmt`), `filters`
//! (the actor-address filter, name filters), `handlers` (StreamHandler,
//! FileHandler, RotatingFileHandler, TimedRotatingFileHandler), `root` and
//! `loggers` (level, handlers, propagate). Every key we do not support
//! gives a warning naming it; a value we cannot honour is an error.

use std::collections::HashMap;
use std::path::Path;

use actor_abi::{Map, Value};
use file_rotate::{ContentLimit, TimeFrequency};

use crate::logging::format::Format;
use crate::logging::sink::{self, Filter, Handler, Output};

/// The default format (Python's `%(message)s` plus the useful fields).
pub const DEFAULT_FORMAT: &str = "%(asctime)s %(levelname)s %(name)s %(actorAddress)s: %(message)s";

/// A configuration value we cannot honour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("thesplog.cfg: {path}: {message}")]
pub struct LogConfigError {
    /// Where (`handlers.h.maxBytes`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn err(path: &str, message: impl Into<String>) -> LogConfigError {
    LogConfigError { path: path.to_string(), message: message.into() }
}

/// A logger's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoggerSpec {
    /// Its level (Python number), if set.
    pub level: Option<i64>,
    /// Indexes into [`Spec::handlers`].
    pub handlers: Vec<usize>,
    /// Pass records on to the parent's handlers.
    pub propagate: bool,
}

/// The built configuration.
pub struct Spec {
    /// Every handler.
    pub handlers: Vec<Handler>,
    /// The root logger (Python's default level: WARNING).
    pub root: LoggerSpec,
    /// Named loggers (dotted names).
    pub loggers: Vec<(String, LoggerSpec)>,
}

/// A Python level: a number or a name.
pub fn level(v: &Value, path: &str) -> Result<i64, LogConfigError> {
    match v {
        Value::Int(n) if *n >= 0 => Ok(*n),
        Value::String(s) => match s.to_ascii_uppercase().as_str() {
            "CRITICAL" | "FATAL" => Ok(50),
            "ERROR" => Ok(40),
            "WARNING" | "WARN" => Ok(30),
            "INFO" => Ok(20),
            "DEBUG" => Ok(10),
            "TRACE" => Ok(5),
            "NOTSET" => Ok(0),
            _ => Err(err(path, format!("unknown level {s:?}"))),
        },
        other => Err(err(path, format!("a level must be a number or a name, found {other}"))),
    }
}

fn map<'a>(v: &'a Value, path: &str) -> Result<&'a Map, LogConfigError> {
    v.as_map().ok_or_else(|| err(path, format!("expected a dict, found {}", v.kind())))
}

fn text<'a>(m: &'a Map, key: &str, path: &str) -> Result<Option<&'a str>, LogConfigError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(err(&format!("{path}.{key}"), format!("expected a string, found {other}"))),
    }
}

fn count(m: &Map, key: &str, path: &str) -> Result<u64, LogConfigError> {
    match m.get(key) {
        None => Ok(0),
        Some(Value::Int(n)) if *n >= 0 => Ok(*n as u64),
        Some(other) => Err(err(&format!("{path}.{key}"), format!("expected a count >= 0, found {other}"))),
    }
}

fn names(m: &Map, key: &str, path: &str) -> Result<Vec<String>, LogConfigError> {
    match m.get(key) {
        None => Ok(Vec::new()),
        Some(Value::List(l)) => l
            .iter()
            .map(|x| {
                x.as_str().map(str::to_string).ok_or_else(|| err(&format!("{path}.{key}"), "expected a list of names"))
            })
            .collect(),
        Some(other) => Err(err(&format!("{path}.{key}"), format!("expected a list, found {other}"))),
    }
}

fn warn_unknown(m: &Map, path: &str, known: &[&str], warnings: &mut Vec<String>) {
    for k in m.keys().filter(|k| !known.contains(&k.as_str())) {
        warnings.push(format!("thesplog.cfg: {path}{k} is not supported; ignored"));
    }
}

/// Builds handlers and loggers from `cfg`; relative file names are under `log_dir`.
pub fn build(cfg: &Value, log_dir: &Path, warnings: &mut Vec<String>) -> Result<Spec, LogConfigError> {
    let top = map(cfg, "the top level")?;
    warn_unknown(top, "", &["version", "formatters", "filters", "handlers", "root", "loggers"], warnings);
    match top.get("version") {
        Some(Value::Int(1)) | None => {}
        Some(other) => return Err(err("version", format!("only version 1 exists, found {other}"))),
    }
    let formats = formatters(top.get("formatters"), warnings)?;
    let filters = filters(top.get("filters"), warnings)?;
    let mut handlers = Vec::new();
    let mut index = HashMap::new();
    if let Some(hs) = top.get("handlers") {
        for (name, h) in map(hs, "handlers")? {
            index.insert(name.clone(), handlers.len());
            handlers.push(handler(name, h, &formats, &filters, log_dir, warnings)?);
        }
    }
    let root = match top.get("root") {
        Some(r) => logger("root", r, &index, warnings)?,
        None => LoggerSpec { level: Some(30), handlers: Vec::new(), propagate: false },
    };
    let mut loggers = Vec::new();
    if let Some(ls) = top.get("loggers") {
        for (name, l) in map(ls, "loggers")? {
            loggers.push((name.clone(), logger(&format!("loggers.{name}"), l, &index, warnings)?));
        }
    }
    Ok(Spec { handlers, root, loggers })
}

fn formatters(v: Option<&Value>, warnings: &mut Vec<String>) -> Result<HashMap<String, Format>, LogConfigError> {
    let mut out = HashMap::new();
    let Some(v) = v else { return Ok(out) };
    for (name, f) in map(v, "formatters")? {
        let path = format!("formatters.{name}");
        let m = map(f, &path)?;
        warn_unknown(m, &format!("{path}."), &["format", "fmt", "datefmt"], warnings);
        let fmt = text(m, "format", &path)?.or(text(m, "fmt", &path)?).unwrap_or("%(message)s");
        let datefmt = text(m, "datefmt", &path)?.map(str::to_string);
        out.insert(name.clone(), Format::parse(fmt, datefmt, warnings, &format!("thesplog.cfg: {path}")));
    }
    Ok(out)
}

const ACTOR_FILTER: &str = "thespian.director.ActorAddressLogFilter";

fn filters(v: Option<&Value>, warnings: &mut Vec<String>) -> Result<HashMap<String, Option<Filter>>, LogConfigError> {
    let mut out = HashMap::new();
    let Some(v) = v else { return Ok(out) };
    for (name, f) in map(v, "filters")? {
        let path = format!("filters.{name}");
        let m = map(f, &path)?;
        warn_unknown(m, &format!("{path}."), &["()", "name"], warnings);
        let filter = match (text(m, "()", &path)?, text(m, "name", &path)?) {
            (Some(ACTOR_FILTER), _) => Some(Filter::ActorAddress),
            (Some(other), _) => {
                warnings.push(format!(
                    "thesplog.cfg: {path}: filter factory {other:?} is not supported; the filter passes everything"
                ));
                None
            }
            (None, Some(n)) => Some(Filter::Name(n.to_string())),
            (None, None) => None,
        };
        out.insert(name.clone(), filter);
    }
    Ok(out)
}

fn handler(
    name: &str,
    v: &Value,
    formats: &HashMap<String, Format>,
    filters: &HashMap<String, Option<Filter>>,
    log_dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<Handler, LogConfigError> {
    let path = format!("handlers.{name}");
    let m = map(v, &path)?;
    let class = text(m, "class", &path)?.ok_or_else(|| err(&path, "missing 'class'"))?;
    let short = class.rsplit('.').next().unwrap_or(class);
    let known: &[&str] = match short {
        "StreamHandler" => &["class", "level", "formatter", "filters", "stream"],
        "FileHandler" => &["class", "level", "formatter", "filters", "filename", "mode"],
        "RotatingFileHandler" => {
            &["class", "level", "formatter", "filters", "filename", "mode", "maxBytes", "backupCount"]
        }
        "TimedRotatingFileHandler" => &["class", "level", "formatter", "filters", "filename", "when", "backupCount"],
        _ => {
            let supported = "StreamHandler, FileHandler, RotatingFileHandler, TimedRotatingFileHandler";
            return Err(err(&format!("{path}.class"), format!("{class:?} is not supported (supported: {supported})")));
        }
    };
    warn_unknown(m, &format!("{path}."), known, warnings);
    let level = m.get("level").map(|l| level(l, &format!("{path}.level"))).transpose()?.unwrap_or(0);
    let format = match text(m, "formatter", &path)? {
        Some(f) => {
            formats.get(f).cloned().ok_or_else(|| err(&format!("{path}.formatter"), format!("no formatter {f:?}")))?
        }
        None => Format::parse("%(message)s", None, warnings, "default"),
    };
    let mut flts = Vec::new();
    for f in names(m, "filters", &path)? {
        let known = filters.get(&f).ok_or_else(|| err(&format!("{path}.filters"), format!("no filter {f:?}")))?;
        flts.extend(known.clone());
    }
    let output = output(short, m, &path, log_dir, warnings)?;
    Ok(Handler { name: name.to_string(), level, format, filters: flts, output })
}

fn output(
    short: &str,
    m: &Map,
    path: &str,
    log_dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<Output, LogConfigError> {
    if short == "StreamHandler" {
        return match text(m, "stream", path)? {
            None | Some("ext://sys.stderr") => Ok(Output::Stderr),
            Some("ext://sys.stdout") => Ok(Output::Stdout),
            Some(other) => {
                Err(err(&format!("{path}.stream"), format!("{other:?}: only ext://sys.stderr and ext://sys.stdout")))
            }
        };
    }
    let file = text(m, "filename", path)?.ok_or_else(|| err(path, "missing 'filename'"))?;
    let file = log_dir.join(file);
    let open_err = |e: String| err(&format!("{path}.filename"), e);
    let backups = usize::try_from(count(m, "backupCount", path)?).unwrap_or(usize::MAX);
    match short {
        "FileHandler" => {
            let truncate = matches!(text(m, "mode", path)?, Some("w"));
            sink::file(&file, truncate).map_err(open_err)
        }
        "RotatingFileHandler" => {
            let max = usize::try_from(count(m, "maxBytes", path)?).unwrap_or(usize::MAX);
            // As in Python: with maxBytes or backupCount 0 the file never rolls over.
            let limit = if max == 0 || backups == 0 { ContentLimit::None } else { ContentLimit::BytesSurpassed(max) };
            sink::rotating(&file, limit, backups).map_err(open_err)
        }
        _ => {
            let when = text(m, "when", path)?.unwrap_or("h");
            let freq = match when.to_ascii_lowercase().as_str() {
                "midnight" | "d" => TimeFrequency::Daily,
                "h" => TimeFrequency::Hourly,
                w if w.starts_with('w') => TimeFrequency::Weekly,
                other => {
                    warnings.push(format!("thesplog.cfg: {path}.when {other:?} is not supported; rotating daily"));
                    TimeFrequency::Daily
                }
            };
            sink::rotating(&file, ContentLimit::Time(freq), backups.max(1)).map_err(open_err)
        }
    }
}

fn logger(
    path: &str,
    v: &Value,
    index: &HashMap<String, usize>,
    warnings: &mut Vec<String>,
) -> Result<LoggerSpec, LogConfigError> {
    let m = map(v, path)?;
    warn_unknown(m, &format!("{path}."), &["level", "handlers", "propagate"], warnings);
    let level = m.get("level").map(|l| level(l, &format!("{path}.level"))).transpose()?;
    let handlers = names(m, "handlers", path)?
        .into_iter()
        .map(|h| index.get(&h).copied().ok_or_else(|| err(&format!("{path}.handlers"), format!("no handler {h:?}"))))
        .collect::<Result<_, _>>()?;
    let propagate = match m.get("propagate") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::Int(n)) => *n != 0,
        Some(other) => {
            return Err(err(&format!("{path}.propagate"), format!("expected True/False or 0/1, found {other}")));
        }
    };
    Ok(LoggerSpec { level, handlers, propagate })
}
