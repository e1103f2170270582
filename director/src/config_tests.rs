use super::*;

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(d.path().join(name), text).unwrap();
    }
    d
}

#[test]
fn every_file_absent_gives_the_defaults() {
    let d = dir_with(&[]);
    let c = Config::load(d.path()).unwrap();
    assert_eq!(c.system_base, "multiprocTCPBase");
    assert_eq!(c.old_system_base, None);
    assert_eq!(c.admin_port, 1900);
    assert_eq!(c.convention_leader, None);
    assert!(c.other_caps.is_empty());
    assert_eq!(c.logging, None);
    assert_eq!(c.log_dir, default_log_dir());
    assert_eq!(c.log_file, "thespian_system.log");
    assert_eq!(c.log_size, 51200);
}

#[test]
fn every_file_valid() {
    let d = dir_with(&[
        ("thespbase.cfg", "'simpleSystemBase'"),
        ("oldthespbase.cfg", "'multiprocUDPBase'\n"),
        ("adminport.cfg", "1901  # the admin port"),
        ("convleader.cfg", "'192.168.32.19'"),
        ("othercaps.cfg", "{ 'Worker': True, 'Slot': 19, 'nproc': 2 }"),
        ("thesplog.cfg", "{'version': 1}"),
        ("thesplogd.cfg", "'/tmp/log'"),
        ("thesplogf.cfg", "'system.log'"),
        ("thesplogs.cfg", "4096"),
    ]);
    let c = Config::load(d.path()).unwrap();
    assert_eq!(c.system_base, "simpleSystemBase");
    assert_eq!(c.host_threads(), 1);
    assert_eq!(c.old_system_base.as_deref(), Some("multiprocUDPBase"));
    assert_eq!(c.admin_port, 1901);
    assert_eq!(c.convention_leader.as_deref(), Some("192.168.32.19"));
    assert_eq!(c.other_caps.get("Slot"), Some(&Value::Int(19)));
    assert!(c.logging.is_some());
    assert_eq!(c.system_log(), PathBuf::from("/tmp/log/system.log"));
    assert_eq!(c.log_size, 4096);
}

#[test]
fn every_file_malformed_names_the_file_and_position() {
    for name in [
        "thespbase.cfg",
        "oldthespbase.cfg",
        "adminport.cfg",
        "convleader.cfg",
        "othercaps.cfg",
        "thesplog.cfg",
        "thesplogd.cfg",
        "thesplogf.cfg",
        "thesplogs.cfg",
    ] {
        let d = dir_with(&[(name, "{'a': 1,\n  'b' 2}")]);
        match Config::load(d.path()) {
            Err(ConfigError::Syntax { file, error }) => {
                assert_eq!(file, d.path().join(name));
                assert_eq!((error.line, error.column), (2, 7), "{name}: {error}");
            }
            other => panic!("{name}: expected a syntax error, got {other:?}"),
        }
    }
}

#[test]
fn ill_typed_values_are_errors_naming_the_file() {
    for (name, text) in [
        ("thespbase.cfg", "'madeUpBase'"),
        ("adminport.cfg", "'1900'"),
        ("adminport.cfg", "70000"),
        ("othercaps.cfg", "[1, 2]"),
        ("thesplog.cfg", "'logging'"),
        ("thesplogd.cfg", "42"),
        ("thesplogf.cfg", "''"),
        ("thesplogs.cfg", "0"),
        ("convleader.cfg", "None"),
    ] {
        let d = dir_with(&[(name, text)]);
        let err = Config::load(d.path()).unwrap_err();
        assert!(matches!(&err, ConfigError::Type { file, .. } if file.ends_with(name)), "{name} {text}: {err}");
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn code_in_a_cfg_file_is_refused_and_never_runs() {
    let d = tempfile::tempdir().unwrap();
    let marker = d.path().join("X");
    let code = format!("__import__('os').system('touch {}')", marker.display());
    std::fs::write(d.path().join("othercaps.cfg"), code).unwrap();
    let err = Config::load(d.path()).unwrap_err();
    assert!(err.to_string().contains("othercaps.cfg: line 1, column 1: names are not allowed"), "{err}");
    assert!(!marker.exists());
}

#[test]
fn config_renders_like_the_seed() {
    let d =
        dir_with(&[("othercaps.cfg", "{ 'Worker': True, 'Slot': 19, 'nproc': 2 }"), ("thesplogd.cfg", "'/tmp/log'")]);
    let text = Config::load(d.path()).unwrap().render();
    let expected = format!(
        "Sources location: {}/\nSystem Base: multiprocTCPBase\nIsolation: process (one worker process per loaded version)\nAdmin Port: 1900\nLogging directory: /tmp/log\nOther Capabilities: {{ \"Slot\": 19, \"Worker\": True, \"nproc\": 2 }}\nStrict Trust: True\n",
        d.path().display()
    );
    assert_eq!(text, expected);
}

#[test]
fn a_cfg_file_over_one_mib_is_refused_without_parsing_it() {
    let big = format!("'{}'", "x".repeat(12 << 20));
    let d = dir_with(&[("convleader.cfg", big.as_str())]);
    let err = Config::load(d.path()).unwrap_err();
    assert!(
        err.to_string().contains("convleader.cfg") && err.to_string().contains("over the 1048576-byte limit"),
        "{err}"
    );
}

#[test]
fn stricttrust_false_turns_the_check_off_but_only_from_a_file_others_cannot_write() {
    use std::os::unix::fs::PermissionsExt;
    let d = dir_with(&[("stricttrust.cfg", "False"), ("thesplogf.cfg", "'x.log'")]);
    let open = d.path().join("thesplogf.cfg");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
    let c = Config::load(d.path()).unwrap();
    assert!(!c.strict_trust && c.trust_warning().is_some_and(|w| w.contains("stricttrust.cfg is False")));
    std::fs::remove_file(d.path().join("stricttrust.cfg")).unwrap();
    let err = Config::load(d.path()).unwrap_err().to_string();
    assert!(err.contains("thesplogf.cfg") && err.contains("mode 0666") && err.contains("chmod go-w"), "{err}");
    std::fs::write(d.path().join("stricttrust.cfg"), "False").unwrap();
    std::fs::set_permissions(d.path().join("stricttrust.cfg"), std::fs::Permissions::from_mode(0o666)).unwrap();
    let err = Config::load(d.path()).unwrap_err().to_string();
    assert!(err.contains("stricttrust.cfg"), "a stricttrust.cfg others can write never turns the check off: {err}");
}
