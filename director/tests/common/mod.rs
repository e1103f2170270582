//! Shared helpers: a temporary director directory with a trusted key made by
//! `keygen`, the real binary, and a guard that stops the daemon even when a
//! test fails.
#![allow(dead_code)]

pub mod churn;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use test_support::{plugin_target_dir, plugins, workspace_root};

pub const BIN: &str = env!("CARGO_BIN_EXE_thespian-director");

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "command failed:\n{}{}", self.stdout, self.stderr);
        self
    }
}

pub fn run_in(dir: &Path, cwd: &Path, args: &[&str]) -> Run {
    let out: Output = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env("THESPIAN_DIRECTOR_DIR", dir)
        .env("CARGO_TARGET_DIR", plugin_target_dir())
        .output()
        .expect("run thespian-director");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn openssl_ok(args: &[&str]) -> bool {
    Command::new("openssl").args(args).output().map(|o| o.status.success()).unwrap_or(false)
}

pub fn foo_dir() -> String {
    workspace_root().join("example-packages/foo").to_string_lossy().into_owned()
}

/// A director dir with a key pair made by `keygen`, the public half trusted.
pub struct Env {
    pub root: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("dir")).unwrap();
        // Each daemon logs into its own directory, not a shared /var/log.
        let logs = root.path().join("logs");
        std::fs::write(root.path().join("dir/thesplogd.cfg"), format!("{:?}", logs.display().to_string())).unwrap();
        let env = Env { root };
        env.run(&["keygen", "signer"]).ok();
        std::fs::copy(env.root.path().join("signer_tls.key"), env.dir().join("signer_tls.key")).unwrap();
        env
    }

    pub fn dir(&self) -> PathBuf {
        self.root.path().join("dir")
    }

    pub fn key(&self) -> String {
        self.root.path().join("signer.pem").to_string_lossy().into_owned()
    }

    pub fn run(&self, args: &[&str]) -> Run {
        run_in(&self.dir(), self.root.path(), args)
    }

    /// gensrc foo from the prebuilt example library (no cargo build), with extra options.
    pub fn gensrc_with(&self, group: &str, lib: &Path, options: &[&str]) -> Run {
        let lib = format!("lib:{}={}", runtime::TARGET_TRIPLE, lib.display());
        let mut args = vec!["gensrc".to_string(), group.into(), self.key(), foo_dir(), lib];
        args.extend(options.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&refs)
    }

    pub fn gensrc_prebuilt(&self, version: Option<&str>) -> Run {
        let v = version.map(|v| format!("version:{v}"));
        self.gensrc_with("foo", &plugins().foo, &v.iter().map(String::as_str).collect::<Vec<_>>())
    }

    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Writes `DIR/GROUP.tli`.
    pub fn tli(&self, group: &str, text: &str) {
        std::fs::write(self.dir().join(format!("{group}.tli")), text).unwrap();
    }

    /// Runs every version inside the daemon (`thespbase.cfg`:
    /// `simpleSystemBase`) instead of the default, a worker per version.
    pub fn in_process(&self) {
        std::fs::write(self.dir().join("thespbase.cfg"), "'simpleSystemBase'").unwrap();
    }

    /// Starts the daemon; the guard shuts it down when dropped.
    pub fn start(&self) -> DaemonGuard {
        // The guard first: a start that reports a failure may still leave a
        // daemon running, which the guard then stops.
        let guard = DaemonGuard { dir: self.dir(), cwd: self.root.path().to_path_buf() };
        self.run(&["start"]).ok();
        guard
    }

    pub fn pid(&self) -> u32 {
        std::fs::read_to_string(self.dir().join(".director.pid")).unwrap().trim().parse().unwrap()
    }

    /// The daemon and its worker processes.
    pub fn processes(&self) -> Vec<u32> {
        let daemon = self.pid();
        let mut out = vec![daemon];
        out.extend(children_of(daemon));
        out
    }

    /// The `/proc/PID/maps` text of the daemon and of each of its workers.
    pub fn maps(&self) -> String {
        self.processes().iter().filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/maps")).ok()).collect()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let r = self.run(args).ok();
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {}", r.stdout))
    }

    pub fn hash_of(&self, file: &str) -> String {
        runtime::sha256_hex(&std::fs::read(self.dir().join(file)).unwrap())
    }
}

