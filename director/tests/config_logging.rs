//! Configuration files, logging and bootstart through the real binary.

mod common;

use std::path::Path;
use std::process::Command;

use common::{BIN, Env, run_in};
use test_support::plugins;

fn bare_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("dir")).unwrap();
    d
}

#[test]
fn config_prints_the_defaults() {
    let d = bare_dir();
    let dir = d.path().join("dir");
    let r = run_in(&dir, d.path(), &["config"]).ok();
    let log_dir = director::config::default_log_dir();
    let expected = format!(
        "Sources location: {}/\nSystem Base: multiprocTCPBase\nIsolation: process (one worker process per loaded version)\nAdmin Port: 1900\nLogging directory: {}\nOther Capabilities: {{}}\nStrict Trust: True\n",
        dir.display(),
        log_dir.display()
    );
    assert_eq!(r.stdout, expected);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

#[test]
fn config_with_every_file_present() {
    let d = bare_dir();
    let dir = d.path().join("dir");
    for (name, text) in [
        ("thespbase.cfg", "'multiprocQueueBase'"),
        ("oldthespbase.cfg", "'multiprocTCPBase'"),
        ("adminport.cfg", "1950"),
        ("convleader.cfg", "'192.168.32.19'"),
        ("othercaps.cfg", "{ 'Worker': True, 'Slot': 19, 'nproc': 2 }"),
        ("thesplog.cfg", "{'version': 1, 'root': {'level': 'INFO'}}"),
        ("thesplogd.cfg", "'/tmp/log'"),
        ("thesplogf.cfg", "'sys.log'"),
        ("thesplogs.cfg", "100000"),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let r = run_in(&dir, d.path(), &["config"]).ok();
    let expected = format!(
        "Sources location: {}/\nSystem Base: multiprocQueueBase\nIsolation: process (one worker process per loaded version)\nOLD System Base: multiprocTCPBase\nAdmin Port: 1950\n\
         Convention Leader: 192.168.32.19\nLogging directory: /tmp/log\nOther Capabilities: {{ \"Slot\": 19, \"Worker\": True, \"nproc\": 2 }}\n\
         Strict Trust: True\n",
        dir.display()
    );
    assert_eq!(r.stdout, expected);
    let j: serde_json::Value =
        serde_json::from_str(&run_in(&dir, d.path(), &["config", "--json"]).ok().stdout).unwrap();
    assert_eq!(j["admin_port"], 1950);
    assert_eq!(j["log_file"], "sys.log");
    assert_eq!(j["log_size"], 100000);
    assert_eq!(j["other_capabilities"]["Worker"], true);
    assert_eq!(j["strict_trust"], true);
}

#[test]
fn code_in_a_cfg_file_never_runs_and_the_daemon_refuses_to_start() {
    let d = bare_dir();
    let dir = d.path().join("dir");
    let marker = d.path().join("X");
    std::fs::write(dir.join("othercaps.cfg"), format!("__import__('os').system('touch {}')", marker.display()))
        .unwrap();
    for cmd in [&["config"][..], &["start"], &["start", "--foreground"]] {
        let r = run_in(&dir, d.path(), cmd);
        assert_ne!(r.code, 0, "{cmd:?}");
        assert!(r.stderr.contains("othercaps.cfg: line 1, column 1: names are not allowed"), "{cmd:?}: {}", r.stderr);
    }
    assert!(!marker.exists(), "the file was executed");
    assert!(!dir.join(".director.sock").exists(), "no daemon started");
}

/// The seed's thesplog.cfg, corrected (balanced braces, the `actorAddress`
/// field spelled right, a dict for the filter), with a size-rotated file
/// and one key we do not support.
fn seed_logging(log_dir: &Path) -> String {
    format!(
        "{{ 'version': 1,
  'formatters': {{
    'normal': {{
      'fmt': '%(asctime)s,%(msecs)d %(actorAddress)s/PID:%(process)d %(name)s %(levelname)s %(message)s',
      'datefmt': '%Y-%m-%d %H:%M:%S'
    }}
  }},
  'root': {{'level': 20, 'handlers': ['foo_log_handler']}},
  'loggers': {{
    'sysysA': {{'level': 30, 'propagate': 0, 'handlers': ['foo_log_handler']}}
  }},
  'handlers': {{
    'foo_log_handler': {{
      'filename': 'fooapp.log',
      'class': 'logging.handlers.RotatingFileHandler',
      'formatter': 'normal',
      'level': 20, 'maxBytes': 4096, 'backupCount': 3,
      'filters': ['isActorLog'],
    }},
    'midnight': {{
      'filename': '{}/nightly.log',
      'class': 'logging.handlers.TimedRotatingFileHandler',
      'when': 'midnight', 'backupCount': 3,
    }}
  }},
  'filters': {{'isActorLog': {{'()': 'thespian.director.ActorAddressLogFilter'}}}},
  'disable_existing_loggers': False,
}}
",
        log_dir.display()
    )
}

