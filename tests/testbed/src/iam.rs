//! The testbed's IAM (`--security permissive|strict`): the credentials `up` writes under
//! `DIR/credentials/`, login (a user's uid and password, or a service account's uid and an RS256
//! JWT signed with its private key, as `POST /acs/api/v1/auth/login` takes them, facts §8.1), the
//! tokens it issues and their expiry.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The superuser `up` creates (the name DC/OS's own test clusters use).
pub const USER_UID: &str = "bootstrapuser";
/// The service account `up` creates.
pub const SERVICE_ACCOUNT_UID: &str = "dcos-sim-service-account";

/// `DIR/credentials`.
pub fn credentials_dir(dir: &Path) -> PathBuf {
    dir.join("credentials")
}

/// `DIR/credentials/user.json`: `{"uid", "password"}`.
pub fn user_file(dir: &Path) -> PathBuf {
    credentials_dir(dir).join("user.json")
}

/// `DIR/credentials/service-account.key`: the service account's RSA private key (PEM).
pub fn service_key_file(dir: &Path) -> PathBuf {
    credentials_dir(dir).join("service-account.key")
}

fn service_pub_file(dir: &Path) -> PathBuf {
    credentials_dir(dir).join("service-account.pub.der")
}

fn openssl(args: &[&str], stdin: Option<&[u8]>) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running openssl (is the openssl package installed?)")?;
    let mut input = child.stdin.take();
    if let (Some(i), Some(data)) = (input.as_mut(), stdin) {
        i.write_all(data)?;
    }
    drop(input);
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.stdout)
}

/// Writes the user and the service account (an RSA key pair) under `DIR/credentials/`.
pub fn write_credentials(dir: &Path, seed: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let cd = credentials_dir(dir);
    std::fs::create_dir_all(&cd)?;
    std::fs::set_permissions(&cd, std::fs::Permissions::from_mode(0o700))?;
    let password = crate::setup::hex_id(&format!("password-{seed}"), 24);
    let user = json!({"uid": USER_UID, "password": password});
    std::fs::write(user_file(dir), format!("{user:#}\n"))?;
    let key = service_key_file(dir);
    let key_s = key.to_string_lossy().to_string();
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &key_s,
        ],
        None,
    )?;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
    let pubf = service_pub_file(dir).to_string_lossy().to_string();
    openssl(
        &[
            "rsa",
            "-in",
            &key_s,
            "-RSAPublicKey_out",
            "-outform",
            "DER",
            "-out",
            &pubf,
        ],
        None,
    )?;
    Ok(())
}

/// Base64url without padding (JWT's encoding).
pub fn b64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | *b as u32) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes base64url (with or without padding); `None` for anything else.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' | b'+' => Some(62),
        b'_' | b'/' => Some(63),
        _ => None,
    };
    let bytes = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= (val(*c)? as u32) << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// The login JWT of a service account: `{"uid", "exp"}` signed RS256 with `key_file` (what a