/// Shuts the daemon down on drop (then kills it if it is still there).
pub struct DaemonGuard {
    dir: PathBuf,
    cwd: PathBuf,
}

impl DaemonGuard {
    /// A guard for the daemon of `env`, however it was started.
    pub fn new(env: &Env) -> DaemonGuard {
        DaemonGuard { dir: env.dir(), cwd: env.root.path().to_path_buf() }
    }
}

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        stop_daemon(&self.dir, || drop(run_in(&self.dir, &self.cwd, &["shutdown"])));
    }
}

/// Stops the daemon of director directory `dir`: `shutdown` (which runs the
/// CLI's `shutdown` the way the caller needs), then SIGKILL if it is still there.
pub fn stop_daemon(dir: &Path, shutdown: impl FnOnce()) {
    let pid = std::fs::read_to_string(dir.join(".director.pid")).ok().and_then(|p| p.trim().parse::<i32>().ok());
    shutdown();
    if let Some(pid) = pid.filter(|p| director::client::process_alive(*p as u32)) {
        // SAFETY: kill has no memory-safety preconditions; pid is our daemon's.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// `ask ARGS...` through the CLI; its one line of output as JSON.
pub fn ask(env: &Env, args: &[&str]) -> serde_json::Value {
    let mut full = vec!["ask"];
    full.extend_from_slice(args);
    let r = env.run(&full).ok();
    serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("ask printed {:?}: {e}", r.stdout))
}

/// The second local user of the hostile-user tests.
pub const NOBODY: u32 = 65534;

/// Fails (never skips) when the tests cannot act as a second user: CI runs
/// them as root, and `setpriv` switches to `nobody`.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "this test plays a second user (nobody) and must run as root, as CI does");
}

/// `program args...` run as `nobody` through `setpriv`.
pub fn as_nobody(program: &str, args: &[&str]) -> Command {
    require_root();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(program).args(args);
    cmd
}

