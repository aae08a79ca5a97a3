//! Logging in at Admin Router (`POST /acs/api/v1/auth/login`, facts §8.1): a service account
//! sends its uid and a short-lived JWT signed RS256 with its private key; a user sends uid and
//! password. The token that comes back stays inside the door (and is registered as a secret).

use super::http::ProbeError;
use base64::Engine as _;
use std::path::Path;

/// What the door logs in with.
#[derive(Clone)]
pub enum Credentials {
    /// A service account: its uid and private key (PEM, PKCS#1 or PKCS#8).
    ServiceAccount {
        /// The service account id.
        uid: String,
        /// The private key, PEM.
        key_pem: String,
    },
    /// A user: uid and password.
    User {
        /// The user id.
        uid: String,
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::ServiceAccount { uid, .. } => write!(f, "service account {uid}"),
            Credentials::User { uid, .. } => write!(f, "user {uid}"),
        }
    }
}

impl Credentials {
    /// A service account whose key is in `key_file`.
    pub fn service_account(uid: &str, key_file: &Path) -> Result<Credentials, String> {
        let key_pem = std::fs::read_to_string(key_file).map_err(|e| {
            format!(
                "[auth] private_key_file {}: {e} (the service account's private key, PEM)",
                key_file.display()
            )
        })?;
        // Checked now, so a bad key is bad input, not a failure mid-run.
        der_key(&key_pem)
            .and_then(|d| key_pair(&d))
            .map_err(|e| format!("[auth] private_key_file {}: {e}", key_file.display()))?;
        Ok(Credentials::ServiceAccount {
            uid: uid.to_string(),
            key_pem,
        })
    }

    /// A user whose password is in the environment variable `var`.
    pub fn user(uid: &str, var: &str) -> Result<Credentials, String> {
        let password = std::env::var(var)
            .ok()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| format!("[auth] password_env names {var}, which is not set: export the password of {uid} in it"))?;
        crate::secrets::register(&password);
        Ok(Credentials::User {
            uid: uid.to_string(),
            password,
        })
    }

    /// The login request body.
    pub fn login_body(&self) -> Result<serde_json::Value, ProbeError> {
        match self {
            Credentials::User { uid, password } => {
                Ok(serde_json::json!({"uid": uid, "password": password}))
            }
            Credentials::ServiceAccount { uid, key_pem } => {
                let jwt = login_jwt(uid, key_pem).map_err(ProbeError::Setup)?;
                crate::secrets::register(&jwt);
                Ok(serde_json::json!({"uid": uid, "token": jwt}))
            }
        }
    }
}

fn der_key(pem: &str) -> Result<(bool, Vec<u8>), String> {
    let pkcs1 = pem.contains("BEGIN RSA PRIVATE KEY");
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|e| format!("not a PEM private key ({e})"))?;
    Ok((pkcs1, der))
}

fn key_pair(k: &(bool, Vec<u8>)) -> Result<ring::rsa::KeyPair, String> {
    let r = if k.0 {
        ring::rsa::KeyPair::from_der(&k.1)
    } else {
        ring::rsa::KeyPair::from_pkcs8(&k.1)
    };
    r.map_err(|e| format!("not an RSA private key ({e})"))
}

/// The login JWT of a service account: `{"uid", "exp"}` (five minutes), signed RS256.
fn login_jwt(uid: &str, key_pem: &str) -> Result<String, String> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let kp = key_pair(&der_key(key_pem)?)?;
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + 300;
    let header = b64.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = b64.encode(serde_json::json!({"uid": uid, "exp": exp}).to_string());
    let signing_input = format!("{header}.{claims}");
    let mut sig = vec![0u8; kp.public().modulus_len()];
    kp.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| "cannot sign the login JWT".to_string())?;
    Ok(format!("{signing_input}.{}", b64.encode(sig)))
}
