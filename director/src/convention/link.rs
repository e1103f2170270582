//! The daemon's connection to the convention's NATS server.
//!
//! The NATS client is async (tokio); the rest of the daemon is threads. A
//! [`Link`] owns a small tokio runtime (one worker thread) that drives the
//! connection in the background, and offers blocking calls to the daemon.
//! Dropping it closes the connection and stops the runtime.

use std::time::Duration;

use crate::convention::settings::{ConventionAuth, ConventionSettings};

/// How long connecting may take before the daemon gives up on the server.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the daemon could not join the convention.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The server refused the connection, or could not be reached.
    #[error("cannot connect to {url} ({who}): {reason}")]
    Connect {
        /// The server.
        url: String,
        /// The credentials used (never a secret).
        who: String,
        /// What the client or server said.
        reason: String,
    },
    /// A credentials or seed file could not be read.
    #[error("cannot read {file}: {reason}")]
    Credentials {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// The runtime for the client could not start.
    #[error("cannot start the NATS client's runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// A live connection to the convention's server.
pub struct Link {
    client: async_nats::Client,
    runtime: tokio::runtime::Runtime,
    url: String,
    name: String,
}

impl Link {
    /// Connects as `member` with `settings`' credentials, within
    /// [`CONNECT_TIMEOUT`]. A refusal (wrong password, unknown user) is an
    /// error at once, never a retry loop.
    pub fn connect(settings: &ConventionSettings, member: &str) -> Result<Link, LinkError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("thespian-nats")
            .enable_all()
            .build()?;
        let client = runtime.block_on(connect(settings, member))?;
        Ok(Link { client, runtime, url: settings.url.clone(), name: settings.name.clone() })
    }

    /// The server this link is connected to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The convention's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True while the client is connected (it reconnects by itself).
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Runs `f` with the client on the link's runtime and waits for it.
    pub fn block_on<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(f)
    }

    /// Runs `task` on the link's runtime in the background; it ends when
    /// the link is dropped.
    pub fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        drop(self.runtime.spawn(task));
    }

    /// The client, for work spawned on the link's runtime.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let client = self.client.clone();
        let _ =
            self.runtime.block_on(async move { tokio::time::timeout(Duration::from_secs(2), client.drain()).await });
    }
}

async fn connect(settings: &ConventionSettings, member: &str) -> Result<async_nats::Client, LinkError> {
    let who = settings.auth.describe();
    let options = match &settings.auth {
        ConventionAuth::None => async_nats::ConnectOptions::new(),
        ConventionAuth::UserPassword { user, password } => {
            async_nats::ConnectOptions::with_user_and_password(user.clone(), password.clone())
        }
        ConventionAuth::Credentials(file) => async_nats::ConnectOptions::with_credentials_file(file)
            .await
            .map_err(|e| LinkError::Credentials { file: file.display().to_string(), reason: e.to_string() })?,
        ConventionAuth::NkeySeed(file) => {
            let seed = std::fs::read_to_string(file)
                .map_err(|e| LinkError::Credentials { file: file.display().to_string(), reason: e.to_string() })?;
            async_nats::ConnectOptions::with_nkey(seed.trim().to_string())
        }
    };
    let mut options =
        options.name(format!("thespian-director {}/{member}", settings.name)).connection_timeout(CONNECT_TIMEOUT);
    if let Some(tls) = &settings.tls {
        options = options.require_tls(true);
        if let Some(ca) = &tls.ca {
            options = options.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&tls.cert, &tls.key) {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
    }
    let attempt = tokio::time::timeout(CONNECT_TIMEOUT * 2, options.connect(settings.url.as_str())).await;
    let fail = |reason: String| LinkError::Connect { url: settings.url.clone(), who: who.clone(), reason };
    match attempt {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(fail(refusal(&e))),
        Err(_) => Err(fail(format!("no answer within {:?}", CONNECT_TIMEOUT * 2))),
    }
}

/// What a failed connection attempt means, in one phrase.
fn refusal(e: &async_nats::ConnectError) -> String {
    use async_nats::ConnectErrorKind as Kind;
    match e.kind() {
        Kind::AuthorizationViolation => "the server refused these credentials (authorization violation)".into(),
        Kind::TimedOut => format!("no answer within {CONNECT_TIMEOUT:?}"),
        _ => e.to_string(),
    }
}
