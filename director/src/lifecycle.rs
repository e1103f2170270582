//! Printing for the daemon commands: each calls one `DirectorControl`
//! method and prints its result (text or `--json`).

use std::process::ExitCode;

use director::protocol::{GroupListing, Loaded, Unloaded};
use director::{DirectorControl, SendOptions, daemon, dir, localtime};
use serde::Serialize;

use crate::fail;

fn print_json(value: &impl Serialize) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, 1),
    }
}

fn loaded_line(l: &Loaded) -> String {
    let what = if l.already_loaded { "Already loaded" } else { "Loaded" };
    format!("{what} \"{}\" {}: {}", l.group, l.file, l.hash)
}

fn unloaded_line(u: &Unloaded) -> String {
    let version = if u.version.is_empty() { "(unversioned)" } else { &u.version };
    let mut line = format!("Unloaded \"{}\" {version} {}: code {}", u.group, u.hash, u.code);
    if let Some(h) = &u.reactivated {
        line.push_str(&format!("; {h} is active again"));
    }
    if u.undelivered > 0 {
        line.push_str(&format!(
            "; {} message(s) left undelivered (the drain ran out; they were dropped)",
            u.undelivered
        ));
    }
    line
}

/// `start [--foreground]`.
pub fn start(foreground: bool) -> ExitCode {
    let dir = dir::director_dir();
    // Check the configuration here too, so a bad file is reported now rather
    // than in the background daemon's log.
    if dir.is_dir() {
        let checked = director::config::Config::load(&dir).map_err(|e| e.to_string()).and_then(|c| {
            director::logging::validate(&c).map_err(|e| e.to_string())?;
            Ok(c)
        });
        match checked {
            Ok(c) => {
                if let Some(w) = c.trust_warning() {
                    eprintln!("warning: {w}");
                }
            }
            Err(e) => return fail(format!("refusing to start: {e}"), 1),
        }
    }
    if foreground {
        return match daemon::run(&dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(daemon::DaemonError::AlreadyRunning { pid, .. }) => {
                println!("Already running (pid {pid})");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e, 1),
        };
    }
    match DirectorControl::new(&dir).start() {
        Ok(s) if s.already_running => {
            println!("Already running (pid {})", s.pid);
            ExitCode::SUCCESS
        }
        Ok(s) => {
            println!("Started (pid {})", s.pid);
            s.startup_failures
                .iter()
                .for_each(|i| eprintln!("Failed \"{}\": {}", i.group, i.error.as_deref().unwrap_or("")));
            for g in &s.quarantined {
                eprintln!("Quarantined \"{g}\": {}", daemon::state::quarantine_note(g));
            }
            // Not everything that should run is running: say so in the status too.
            if s.startup_failures.is_empty() && s.quarantined.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => fail(e, 1),
    }
}

/// `config [--json]`: the settings the daemon would use; logging warnings on stderr.
pub fn config(json: bool) -> ExitCode {
    let config = match director::config::Config::load(&dir::director_dir()) {
        Ok(c) => c,
        Err(e) => return fail(e, 1),
    };
    match director::logging::validate(&config) {
        Ok(warnings) => warnings.iter().for_each(|w| eprintln!("warning: {w}")),
        Err(e) => return fail(e, 1),
    }
    if json {
        print_json(&config.to_json())
    } else {
        print!("{}", config.render());
        ExitCode::SUCCESS
    }
}

/// `bootstart [NAME] [nostart] [--manager M]`.
pub fn bootstart(args: &[String], manager: Option<&str>) -> ExitCode {
    use director::bootstart::{BootstartArgs, DEFAULT_NAME, Manager};
    let start_now = !args.iter().any(|a| a == "nostart");
    let names: Vec<&String> = args.iter().filter(|a| *a != "nostart").collect();
    if names.len() > 1 {
        return fail(format!("bootstart takes at most one NAME, got {names:?}"), 2);
    }
    let manager = match manager.map(|m| Manager::parse(m).ok_or(m)) {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(m)) => return fail(format!("unknown manager {m:?}: use systemd or upstart"), 2),
    };
    let binary = match std::env::current_exe() {
        Ok(b) => b,
        Err(e) => return fail(format!("cannot find this program's path: {e}"), 1),
    };
    let args = BootstartArgs {
        name: names.first().map_or(DEFAULT_NAME.to_string(), |n| n.to_string()),
        start_now,
        manager,
        dir: dir::director_dir(),
        binary,
    };
    match director::bootstart::bootstart(&args) {
        Ok(done) => {
            println!("Wrote {}", done.file.display());
            done.commands.iter().for_each(|c| println!("Ran {c}"));
            ExitCode::SUCCESS
        }
        Err(e @ director::bootstart::BootstartError::NoDirectory(_)) => fail(e, 5),
        Err(e) => fail(e, 1),
    }
}