#[test]
fn a_plugin_info_line_reaches_the_rotating_file_with_its_actor_address() {
    let env = Env::new();
    let logs = env.root.path().join("logs");
    std::fs::write(env.dir().join("thesplog.cfg"), seed_logging(&logs)).unwrap();
    env.tli("misbehave", "{'Actors': {'misbehave.Actor': {'OnLoad': {'Role': 'Bad'}}}}");
    env.gensrc_with("misbehave", &plugins().misbehave, &["version:1"]).ok();
    let c = env.run(&["config"]).ok();
    assert!(
        c.stderr.contains("warning: thesplog.cfg: disable_existing_loggers is not supported; ignored"),
        "{}",
        c.stderr
    );
    let _daemon = env.start();
    let list: serde_json::Value = env.json(&["list", "--json"]);
    let actor = list[0]["actors"][0]["address"].as_str().unwrap().to_string();
    env.run(&["ask", "Bad", "\"log\""]).ok();
    let file = logs.join("fooapp.log");
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text.lines().find(|l| l.contains("misbehave says hello")).expect("the plugin's INFO line");
    let pid = env.pid();
    assert!(line.contains(&format!(" {actor}/PID:{pid} misbehave INFO misbehave says hello")), "{line}");
    let host = format!(" /PID:{pid} runtime.engine.package.load INFO loaded misbehave");
    assert!(text.lines().any(|l| l.contains(&host)), "host lines carry an empty actor address:\n{text}");
    // Rotation at maxBytes: keep logging until a backup appears.
    for _ in 0..60 {
        env.run(&["tell", "Bad", "\"log\""]).ok();
    }
    env.run(&["ask", "Bad", "\"ping\""]).ok();
    let backup = logs.join("fooapp.log.1");
    assert!(backup.exists(), "no rotation at maxBytes");
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size <= 4096 + 512, "the current file is {size} bytes");
    assert!(std::fs::metadata(&backup).unwrap().len() >= 4096, "rotated after reaching maxBytes");
    assert!(logs.join("nightly.log").exists(), "the TimedRotatingFileHandler (when: midnight) writes too");
    // The daemon's own system log holds the warning too.
    let system = std::fs::read_to_string(logs.join("thespian_system.log")).unwrap();
    assert!(system.contains("disable_existing_loggers is not supported"), "{system}");
}

#[test]
fn an_unsupported_handler_class_refuses_the_start() {
    let env = Env::new();
    std::fs::write(
        env.dir().join("thesplog.cfg"),
        "{'version': 1, 'handlers': {'s': {'class': 'logging.handlers.SysLogHandler'}}}",
    )
    .unwrap();
    let r = env.run(&["start"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("handlers.s.class") && r.stderr.contains("SysLogHandler"), "{}", r.stderr);
}

fn bootstart(dir: &Path, root: &Path, args: &[&str]) -> common::Run {
    let out = Command::new(BIN)
        .arg("bootstart")
        .args(args)
        .env("THESPIAN_DIRECTOR_DIR", dir)
        .env("THESPIAN_DIRECTOR_BOOT_ROOT", root)
        .output()
        .unwrap();
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn bootstart_writes_a_systemd_unit_that_systemd_analyze_accepts() {
    let d = bare_dir();
    let dir = d.path().join("dir");
    let root = d.path().join("root");
    let r = bootstart(&dir, &root, &["--manager", "systemd"]).ok();
    let unit = root.join("etc/systemd/system/thespian-director.service");
    assert_eq!(r.stdout.trim(), format!("Wrote {}", unit.display()));
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(text.contains(&format!("Environment=\"THESPIAN_DIRECTOR_DIR={}\"", dir.display())), "{text}");
    assert!(text.contains(&format!("ExecStart={BIN} start --foreground")), "{text}");
    assert!(text.contains("Restart=on-failure") && text.contains("WantedBy=multi-user.target"), "{text}");
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze (apt-get install systemd)");
    assert!(verify.status.success(), "systemd-analyze verify: {}", String::from_utf8_lossy(&verify.stderr));
    // A named service, not started now.
    bootstart(&dir, &root, &["mydirector", "nostart", "--manager", "systemd"]).ok();
    assert!(root.join("etc/systemd/system/mydirector.service").exists());
}

#[test]
fn bootstart_writes_an_upstart_job() {
    let d = bare_dir();
    let dir = d.path().join("dir");
    let root = d.path().join("root");
    bootstart(&dir, &root, &["thespian", "nostart", "--manager", "upstart"]).ok();
    let job = std::fs::read_to_string(root.join("etc/init/thespian.conf")).unwrap();
    assert!(job.contains(&format!("env THESPIAN_DIRECTOR_DIR=\"{}\"", dir.display())), "{job}");
    assert!(job.contains(&format!("exec {BIN} start --foreground")) && job.contains("respawn"), "{job}");
}

#[test]
fn bootstart_refuses_a_missing_directory_and_unsupported_platforms() {
    let d = tempfile::tempdir().unwrap();
    let r = bootstart(&d.path().join("missing"), &d.path().join("root"), &["--manager", "systemd"]);
    assert_eq!(r.code, 5);
    assert!(r.stderr.contains("does not exist; cannot create boot start configuration"), "{}", r.stderr);
    assert!(!d.path().join("root").exists(), "nothing written");
    if director::bootstart::Manager::detect().is_none() {
        std::fs::create_dir(d.path().join("dir")).unwrap();
        let r = bootstart(&d.path().join("dir"), &d.path().join("root"), &[]);
        assert_ne!(r.code, 0);
        assert!(r.stderr.contains("unsupported"), "{}", r.stderr);
    } else {
        eprintln!("this machine has a service manager: the unsupported case is not reachable here");
    }
}
