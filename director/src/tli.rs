//! TLI files: what the Director does with a group's actors on load,
//! deactivation and reactivation (seed section 2.7.2).
//!
//! A TLI is a Python-literal dict, read as data only:
//! `{'Actors': {CLASS: {'OnLoad': {'Role', 'Message', 'GlobalName'},
//! 'OnReactivate': {'Message'}, 'OnDeactivate': {'Message'},
//! 'Requires': {CAPABILITY: VALUE}}},
//! 'AutoUnload': True | N, 'TLS_Keep_Limit': N, 'Isolation': 'process' |
//! 'inprocess', 'Limits': {'MemoryMiB': N, 'CpuSeconds': N, 'OpenFiles': N}}`.
//! A `Message` that is present is sent whatever its value (`0`, `False` and
//! `None` included). `Isolation` and `Limits` are ours, not the original's.
//! `Requires` names the capabilities (`othercaps.cfg`) a member must have
//! to run the actor (see `convention::placement`).

use actor_abi::Value;
use runtime::worker::WorkerLimits;

use crate::pyliteral::{self, PyLiteralError};

/// How many loaded versions of a group to keep after a new one loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoUnload {
    /// Keep every version (absent, `0` or `False`).
    Off,
    /// Keep this many, counting the new one (`True` means 1).
    Keep(u64),
}

/// Where a group's versions run (`'Isolation'`; absent: the daemon's choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// `'process'`: one worker process per loaded version.
    Process,
    /// `'inprocess'`: inside the daemon's process.
    InProcess,
}

impl Isolation {
    /// The word `config` and `list` use.
    pub fn describe(self) -> &'static str {
        match self {
            Isolation::Process => "process",
            Isolation::InProcess => "in-process",
        }
    }
}

/// One actor the Director creates for a loaded version.
#[derive(Debug, Clone, PartialEq)]
pub struct TliActor {
    /// The exported class name.
    pub class: String,
    /// `OnLoad.Role`.
    pub role: Option<String>,
    /// `OnLoad.GlobalName`.
    pub global_name: Option<String>,
    /// `OnLoad.Message`, if present.
    pub on_load: Option<Value>,
    /// `OnReactivate.Message`, if present.
    pub on_reactivate: Option<Value>,
    /// `OnDeactivate.Message`, if present.
    pub on_deactivate: Option<Value>,
    /// `Requires`: the capabilities a member must have to run it (absent:
    /// it runs wherever its version runs).
    pub requires: Option<actor_abi::Map>,
}

/// A parsed TLI file.
#[derive(Debug, Clone, PartialEq)]
pub struct Tli {
    /// The actors, ordered by class name.
    pub actors: Vec<TliActor>,
    /// `AutoUnload`.
    pub auto_unload: AutoUnload,
    /// `TLS_Keep_Limit`: package files of the group kept after a load.
    pub keep_limit: Option<u64>,
    /// `Isolation`, if the TLI overrides the daemon's choice.
    pub isolation: Option<Isolation>,
    /// `Limits` for the worker process.
    pub limits: WorkerLimits,
}

/// Why a TLI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TliError {
    /// Not a Python literal.
    #[error(transparent)]
    Syntax(#[from] PyLiteralError),
    /// A literal of the wrong shape.
    #[error("{path}: {message}")]
    Shape {
        /// Where in the structure (`Actors.foo.OnLoad.Role`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An actor the package does not export.
    #[error("Actors.{class}: the package exports no such actor (it exports {exported:?})")]
    UnknownActor {
        /// The class named in the TLI.
        class: String,
        /// What the package exports.
        exported: Vec<String>,
    },
}

fn shape(path: &str, message: impl Into<String>) -> TliError {
    TliError::Shape { path: path.to_string(), message: message.into() }
}

fn only_keys(v: &Value, path: &str, allowed: &[&str]) -> Result<(), TliError> {
    let map = v.as_map().ok_or_else(|| shape(path, format!("expected a dict, found {}", v.kind())))?;
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(shape(path, format!("unknown key {k:?} (allowed: {})", allowed.join(", ")))),
        None => Ok(()),
    }
}

fn text(v: Option<&Value>, path: &str) -> Result<Option<String>, TliError> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(shape(path, format!("expected a string, found {}", other.kind()))),
    }
}

fn message(section: Option<&Value>, path: &str) -> Result<Option<Value>, TliError> {
    let Some(section) = section else { return Ok(None) };
    only_keys(section, path, &["Message"])?;
    Ok(section.get("Message").cloned())
}

fn requires(v: Option<&Value>, path: &str) -> Result<Option<actor_abi::Map>, TliError> {
    match v {
        None => Ok(None),
        Some(Value::Map(m)) if m.is_empty() => Err(shape(path, "names no capability (leave it out instead)")),
        Some(Value::Map(m)) => Ok(Some(m.clone())),
        Some(other) => Err(shape(path, format!("expected a dict of capabilities, found {}", other.kind()))),
    }
}