/// `shutdown`.
pub fn shutdown(c: &DirectorControl) -> ExitCode {
    match c.shutdown() {
        Ok(true) => {
            println!("Shutdown completed");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("Not running");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, 1),
    }
}

/// `load TARGET`.
pub fn load(c: &DirectorControl, target: &str, json: bool) -> ExitCode {
    match c.load(target) {
        Ok(l) if json => print_json(&l),
        Ok(l) => {
            println!("{}", loaded_line(&l));
            l.auto_unloaded.iter().for_each(|u| println!("  AutoUnload: {}", unloaded_line(u)));
            l.deleted_files.iter().for_each(|f| println!("  TLS_Keep_Limit: deleted {f}"));
            l.unplaced.iter().for_each(|a| eprintln!("warning: not placed (it does not run): {a}"));
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, 1),
    }
}

/// `refresh`: non-zero if any group failed.
pub fn refresh(c: &DirectorControl, json: bool) -> ExitCode {
    let items = match c.refresh() {
        Ok(items) => items,
        Err(e) => return fail(e, 1),
    };
    let failed = items.iter().any(|i| i.error.is_some());
    if json {
        print_json(&items);
    } else {
        for i in &items {
            match (&i.loaded, &i.error) {
                (Some(l), _) => println!("{}", loaded_line(l)),
                (None, Some(e)) => eprintln!("Failed \"{}\": {e}", i.group),
                (None, None) => {}
            }
        }
    }
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// `unload HASH [--timeout SECONDS]`.
pub fn unload(c: &DirectorControl, hash: &str, drain: std::time::Duration, json: bool) -> ExitCode {
    match c.unload_within(hash, Some(drain)) {
        Ok(u) if json => print_json(&u),
        Ok(u) => {
            println!("{}", unloaded_line(&u));
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, 1),
    }
}

fn render_list(groups: &[GroupListing]) -> String {
    let mut out = String::new();
    for g in groups {
        if let Some(why) = &g.quarantined {
            out.push_str(&format!("Group {}: QUARANTINED ({why})\n", g.group));
            continue;
        }
        out.push_str(&format!("Group {}:\n", g.group));
        for v in &g.versions {
            let version = if v.version.is_empty() { "(unversioned)" } else { &v.version };
            let active = if v.active { "  [ACTIVE]" } else { "" };
            let runs = if v.runs.is_empty() { String::new() } else { format!("  {}", v.runs) };
            out.push_str(&format!("  Source hash {}  version {version}{active}  code {}{runs}\n", v.hash, v.code));
            if let Some(c) = &v.last_crash {
                out.push_str(&format!(
                    "      worker restarts {}, last crash {} at {}\n",
                    v.worker_restarts,
                    c.reason,
                    localtime::display(c.at)
                ));
            }
            for a in &v.actors {
                let addr = match (&a.address, &a.placed) {
                    (Some(addr), _) => addr.clone(),
                    (None, Some(placed)) => format!("({placed})"),
                    (None, None) => "(not running)".to_string(),
                };
                let role = a.role.as_ref().map(|r| format!(" ({r})")).unwrap_or_default();
                let global = a.global_name.as_ref().map(|n| format!(" global {n:?}")).unwrap_or_default();
                let since = localtime::display(a.since);
                out.push_str(&format!(
                    "      {addr} -- {}{role}{global}  since {since}  restarts {}\n",
                    a.class, a.restarts
                ));
            }
        }
    }
    out
}

/// `list`.
pub fn list(c: &DirectorControl, json: bool) -> ExitCode {
    match c.list() {
        Ok(groups) if json => {
            let versions: Vec<_> = groups.iter().flat_map(|g| g.versions.iter()).collect();
            print_json(&versions)
        }
        Ok(groups) => {
            print!("{}", render_list(&groups));
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, 1),
    }
}

/// `list --convention`: one line per member, then its loaded versions.
pub fn members(c: &DirectorControl, json: bool) -> ExitCode {
    let members = match c.members() {
        Ok(m) => m,
        Err(e) => return fail(e, 1),
    };
    if json {
        return print_json(&members);
    }
    for m in &members {
        match (&m.record, &m.unreadable) {
            (Some(r), _) => {
                let leader = if r.leader { "  [LEADER]" } else { "" };
                println!("Member {}{leader}  pid {}  capabilities {}", r.name, r.pid, r.capabilities);
                r.versions.iter().for_each(|v| println!("  {v}"));
                r.refused.iter().for_each(|why| println!("  refused {why}"));
                r.unloaded.iter().for_each(|what| println!("  as the leader did: {what}"));
            }
            (None, why) => println!("Member {}: unreadable ({})", m.key, why.as_deref().unwrap_or("")),
        }
    }
    ExitCode::SUCCESS
}

/// `status`: exit 3 when not running.
pub fn status(c: &DirectorControl, json: bool) -> ExitCode {
    match c.status() {
        Ok(Some(s)) if json => {
            let mut v = serde_json::to_value(&s).unwrap_or_default();
            v["running"] = serde_json::Value::Bool(true);
            print_json(&v)
        }
        Ok(Some(s)) => {
            println!(
                "running: yes\npid: {}\nuptime: {}s\nsocket: {}\ndirectory: {}",
                s.pid, s.uptime_secs, s.socket, s.dir
            );
            println!(
                "groups: {}\nversions: {}\nworkers: {}\nactors in the daemon: {}\ndead letters: {}",
                s.groups, s.versions, s.workers, s.actors, s.dead_letters
            );
            if !s.quarantined.is_empty() {
                println!("quarantined: {}", s.quarantined.join(", "));
            }
            if let Some(c) = &s.convention {
                println!("convention: {c}");
            }
            ExitCode::SUCCESS
        }
        Ok(None) => {
            if json {
                println!("{}", serde_json::json!({"running": false, "socket": c.paths().socket.display().to_string()}));
            } else {
                println!("running: no\nsocket: {}", c.paths().socket.display());
            }
            ExitCode::from(3)
        }
        Err(e) => fail(e, 1),
    }
}

fn parse_json(text: &str) -> Result<serde_json::Value, ExitCode> {
    serde_json::from_str(text).map_err(|e| fail(format!("the message is not valid JSON ({e}): {text}"), 2))
}

/// `ask TARGET JSON`: the reply on one line.
pub fn ask(c: &DirectorControl, target: &str, json: &str, o: &SendOptions) -> ExitCode {
    let msg = match parse_json(json) {
        Ok(m) => m,
        Err(code) => return code,
    };
    match c.ask(target, msg, o) {
        Ok(reply) => {
            println!("{reply}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, 1),
    }
}

/// `tell TARGET JSON`.
pub fn tell(c: &DirectorControl, target: &str, json: &str, o: &SendOptions) -> ExitCode {
    let msg = match parse_json(json) {
        Ok(m) => m,
        Err(code) => return code,
    };
    match c.tell(target, msg, o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e, 1),
    }
}
