//! PVE authentication: API tokens and password tickets.
//!
//! The exporter supports both: a token header on every call, or `POST /access/ticket` once and
//! then the `PVEAuthCookie` cookie, cached and renewed. The simulator checks both against the
//! configured [`Credentials`] and answers with PVE's 401 reason phrases, so that tests can
//! observe logins (count `/access/ticket` calls), expired tickets ([`Tickets::revoke_all`]) and
//! bad secrets.

use std::collections::HashSet;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE};

use super::model::EPOCH;
use crate::rng::hash;

/// The user and secrets the simulator accepts.
///
/// Debug hides the secrets, as every Portkey type holding credentials does.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `user@realm`.
    pub user: String,
    /// API token id (the part after `!`).
    pub token_name: String,
    /// API token secret.
    pub token_value: String,
    /// Password for ticket logins.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("token_name", &self.token_name)
            .finish_non_exhaustive()
    }
}

impl Default for Credentials {
    /// The demo credentials: `demo@pve`, token `portkey` = `demo-token-value`, password
    /// `demo-password`.
    fn default() -> Self {
        Credentials {
            user: "demo@pve".into(),
            token_name: "portkey".into(),
            token_value: "demo-token-value".into(),
            password: "demo-password".into(),
        }
    }
}

impl Credentials {
    /// The `Authorization` header value a client must send for token auth.
    pub fn token_header(&self) -> String {
        format!(
            "PVEAPIToken={}!{}={}",
            self.user, self.token_name, self.token_value
        )
    }
}

/// Tickets issued by `POST /access/ticket` and still valid.
#[derive(Debug, Default)]
pub struct Tickets {
    valid: Mutex<HashSet<String>>,
    issued: AtomicU64,
}

/// A successful login.
#[derive(Debug)]
pub struct Login {
    /// The `PVEAuthCookie` value.
    pub ticket: String,
    /// The `CSRFPreventionToken` (needed by PVE for writes only).
    pub csrf: String,
}

/// A base64-looking string (PVE signatures are base64) made from hashes.
fn signature(seed: u64, n: u64, len: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x = hash(&[seed, n]);
    (0..len)
        .map(|i| {
            if i % 10 == 0 {
                x = hash(&[x, i as u64]);
            }
            let c = ALPHABET[(x & 63) as usize];
            x >>= 6;
            char::from(c)
        })
        .collect()
}

impl Tickets {
    /// Issues a new ticket for `user`.
    pub fn issue(&self, user: &str, seed: u64) -> Login {
        let n = self.issued.fetch_add(1, Ordering::Relaxed) + 1;
        let time = EPOCH + n;
        let ticket = format!("PVE:{user}:{time:08X}::{}", signature(seed, n, 342));
        let csrf = format!("{time:08X}:{}", signature(seed ^ 0xC5, n, 43));
        self.lock().insert(ticket.clone());
        Login { ticket, csrf }
    }

    /// Number of tickets issued so far.
    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::Relaxed)
    }

    /// Invalidates every ticket (as if they had all expired).
    pub fn revoke_all(&self) {
        self.lock().clear();
    }

    fn valid(&self, ticket: &str) -> bool {
        self.lock().contains(ticket)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.valid
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Decodes `%XX` escapes (cookie values may be URL-encoded: `PVE%3Auser%40pve%3A...`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

fn cookie_ticket(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "PVEAuthCookie")
        .map(|(_, value)| percent_decode(value.trim_matches('"')))
}

/// Checks a request's credentials; `Err` carries the 401 reason phrase.
pub fn check(
    headers: &HeaderMap,
    credentials: &Credentials,
    tickets: &Tickets,
) -> Result<(), String> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Some(token) = value.trim().strip_prefix("PVEAPIToken=")
    {
        let Some((user, rest)) = token.split_once('!') else {
            return Err("invalid token".into());
        };
        let Some((token_name, secret)) = rest.split_once('=') else {
            return Err("invalid token".into());
        };
        if user != credentials.user || token_name != credentials.token_name {
            return Err(format!("no such token '{token_name}' for user '{user}'"));
        }
        if secret != credentials.token_value {
            return Err("invalid token value!".into());
        }
        return Ok(());
    }
    match cookie_ticket(headers) {
        None => Err("No ticket".into()),
        Some(ticket) if tickets.valid(&ticket) => Ok(()),
        Some(_) => Err("invalid PVE ticket".into()),
    }
}

/// Checks a login; `Err` carries the 401 reason phrase.
pub fn login(
    username: &str,
    password: &str,
    realm: Option<&str>,
    credentials: &Credentials,
) -> Result<String, String> {
    let user = match (username.contains('@'), realm) {
        (false, Some(realm)) => format!("{username}@{realm}"),
        _ => username.to_owned(),
    };
    if user == credentials.user && password == credentials.password {
        Ok(user)
    } else {
        Err("authentication failure".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn token_and_ticket_checks() {
        let creds = Credentials::default();
        let tickets = Tickets::default();
        let mut headers = HeaderMap::new();
        assert_eq!(check(&headers, &creds, &tickets), Err("No ticket".into()));
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&creds.token_header()).unwrap(),
        );
        assert_eq!(check(&headers, &creds, &tickets), Ok(()));
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_static("PVEAPIToken=demo@pve!portkey=wrong"),
        );
        assert_eq!(
            check(&headers, &creds, &tickets),
            Err("invalid token value!".into())
        );
        let login = tickets.issue("demo@pve", 1);
        let mut headers = HeaderMap::new();
        let encoded = login.ticket.replace(':', "%3A").replace('@', "%40");
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("other=1; PVEAuthCookie={encoded}")).unwrap(),
        );
        assert_eq!(check(&headers, &creds, &tickets), Ok(()));
        tickets.revoke_all();
        assert_eq!(
            check(&headers, &creds, &tickets),
            Err("invalid PVE ticket".into())
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%3Ab%40c"), "a:b@c");
        assert_eq!(percent_decode("50%"), "50%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