fn limits(v: Option<&Value>) -> Result<WorkerLimits, TliError> {
    let Some(v) = v else { return Ok(WorkerLimits::default()) };
    only_keys(v, "Limits", &["MemoryMiB", "CpuSeconds", "OpenFiles"])?;
    let count = |key: &str| match v.get(key) {
        None => Ok(None),
        Some(Value::Int(n)) if *n > 0 => Ok(Some(*n as u64)),
        Some(other) => Err(shape(&format!("Limits.{key}"), format!("expected a count > 0, found {other}"))),
    };
    Ok(WorkerLimits {
        memory_mib: count("MemoryMiB")?,
        cpu_seconds: count("CpuSeconds")?,
        open_files: count("OpenFiles")?,
    })
}

impl Tli {
    /// Parses TLI text.
    pub fn parse(text_: &str) -> Result<Tli, TliError> {
        let v = pyliteral::parse(text_)?;
        only_keys(&v, "TLI", &["Actors", "AutoUnload", "TLS_Keep_Limit", "Isolation", "Limits"])?;
        let actors_v = v.get("Actors").ok_or_else(|| shape("TLI", "missing the 'Actors' dict"))?;
        let actors_map = actors_v.as_map().ok_or_else(|| shape("Actors", "expected a dict"))?;
        let mut actors = Vec::new();
        for (class, spec) in actors_map {
            let p = format!("Actors.{class}");
            only_keys(spec, &p, &["OnLoad", "OnReactivate", "OnDeactivate", "Requires"])?;
            let on_load = spec.get("OnLoad");
            if let Some(l) = on_load {
                only_keys(l, &format!("{p}.OnLoad"), &["Role", "Message", "GlobalName"])?;
            }
            actors.push(TliActor {
                class: class.clone(),
                role: text(on_load.and_then(|l| l.get("Role")), &format!("{p}.OnLoad.Role"))?,
                global_name: text(on_load.and_then(|l| l.get("GlobalName")), &format!("{p}.OnLoad.GlobalName"))?,
                on_load: on_load.and_then(|l| l.get("Message")).cloned(),
                on_reactivate: message(spec.get("OnReactivate"), &format!("{p}.OnReactivate"))?,
                on_deactivate: message(spec.get("OnDeactivate"), &format!("{p}.OnDeactivate"))?,
                requires: requires(spec.get("Requires"), &format!("{p}.Requires"))?,
            });
        }
        let auto_unload = match v.get("AutoUnload") {
            None | Some(Value::Bool(false)) | Some(Value::Int(0)) => AutoUnload::Off,
            Some(Value::Bool(true)) => AutoUnload::Keep(1),
            Some(Value::Int(n)) if *n > 0 => AutoUnload::Keep(*n as u64),
            Some(other) => {
                return Err(shape("AutoUnload", format!("expected True, False or a count >= 0, found {other}")));
            }
        };
        let keep_limit = match v.get("TLS_Keep_Limit") {
            None => None,
            Some(Value::Int(n)) if *n >= 0 => Some(*n as u64),
            Some(other) => return Err(shape("TLS_Keep_Limit", format!("expected a count >= 0, found {other}"))),
        };
        let isolation = match v.get("Isolation") {
            None => None,
            Some(Value::String(s)) if s == "process" => Some(Isolation::Process),
            Some(Value::String(s)) if s == "inprocess" => Some(Isolation::InProcess),
            Some(other) => return Err(shape("Isolation", format!("expected 'process' or 'inprocess', found {other}"))),
        };
        let limits = limits(v.get("Limits"))?;
        if isolation == Some(Isolation::InProcess) && limits != WorkerLimits::default() {
            return Err(shape("Limits", "limits apply to a worker process; 'Isolation' is 'inprocess'"));
        }
        Ok(Tli { actors, auto_unload, keep_limit, isolation, limits })
    }

