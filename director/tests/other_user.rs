//! A second local user (`nobody`) attacks a root daemon through the files
//! and directories it can reach (issue 11, items 1-3). Each test plays the
//! attacker's part as `nobody` through `setpriv`; it fails, never skips,
//! when it cannot (CI runs as root).

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{NOBODY, Run, as_nobody, nobody_ok, run_env, shared_root};

/// A fake daemon, run as `nobody`: serves the socket at argv[1], records how
/// many request bytes each connection sent (argv[2]) and answers argv[3].
const FAKE_DAEMON: &str = r#"
import os, socket, sys
path, log, reply = sys.argv[1], sys.argv[2], sys.argv[3].encode() + b"\n"
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
os.chmod(path, 0o777)
srv.listen(64)
while True:
    conn, _ = srv.accept()
    conn.settimeout(2.0)
    got = b""
    try:
        while not got.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    try:
        conn.sendall(reply)
    except OSError:
        pass
    conn.close()
    with open(log, "a") as f:
        f.write(f"{len(got)}\n")
"#;

/// Debian's python3 (root's `PATH` may lead to an interpreter `nobody` cannot read).
const PYTHON: &str = "/usr/bin/python3";

/// Kills and reaps a helper process when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A director directory whose path is too long for a socket inside it, so
/// the socket goes to `$TMPDIR/thespian-director-UID/`, with `$TMPDIR` a
/// world-writable directory of this test.
struct LongDirEnv {
    root: tempfile::TempDir,
}

impl LongDirEnv {
    fn new() -> LongDirEnv {
        let root = shared_root();
        let env = LongDirEnv { root };
        std::fs::create_dir(env.dir()).unwrap();
        let logs = env.root.path().join("logs");
        std::fs::write(env.dir().join("thesplogd.cfg"), format!("{:?}", logs.display().to_string())).unwrap();
        env
    }

    fn dir(&self) -> PathBuf {
        self.root.path().join("d".repeat(100))
    }

    fn tmp(&self) -> PathBuf {
        self.root.path().join("tmp")
    }

    /// Root's private socket directory under this `$TMPDIR`.
    fn socket_dir(&self) -> PathBuf {
        self.tmp().join("thespian-director-0")
    }

    fn socket(&self) -> PathBuf {
        let hash = runtime::sha256_hex(self.dir().to_string_lossy().as_bytes());
        self.socket_dir().join(format!("{}.sock", &hash[..16]))
    }

    fn run(&self, args: &[&str]) -> Run {
        run_env(
            &self.dir(),
            self.root.path(),
            &[("TMPDIR", &self.tmp()), ("THESPIAN_DIRECTOR_TIMEOUT", Path::new("5"))],
            args,
        )
    }
}

impl Drop for LongDirEnv {
    fn drop(&mut self) {
        common::stop_daemon(&self.dir(), || drop(self.run(&["shutdown"])));
    }
}

#[test]
fn a_socket_directory_another_user_prepared_refuses_the_start() {
    let env = LongDirEnv::new();
    let sock_dir = env.socket_dir();
    nobody_ok("mkdir", &["-m", "777", &sock_dir.to_string_lossy()]);
    let r = env.run(&["start"]);
    assert_ne!(r.code, 0, "start must refuse: {}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(&sock_dir.display().to_string()), "the message names the directory: {}", r.stderr);
    assert!(r.stderr.contains(&format!("owned by uid {NOBODY}")), "and why: {}", r.stderr);
    assert!(!env.dir().join(".director.pid").exists(), "no daemon started");

    // Without the planted directory, start makes its own, 0700.
    std::fs::remove_dir_all(&sock_dir).unwrap();
    let r = env.run(&["start"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let meta = std::fs::symlink_metadata(&sock_dir).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o700));
    assert_eq!(env.run(&["status"]).code, 0);
}

#[test]
fn the_client_sends_nothing_to_a_socket_another_user_serves() {
    let env = LongDirEnv::new();
    let sock_dir = env.socket_dir();
    nobody_ok("mkdir", &["-m", "777", &sock_dir.to_string_lossy()]);
    let log = env.tmp().join("fake.log");
    let forged = serde_json::to_string(&director::protocol::Response::Ok {
        result: director::protocol::Reply::Status(director::protocol::Status {
            pid: 1,
            uptime_secs: 1,
            socket: env.socket().display().to_string(),
            dir: env.dir().display().to_string(),
            groups: 0,
            versions: 0,
            actors: 0,
            workers: 0,
            convention: None,
            dead_letters: 0,
            quarantined: vec![],
            startup_failures: vec![],
        }),
    })
    .unwrap();
    let socket = env.socket();
    let fake = as_nobody(PYTHON, &["-c", FAKE_DAEMON, &socket.to_string_lossy(), &log.to_string_lossy(), &forged])
        .spawn()
        .expect("start the fake daemon");
    let _fake = KillOnDrop(fake);
    assert!(test_support::eventually(Duration::from_secs(10), || socket.exists()), "the fake daemon is up");

    let commands: [&[&str]; 4] = [&["status"], &["ask", "MainFoo", "{\"secret\": 42}"], &["start"], &["list"]];
    for args in commands {
        let r = env.run(args);
        assert_ne!(r.code, 0, "{args:?} trusted the fake daemon: {}", r.stdout);
        assert!(r.stderr.contains(&format!("served by uid {NOBODY}")), "{args:?}: {}", r.stderr);
        assert!(!r.stdout.contains("Already running") && !r.stdout.contains("pid: 1"), "{args:?}: {}", r.stdout);
    }
    assert!(
        test_support::eventually(Duration::from_secs(10), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.lines().count() == commands.len())
        }),
        "every command reached the fake daemon (so the check was really made)"
    );
    let received: Vec<usize> =
        std::fs::read_to_string(&log).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect();
    assert!(received.iter().all(|n| *n == 0), "request bytes reached the fake daemon: {received:?}");
    assert!(!env.dir().join(".director.pid").exists(), "no daemon was started beside it");
}