/// client posts as `{"uid", "token"}` to `/acs/api/v1/auth/login`). Made with `openssl`.
pub fn service_login_jwt(key_file: &Path, uid: &str) -> Result<String> {
    let head = b64url(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = json!({"uid": uid, "exp": unix_now() + 300});
    let signed = format!("{head}.{}", b64url(claims.to_string().as_bytes()));
    let key = key_file.to_string_lossy().to_string();
    let sig = openssl(&["dgst", "-sha256", "-sign", &key], Some(signed.as_bytes()))?;
    Ok(format!("{signed}.{}", b64url(&sig)))
}

/// Verifies an RS256 signature with a PKCS#1 RSA public key (rustls's ring provider).
fn rs256_ok(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let provider = rustls::crypto::ring::default_provider();
    provider
        .signature_verification_algorithms
        .mapping
        .iter()
        .find(|(scheme, _)| *scheme == rustls::SignatureScheme::RSA_PKCS1_SHA256)
        .and_then(|(_, algs)| algs.first())
        .is_some_and(|alg| alg.verify_signature(public_key, message, signature).is_ok())
}

/// Users, service accounts and issued tokens.
#[derive(Default)]
pub struct Iam {
    users: HashMap<String, String>,
    accounts: HashMap<String, Vec<u8>>,
    tokens: HashMap<String, (String, Instant)>,
    ttl: Duration,
    issued: u64,
}

impl Iam {
    /// Reads the credentials `up` wrote (an empty IAM when there are none: security disabled).
    pub fn load(dir: &Path, ttl: Duration) -> Result<Iam> {
        let mut iam = Iam {
            ttl,
            ..Iam::default()
        };
        let Ok(text) = std::fs::read_to_string(user_file(dir)) else {
            return Ok(iam);
        };
        let user: Value = serde_json::from_str(&text)?;
        let field = |k: &str| user[k].as_str().map(str::to_string);
        let (uid, pw) = field("uid")
            .zip(field("password"))
            .ok_or_else(|| anyhow!("bad user.json"))?;
        iam.users.insert(uid, pw);
        let public = std::fs::read(service_pub_file(dir))?;
        iam.accounts.insert(SERVICE_ACCOUNT_UID.into(), public);
        Ok(iam)
    }

    /// Issues a token for `uid` that expires after the TTL.
    pub fn issue(&mut self, uid: &str) -> String {
        self.issued += 1;
        let exp = unix_now() + self.ttl.as_secs();
        let head = b64url(br#"{"alg":"RS256","typ":"JWT","kid":"dcos-sim"}"#);
        let claims = b64url(json!({"uid": uid, "exp": exp}).to_string().as_bytes());
        let nonce = crate::setup::hex_id(
            &format!("{uid}-{exp}-{}-{:?}", self.issued, Instant::now()),
            32,
        );
        let token = format!("{head}.{claims}.{}", b64url(nonce.as_bytes()));
        self.tokens
            .insert(token.clone(), (uid.to_string(), Instant::now() + self.ttl));
        token
    }

    /// Invalidates every issued token (as an OSS 1.12 → 1.13 upgrade does, facts §8.1); returns
    /// how many there were.
    pub fn revoke_all(&mut self) -> usize {
        let n = self.tokens.len();
        self.tokens.clear();
        n
    }

    /// Whether `token` was issued here and has not expired.
    pub fn valid(&self, token: &str) -> bool {
        self.tokens
            .get(token)
            .is_some_and(|(_, until)| Instant::now() < *until)
    }

    /// `POST /acs/api/v1/auth/login`: a token, or why not.
    pub fn login(&mut self, body: &str) -> std::result::Result<String, String> {
        let v: Value =
            serde_json::from_str(body).map_err(|_| "the body is not JSON".to_string())?;
        let uid = v["uid"].as_str().ok_or("no uid")?.to_string();
        if let Some(pw) = v["password"].as_str() {
            return match self.users.get(&uid) {
                Some(p) if p == pw => Ok(self.issue(&uid)),
                _ => Err("wrong uid or password".into()),
            };
        }
        let jwt = v["token"]
            .as_str()
            .ok_or("neither a password nor a token")?;
        let key = self.accounts.get(&uid).ok_or("no such service account")?;
        let parts: Vec<&str> = jwt.split('.').collect();
        let [head, claims, sig] = parts[..] else {
            return Err("the login token is not a JWT".into());
        };
        let decode = |p: &str| b64url_decode(p).ok_or_else(|| "bad base64url".to_string());
        let header: Value = serde_json::from_slice(&decode(head)?).map_err(|_| "bad JWT header")?;
        let claims_v: Value =
            serde_json::from_slice(&decode(claims)?).map_err(|_| "bad JWT claims")?;
        if header["alg"] != "RS256" {
            return Err("the login token must be RS256".into());
        }
        if claims_v["uid"] != uid.as_str() {
            return Err("the login token is for another uid".into());
        }
        if claims_v["exp"].as_u64().is_some_and(|e| e < unix_now()) {
            return Err("the login token has expired".into());
        }
        if !rs256_ok(key, format!("{head}.{claims}").as_bytes(), &decode(sig)?) {
            return Err("the login token's signature does not verify".into());
        }
        Ok(self.issue(&uid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips() {
        for s in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            b"fooba",
            b"foobar",
            &[0xff, 0xfe, 0x00],
        ] {
            assert_eq!(b64url_decode(&b64url(s)).as_deref(), Some(s));
        }
        assert_eq!(b64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(b64url_decode("a"), None);
    }
}