    /// Checks that every actor named is one the package exports.
    pub fn check_against(&self, exported: &[String]) -> Result<(), TliError> {
        match self.actors.iter().find(|a| !exported.contains(&a.class)) {
            Some(a) => Err(TliError::UnknownActor { class: a.class.clone(), exported: exported.to_vec() }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actor_abi::value;

    /// The seed's foo.tli, with its unbalanced braces corrected.
    const FOO_TLI: &str = "{ 'Actors':
  { 'foo.fooactor':
    { 'OnLoad': { 'Role': 'MainFoo',
                  'Message': 'StartFoo',
                  'GlobalName': 'Foo Primary',
                  },
      'OnReactivate': { 'Message': ('Restart', True) },
      'OnDeactivate': { 'Message': {'Shutdown': True,
                                     'timeout': 3 } } },
    'foo.subdir2.barn.cowactor':
        { 'OnLoad': { 'Role': 'FlyingCow',
                      'Message': 'Moo!'
                    }
        },
  },
}
";

    #[test]
    fn the_seeds_foo_tli() {
        let tli = Tli::parse(FOO_TLI).unwrap();
        assert_eq!(tli.auto_unload, AutoUnload::Off);
        let foo = &tli.actors[0];
        assert_eq!(foo.class, "foo.fooactor");
        assert_eq!(foo.role.as_deref(), Some("MainFoo"));
        assert_eq!(foo.global_name.as_deref(), Some("Foo Primary"));
        assert_eq!(foo.on_load, Some(Value::from("StartFoo")));
        assert_eq!(foo.on_reactivate, Some(value!(["Restart", true])));
        assert_eq!(foo.on_deactivate, Some(value!({"Shutdown": true, "timeout": 3})));
        let cow = &tli.actors[1];
        assert_eq!((cow.role.as_deref(), cow.on_deactivate.as_ref()), (Some("FlyingCow"), None));
        let exported = vec!["foo.fooactor".to_string(), "foo.subdir2.barn.cowactor".to_string()];
        assert!(tli.check_against(&exported).is_ok());
        assert!(matches!(tli.check_against(&exported[..1]), Err(TliError::UnknownActor { .. })));
    }

    #[test]
    fn a_present_message_counts_whatever_its_value() {
        let tli =
            Tli::parse("{'Actors': {'a': {'OnLoad': {'Message': 0}, 'OnReactivate': {'Message': None}}}}").unwrap();
        assert_eq!(tli.actors[0].on_load, Some(Value::Int(0)));
        assert_eq!(tli.actors[0].on_reactivate, Some(Value::Null));
        assert_eq!(tli.actors[0].on_deactivate, None);
    }

    #[test]
    fn auto_unload_and_keep_limit() {
        let p = |s: &str| Tli::parse(&format!("{{'Actors': {{}}, {s}}}"));
        assert_eq!(p("'AutoUnload': True").unwrap().auto_unload, AutoUnload::Keep(1));
        assert_eq!(p("'AutoUnload': 3").unwrap().auto_unload, AutoUnload::Keep(3));
        assert_eq!(p("'AutoUnload': 0").unwrap().auto_unload, AutoUnload::Off);
        assert_eq!(p("'AutoUnload': False").unwrap().auto_unload, AutoUnload::Off);
        assert_eq!(p("'TLS_Keep_Limit': 3").unwrap().keep_limit, Some(3));
        assert!(p("'AutoUnload': -1").is_err());
        assert!(p("'AutoUnload': 'yes'").is_err());
    }

    #[test]
    fn isolation_and_limits() {
        let p = |s: &str| Tli::parse(&format!("{{'Actors': {{}}, {s}}}"));
        assert_eq!(p("'AutoUnload': 0").unwrap().isolation, None);
        assert_eq!(p("'Isolation': 'process'").unwrap().isolation, Some(Isolation::Process));
        assert_eq!(p("'Isolation': 'inprocess'").unwrap().isolation, Some(Isolation::InProcess));
        let e = p("'Isolation': 'thread'").unwrap_err().to_string();
        assert!(e.starts_with("Isolation: expected 'process' or 'inprocess'"), "{e}");
        let l = p("'Limits': {'MemoryMiB': 512, 'OpenFiles': 64}").unwrap().limits;
        assert_eq!(l, WorkerLimits { memory_mib: Some(512), cpu_seconds: None, open_files: Some(64) });
        let e = p("'Limits': {'MemoryMiB': 0}").unwrap_err().to_string();
        assert!(e.starts_with("Limits.MemoryMiB: expected a count > 0"), "{e}");
        let e = p("'Limits': {'Memory': 5}").unwrap_err().to_string();
        assert!(e.contains("unknown key \"Memory\""), "{e}");
        let e = p("'Isolation': 'inprocess', 'Limits': {'CpuSeconds': 5}").unwrap_err().to_string();
        assert!(e.starts_with("Limits: limits apply to a worker process"), "{e}");
    }

    #[test]
    fn requires_is_a_dict_of_capabilities() {
        let tli = Tli::parse("{'Actors': {'a': {'Requires': {'Worker': True, 'Slot': 19}}, 'b': {}}}").unwrap();
        let want: actor_abi::Map =
            [("Slot".to_string(), Value::Int(19)), ("Worker".to_string(), Value::Bool(true))].into_iter().collect();
        assert_eq!(tli.actors[0].requires, Some(want));
        assert_eq!(tli.actors[1].requires, None);
        let e = Tli::parse("{'Actors': {'a': {'Requires': 'Worker'}}}").unwrap_err().to_string();
        assert!(e.starts_with("Actors.a.Requires: expected a dict of capabilities"), "{e}");
        let e = Tli::parse("{'Actors': {'a': {'Requires': {}}}}").unwrap_err().to_string();
        assert!(e.starts_with("Actors.a.Requires: names no capability"), "{e}");
    }

    #[test]
    fn wrong_shapes_name_their_place() {
        let e = Tli::parse("{'Actors': {'a': {'OnLoad': {'Role': 5}}}}").unwrap_err();
        assert!(e.to_string().starts_with("Actors.a.OnLoad.Role"), "{e}");
        let e = Tli::parse("{'Actors': {'a': {'OnLaod': {}}}}").unwrap_err();
        assert!(e.to_string().contains("unknown key \"OnLaod\""), "{e}");
        assert!(Tli::parse("{'Actor': {}}").is_err());
        assert!(matches!(Tli::parse("{'Actors': {}} x"), Err(TliError::Syntax(_))));
    }
}