/// A director directory (root-owned, 0755) under a root `nobody` can reach,
/// with root's key `signer` trusted, and an attacker's key pair `evil` and
/// package `other-9.9.tls` (signed by `evil`) made in `attacker/`.
struct SharedEnv {
    root: tempfile::TempDir,
}

impl SharedEnv {
    fn new() -> SharedEnv {
        let env = SharedEnv { root: shared_root() };
        for d in [env.dir(), env.attacker()] {
            std::fs::create_dir(&d).unwrap();
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let logs = env.root.path().join("logs");
        std::fs::write(env.dir().join("thesplogd.cfg"), format!("{:?}", logs.display().to_string())).unwrap();
        env.run_in(&env.dir(), env.root.path(), &["keygen", "signer"]).ok();
        std::fs::copy(env.root.path().join("signer_tls.key"), env.dir().join("signer_tls.key")).unwrap();
        // The attacker's package: the `other` example, signed with its own key.
        let attacker = env.attacker();
        env.run_in(&attacker, &attacker, &["keygen", "evil"]).ok();
        let lib = format!("lib:{}={}", runtime::TARGET_TRIPLE, test_support::plugins().other.display());
        let key = attacker.join("evil.pem");
        let args = ["gensrc", "other", &key.to_string_lossy(), &common::foo_dir(), &lib, "version:9.9"];
        env.run_in(&attacker, &attacker, &args).ok();
        std::fs::write(attacker.join("other.tli"), "{'Actors': {'other.mainActor': {'OnLoad': {'Role': 'Evil'}}}}")
            .unwrap();
        env
    }

    fn dir(&self) -> PathBuf {
        self.root.path().join("dir")
    }

    fn attacker(&self) -> PathBuf {
        self.root.path().join("attacker")
    }

    fn run_in(&self, dir: &Path, cwd: &Path, args: &[&str]) -> Run {
        run_env(dir, cwd, &[("THESPIAN_DIRECTOR_TIMEOUT", Path::new("10"))], args)
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_in(&self.dir(), self.root.path(), args)
    }

    /// `nobody` copies the attacker's files into the director directory.
    fn plant(&self, names: &[&str]) {
        for n in names {
            let from = self.attacker().join(n);
            nobody_ok("cp", &[&from.to_string_lossy(), &self.dir().to_string_lossy()]);
        }
    }

    fn daemon_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir().join(".director.pid")).ok().and_then(|p| p.trim().parse().ok())
    }
}

impl Drop for SharedEnv {
    fn drop(&mut self) {
        common::stop_daemon(&self.dir(), || drop(self.run(&["shutdown"])));
    }
}

