//! Operator-mode trust for a test `nats-server`: an operator, one account
//! it signs, and users' creds files (a user JWT and its nkey seed), made
//! with real nkeys the way `nsc` makes them. [`Trust::foreign_creds`]
//! makes a user of an account the server does not know.

use base64::Engine;
use nkeys::KeyPair;

/// An operator, its system account, and one account with JetStream enabled.
pub struct Trust {
    account: KeyPair,
    /// The system account's public key and JWT (a server in operator mode
    /// needs one to run JetStream).
    system: (String, String),
    /// The operator's JWT (the server's `operator`).
    pub operator_jwt: String,
    /// The account's public key.
    pub account_key: String,
    /// The account's JWT (preloaded into the server's resolver).
    pub account_jwt: String,
}

impl Trust {
    /// A new operator and account.
    ///
    /// # Panics
    /// If nkeys cannot sign (it always can).
    pub fn new() -> Trust {
        let operator = KeyPair::new_operator();
        let account = KeyPair::new_account();
        let op = operator.public_key();
        let operator_jwt = jwt(&operator, &op, "test-operator", serde_json::json!({"type": "operator", "version": 2}));
        let limits = serde_json::json!({
            "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": true,
            "conn": -1, "leaf": -1, "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1,
        });
        let nats = serde_json::json!({"limits": limits, "type": "account", "version": 2});
        let account_key = account.public_key();
        let account_jwt = jwt(&operator, &account_key, "test-account", nats);
        let system_key = KeyPair::new_account().public_key();
        let system_jwt = jwt(&operator, &system_key, "SYS", serde_json::json!({"type": "account", "version": 2}));
        Trust { account, system: (system_key, system_jwt), operator_jwt, account_key, account_jwt }
    }

    /// The server configuration lines that trust this operator and account.
    pub fn server_config(&self) -> String {
        let (system_key, system_jwt) = &self.system;
        format!(
            "operator: {:?}\nsystem_account: {system_key}\nresolver: MEMORY\n\
             resolver_preload: {{ {}: {:?}, {system_key}: {system_jwt:?} }}\n",
            self.operator_jwt, self.account_key, self.account_jwt
        )
    }

    /// A creds file for a new user `name` of this account.
    pub fn creds(&self, name: &str) -> String {
        creds(&self.account, name)
    }

    /// A creds file for a user of an account this server does not know.
    pub fn foreign_creds(name: &str) -> String {
        creds(&KeyPair::new_account(), name)
    }
}

impl Default for Trust {
    fn default() -> Self {
        Trust::new()
    }
}

fn creds(account: &KeyPair, name: &str) -> String {
    let user = KeyPair::new_user();
    let nats = serde_json::json!({
        "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2,
    });
    let token = jwt(account, &user.public_key(), name, nats);
    let seed = user.seed().expect("a new user key has a seed");
    format!(
        "-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n"
    )
}

/// A JWT for `subject`, signed by `issuer`.
fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: serde_json::Value) -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let claims = serde_json::json!({
        "jti": format!("{}{now}", subject.get(..16).unwrap_or(subject)),
        "iat": now, "iss": issuer.public_key(), "name": name, "sub": subject, "nats": nats,
    });
    let head = b64(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = b64(claims.to_string().as_bytes());
    let signature = issuer.sign(format!("{head}.{body}").as_bytes()).expect("nkeys signs");
    format!("{head}.{body}.{}", b64(&signature))
}
