//! The control path has deadlines and bounds (issue 11, item 5): idle and
//! half-sent connections are closed, a low file limit does not make the
//! daemon spin or hang, and a stopped daemon is reported, not waited on.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use common::{Env, run_env};

/// CPU time (user + system, in clock ticks) the process has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit(')').next().unwrap();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime); `rest` starts at field 3.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn socket(env: &Env) -> std::path::PathBuf {
    env.dir().join(".director.sock")
}

/// Reads what the daemon sends until it closes the connection.
fn read_to_close(mut s: &UnixStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn idle_and_half_sent_connections_are_closed_and_others_are_served_meanwhile() {
    let env = Env::new();
    let _daemon = env.start();
    let idle: Vec<UnixStream> = (0..5).map(|_| UnixStream::connect(socket(&env)).unwrap()).collect();
    let half: Vec<UnixStream> = (0..5)
        .map(|_| {
            let mut s = UnixStream::connect(socket(&env)).unwrap();
            s.write_all(b"{\"cmd\": \"sta").unwrap();
            s
        })
        .collect();
    // Meanwhile the owner is served at once.
    assert_eq!(env.run(&["status"]).code, 0);
    for s in idle.iter().chain(&half) {
        let answer = read_to_close(s);
        assert!(answer.contains("did not arrive within"), "the daemon says why it closes: {answer:?}");
    }
    assert_eq!(env.run(&["status"]).code, 0, "and still serves");
}

/// An ask's timeout from the socket is bounded: one past a day (or one
/// that no clock can hold) is refused with the field, not a crashed thread.
#[test]
fn an_ask_with_an_absurd_timeout_is_refused_by_name() {
    let env = Env::new();
    let _daemon = env.start();
    for ms in [u64::MAX.to_string(), "0".to_string(), (24 * 3600 * 1000 + 1).to_string()] {
        let mut s = UnixStream::connect(socket(&env)).unwrap();
        let request = format!(
            "{{\"cmd\": \"ask\", \"target\": \"Director\", \"group\": null, \"source\": null, \"message\": 1, \"timeout_ms\": {ms}}}\n"
        );
        s.write_all(request.as_bytes()).unwrap();
        let answer = read_to_close(&s);
        assert!(answer.contains("bad_request") && answer.contains(&format!("timeout_ms {ms} is outside")), "{answer}");
    }
    assert_eq!(env.run(&["status"]).code, 0, "and still serves");
}

#[test]
fn an_unload_with_an_absurd_drain_timeout_is_refused_by_name() {
    let env = Env::new();
    env.gensrc_prebuilt(Some("1")).ok();
    let _daemon = env.start();
    env.run(&["load", "foo"]).ok();
    let hash = env.hash_of("foo-1.tls");
    for ms in [u64::MAX.to_string(), "0".to_string(), (3600 * 1000 + 1).to_string()] {
        let mut s = UnixStream::connect(socket(&env)).unwrap();
        let request = format!("{{\"cmd\": \"unload\", \"hash\": \"{hash}\", \"timeout_ms\": {ms}}}\n");
        s.write_all(request.as_bytes()).unwrap();
        let answer = read_to_close(&s);
        assert!(answer.contains("bad_request") && answer.contains(&format!("timeout_ms {ms} is outside")), "{answer}");
    }
    assert!(env.run(&["list"]).ok().stdout.contains("[ACTIVE]"), "nothing was unloaded");
}

#[test]
fn a_low_file_limit_and_many_idle_clients_neither_spin_nor_hang_the_daemon() {
    let env = Env::new();
    // The daemon starts under `ulimit -n 64` (start spawns it with this limit).
    let start = std::process::Command::new("sh")
        .args(["-c", &format!("ulimit -n 64 && exec {} start", common::BIN)])
        .env("THESPIAN_DIRECTOR_DIR", env.dir())
        .output()
        .unwrap();
    assert!(start.status.success(), "{}", String::from_utf8_lossy(&start.stderr));
    let _daemon = common::DaemonGuard::new(&env);
    let pid = env.pid();
    let idle: Vec<UnixStream> = (0..80).filter_map(|_| UnixStream::connect(socket(&env)).ok()).collect();
    assert!(idle.len() >= 64, "the clients connected ({})", idle.len());
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(pid) - before;
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap();
    assert!(used < hz, "the daemon burned {used} ticks ({hz}/s) in 2 s with idle clients: it spins");
    // The owner gets an answer (a real one, or a clear "busy"), never a hang.
    let r = env.run(&["status"]);
    assert!(r.code == 0 || r.stderr.contains("busy"), "status: {}{}", r.stdout, r.stderr);
    drop(idle);
    assert!(test_support::eventually(Duration::from_secs(30), || env.run(&["status"]).code == 0));
}

#[test]
fn a_stopped_daemon_is_reported_with_its_pid_instead_of_hanging() {
    let env = Env::new();
    let _daemon = env.start();
    let pid = env.pid();
    struct Resume(u32);
    impl Drop for Resume {
        fn drop(&mut self) {
            // SAFETY: kill has no memory-safety preconditions; the pid is our daemon's.
            unsafe { libc::kill(self.0 as i32, libc::SIGCONT) };
        }
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    let _resume = Resume(pid);
    let quick = [("THESPIAN_DIRECTOR_TIMEOUT", Path::new("2"))];
    for args in [&["status"][..], &["start"][..], &["start", "--foreground"][..]] {
        let r = run_env(&env.dir(), env.root.path(), &quick, args);
        assert_ne!(r.code, 0, "{args:?}: {}", r.stdout);
        assert!(
            r.stderr.contains("not answering") && r.stderr.contains(&format!("pid {pid}")),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert!(env.dir().join(".director.sock").exists(), "the stopped daemon's socket was left alone");
    drop(_resume);
    assert_eq!(env.run(&["status"]).code, 0, "it answers once resumed");
}