/// Runs `program args...` as `nobody` and insists it succeeds.
pub fn nobody_ok(program: &str, args: &[&str]) {
    let out = as_nobody(program, args).output().expect("run setpriv");
    assert!(out.status.success(), "as nobody, {program} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// A root directory that `nobody` can reach: the tempdir made 0755, with a
/// world-writable sticky `tmp/` inside it (a private `$TMPDIR`).
pub fn shared_root() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let tmp = root.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
    root
}

/// The binary with `dir` as its director directory and `envs` set.
pub fn run_env(dir: &Path, cwd: &Path, envs: &[(&str, &Path)], args: &[&str]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(cwd).env("THESPIAN_DIRECTOR_DIR", dir).env("CARGO_TARGET_DIR", plugin_target_dir());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run thespian-director");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The foo library with an ELF header that says another architecture, written
/// into `dir`, and the target triple of that architecture.
pub fn foreign_foo(dir: &Path) -> (PathBuf, &'static str) {
    const EM_X86_64: u16 = 62;
    const EM_AARCH64: u16 = 183;
    let (machine, triple) = if runtime::TARGET_TRIPLE.starts_with("x86_64") {
        (EM_AARCH64, "aarch64-unknown-linux-gnu")
    } else {
        (EM_X86_64, "x86_64-unknown-linux-gnu")
    };
    let mut bytes = std::fs::read(&plugins().foo).unwrap();
    bytes[18..20].copy_from_slice(&machine.to_le_bytes());
    let path = dir.join("libfoo-foreign.so");
    std::fs::write(&path, &bytes).unwrap();
    (path, triple)
}

/// The worker program of the tests: the real binary.
pub fn worker_program() -> runtime::worker::WorkerProgram {
    runtime::worker::WorkerProgram { program: BIN.into(), ..Default::default() }
}

/// An actor system whose libraries go under `root`.
pub fn system(root: &Path) -> runtime::ActorSystem {
    runtime::ActorSystem::start(runtime::SystemConfig::default().with_extract_root(root)).expect("a system starts")
}

/// Signs `group` 1 from a prebuilt example library and loads it in a worker.
pub fn isolated(env: &Env, system: &runtime::ActorSystem, group: &str, lib: &Path) -> runtime::worker::IsolatedVersion {
    env.gensrc_with(group, lib, &["version:1"]).ok();
    start(env, system, group, &worker_program())
}

/// Loads the signed `group` 1 in a new worker started from `program`.
pub fn start(
    env: &Env,
    system: &runtime::ActorSystem,
    group: &str,
    program: &runtime::worker::WorkerProgram,
) -> runtime::worker::IsolatedVersion {
    let file = env.dir().join(format!("{group}-1.tls"));
    let authority = runtime::tls::SourceAuthority::new(env.dir());
    let (_, pkg) = authority.stage_file(&file, system.extract_root()).expect("verified");
    let t = std::time::Duration::from_secs(30);
    runtime::worker::IsolatedVersion::start(system, pkg, program, t).expect("loaded in a worker")
}

/// A starting system for worker tests, with a director directory to sign
/// packages in. Fields drop in order: the system shuts down before its
/// directory goes.
pub struct Starter {
    pub system: runtime::ActorSystem,
    pub root: tempfile::TempDir,
    pub env: Env,
}

impl Starter {
    pub fn new() -> Starter {
        let env = Env::new();
        let root = tempfile::tempdir().unwrap();
        Starter { system: system(root.path()), root, env }
    }
}

/// One log record of this test process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub level: log::Level,
    pub target: String,
    pub message: String,
    /// The `actorAddress` key-value, empty when absent.
    pub actor: String,
}

static LOGGED: std::sync::Mutex<Vec<Logged>> = std::sync::Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let actor =
            record.key_values().get(runtime::ACTOR_ADDRESS_KEY.into()).map(|v| v.to_string()).unwrap_or_default();
        let (target, message) = (record.target().to_string(), record.args().to_string());
        LOGGED.lock().unwrap().push(Logged { level: record.level(), target, message, actor });
    }

    fn flush(&self) {}
}

/// Keeps every log record of this test process at info and above.
pub fn capture_logs() {
    let _ = log::set_boxed_logger(Box::new(Capture));
    log::set_max_level(log::LevelFilter::Info);
}

/// How many records kept so far `pick` accepts.
pub fn count_logged(pick: impl Fn(&Logged) -> bool) -> usize {
    LOGGED.lock().unwrap().iter().filter(|r| pick(r)).count()
}

/// Waits up to 30 s for a kept record that `pick` accepts.
pub fn wait_logged(what: &str, pick: impl Fn(&Logged) -> bool) -> Logged {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(r) = LOGGED.lock().unwrap().iter().find(|r| pick(r)) {
            return r.clone();
        }
        assert!(std::time::Instant::now() < deadline, "not logged within 30 s: {what}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The live (not zombie) child processes of `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    test_support::children_of(pid).into_iter().filter(|(_, state)| state != "Z").map(|(child, _)| child).collect()
}

/// The children of `pid` that exited and were never reaped.
pub fn zombies_of(pid: u32) -> usize {
    test_support::children_of(pid).iter().filter(|(_, state)| state == "Z").count()
}

/// True once process `pid` has ended: gone, or a zombie nobody reaped yet.
pub fn process_exited(pid: u32) -> bool {
    test_support::state_and_parent(pid).is_none_or(|(state, _)| state == "Z")
}
