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
        let pid =
            std::fs::read_to_string(self.dir().join(".director.pid")).ok().and_then(|p| p.trim().parse::<i32>().ok());
        let _ = self.run(&["shutdown"]);
        if let Some(pid) = pid.filter(|p| director::client::process_alive(*p as u32)) {
            // SAFETY: kill has no memory-safety preconditions; pid is our daemon's.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
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
            dead_letters: 0,
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

#[allow(dead_code)]
fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}