#[test]
fn a_director_directory_others_can_write_refuses_the_start_and_nothing_planted_runs() {
    let env = SharedEnv::new();
    std::fs::set_permissions(env.dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    env.plant(&["evil_tls.key", "other-9.9.tls", "other.tli"]);
    let r = env.run(&["start"]);
    assert_ne!(r.code, 0, "start trusted a world-writable directory: {}", r.stdout);
    assert!(r.stderr.contains(&env.dir().display().to_string()) && r.stderr.contains("mode 0777"), "{}", r.stderr);
    assert!(r.stderr.contains("stricttrust.cfg"), "the message says how to turn the check off: {}", r.stderr);
    assert!(env.daemon_pid().is_none(), "no daemon ran");
    // The planted package is refused by the tools too: its key is another user's.
    let info = env.run(&["tlsinfo", "other-9.9.tls"]);
    assert_ne!(info.code, 0, "tlsinfo trusted the planted key: {}", info.stdout);
    assert!(info.stderr.contains(&format!("uid {NOBODY}")), "{}", info.stderr);

    // An operator who turns the check off is warned, and the files are then trusted.
    std::fs::write(env.dir().join("stricttrust.cfg"), "False").unwrap();
    let r = env.run(&["start"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("warning: stricttrust.cfg is False"), "{}", r.stderr);
}

#[test]
fn key_package_tli_and_cfg_files_another_user_can_change_are_refused() {
    let env = SharedEnv::new();
    // A key file owned by nobody, mode 0666, in root's 0755 directory.
    let key = env.dir().join("evil_tls.key");
    std::fs::copy(env.attacker().join("evil_tls.key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::os::unix::fs::chown(&key, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::copy(env.attacker().join("other-9.9.tls"), env.dir().join("other-9.9.tls")).unwrap();
    std::fs::copy(env.attacker().join("other.tli"), env.dir().join("other.tli")).unwrap();
    let why = |text: &str| text.contains("evil_tls.key") && text.contains(&format!("uid {NOBODY}"));

    let info = env.run(&["tlsinfo", "other-9.9.tls"]);
    assert_ne!(info.code, 0, "tlsinfo trusted the key: {}", info.stdout);
    assert!(why(&info.stderr), "{}", info.stderr);
    let avail = env.run(&["avail", "--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&avail.stdout).unwrap();
    assert!(why(&report["refused"].to_string()), "avail refuses it: {}", avail.stdout);

    // A settings file others may write refuses the start, naming it.
    let base = env.dir().join("thespbase.cfg");
    std::fs::write(&base, "'simpleSystemBase'").unwrap();
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o666)).unwrap();
    let r = env.run(&["start"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("thespbase.cfg") && r.stderr.contains("mode 0666"), "{}", r.stderr);
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o644)).unwrap();

    // The daemon starts; the package signed by the untrusted key is refused,
    // at the start's refresh and when loaded by name.
    let r = env.run(&["start"]);
    assert!(r.stdout.starts_with("Started"), "{}{}", r.stdout, r.stderr);
    assert_eq!(r.code, 1, "start reports the group it refused: {}", r.stderr);
    assert!(r.stderr.contains("Failed \"other\"") && why(&r.stderr), "{}", r.stderr);
    let load = env.run(&["load", "other"]);
    assert_ne!(load.code, 0, "the planted package loaded: {}", load.stdout);
    assert!(why(&load.stderr), "{}", load.stderr);

    // A group descriptor others may write is refused too; fixed, it loads.
    let lib = format!("lib:{}={}", runtime::TARGET_TRIPLE, test_support::plugins().foo.display());
    let signer = env.root.path().join("signer.pem");
    env.run(&["gensrc", "foo", &signer.to_string_lossy(), &common::foo_dir(), &lib, "version:1"]).ok();
    let tli = env.dir().join("foo.tli");
    std::fs::write(&tli, "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo'}}}}").unwrap();
    std::fs::set_permissions(&tli, std::fs::Permissions::from_mode(0o666)).unwrap();
    let load = env.run(&["load", "foo"]);
    assert_ne!(load.code, 0, "a 0666 .tli was used: {}", load.stdout);
    assert!(load.stderr.contains("foo.tli") && load.stderr.contains("mode 0666"), "{}", load.stderr);
    std::fs::set_permissions(&tli, std::fs::Permissions::from_mode(0o644)).unwrap();
    env.run(&["load", "foo"]).ok();
    let list = env.run(&["list", "--json"]).ok();
    assert!(list.stdout.contains("\"foo\"") && !list.stdout.contains("\"other\""), "{}", list.stdout);
}

#[test]
fn planted_symlinks_are_never_written_through() {
    let env = SharedEnv::new();
    // Only with the check turned off can another user write the directory.
    std::fs::write(env.dir().join("stricttrust.cfg"), "False").unwrap();
    std::fs::set_permissions(env.dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let victim = env.root.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The daemon's log, and every temporary pid-file name the old writer
    // could pick next (`.director.pid.tmp-PID`), point at the victim.
    let next: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid").unwrap().trim().parse().unwrap();
    let script = format!(
        "cd {dir} && ln -s {v} .director.log && for p in $(seq {a} {b}); do ln -s {v} .director.pid.tmp-$p; done",
        dir = env.dir().display(),
        v = victim.display(),
        a = next + 1,
        b = next + 400
    );
    nobody_ok("sh", &["-c", &script]);
    let r = env.run(&["start"]);
    assert_ne!(r.code, 0, "start wrote through the planted log link: {}", r.stdout);
    assert!(r.stderr.contains(".director.log") && r.stderr.contains("symbolic link"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

    nobody_ok("rm", &[&env.dir().join(".director.log").to_string_lossy()]);
    let r = env.run(&["start"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious", "the pid file was written through a link");
    let pid = env.dir().join(".director.pid");
    assert!(std::fs::symlink_metadata(&pid).unwrap().is_file());
    let status: serde_json::Value = serde_json::from_str(&env.run(&["status", "--json"]).ok().stdout).unwrap();
    assert_eq!(env.daemon_pid().map(i64::from), status["pid"].as_i64(), "the pid file holds the daemon's pid");
}
