//! Encryption at rest: a state's bytes (and a saved plan's) sealed with AES-256-GCM under
//! a key the workspace configures (`backend "..." { encryption { passphrase = ... } }` or
//! `key_file = ...`), before any backend stores them.
//!
//! A sealed version is one line of JSON, so it fits a file, a database column and a line
//! of the local journal alike:
//!
//! ```text
//! {"mcpo_encrypted":1,"cipher":"AES-256-GCM","kdf":"argon2id","m":19456,"t":2,"p":1,
//!  "salt":"…","key_id":"…","nonce":"…","data":"…"}
//! ```
//!
//! - **Keys.** A key file holds the 32-byte key itself (raw, or as base64 or hex text). A
//!   passphrase is stretched with Argon2id (19 MiB, two passes: OWASP's recommendation)
//!   and a random 16-byte salt kept in the envelope. A process derives a key once per salt
//!   and keeps writing with the salt of what it read, so a run of many writes pays for
//!   Argon2 once or twice, not per write.
//! - **Nonces** are 12 random bytes from the operating system, fresh for every seal.
//! - **`key_id`** is a short hash of the key under a domain-separating prefix. It says
//!   "wrong key" apart from "damaged file": an envelope whose `key_id` is not the
//!   configured key's was sealed with another key (E0515); one whose `key_id` matches but
//!   does not open was altered (E0501). It reveals nothing usable about the key.
//! - **Plaintext** (a state written before encryption was configured) is still read, once:
//!   [`Encryption::read_plaintext`] tells the caller to say so, and the next write seals.
//!
//! The crypto is RustCrypto's (`aes-gcm`, `argon2`); nothing here is hand-rolled beyond
//! putting their outputs in an envelope.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The first bytes of every sealed version (how a reader tells it from plaintext JSON).
const MAGIC: &[u8] = b"{\"mcpo_encrypted\":1";

/// Argon2id's parameters for passphrases: memory in KiB, passes, lanes.
const ARGON2_M: u32 = 19_456;
const ARGON2_T: u32 = 2;
const ARGON2_P: u32 = 1;

/// The secret a state is sealed with, as configured. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// A passphrase, stretched with Argon2id.
    Passphrase(String),
    /// A 32-byte key (from a key file).
    Key([u8; 32]),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Passphrase(_) => f.write_str("Secret::Passphrase(..)"),
            Secret::Key(_) => f.write_str("Secret::Key(..)"),
        }
    }
}

impl Secret {
    /// The key in a key file's bytes: exactly 32 bytes, or their base64 or hex text
    /// (surrounding whitespace ignored). The error says what was found, never the bytes.
    pub fn from_key_file(bytes: &[u8]) -> Result<Secret, String> {
        if let Ok(key) = <[u8; 32]>::try_from(bytes) {
            return Ok(Secret::Key(key));
        }
        let text = std::str::from_utf8(bytes).unwrap_or_default().trim();
        let decoded = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| {
                    text.get(2 * i..2 * i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                })
                .collect::<Option<Vec<u8>>>()
        } else {
            B64.decode(text).ok()
        };
        decoded
            .and_then(|d| <[u8; 32]>::try_from(d.as_slice()).ok())
            .map(Secret::Key)
            .ok_or_else(|| {
                format!(
                    "a key file holds a 32-byte key: 32 raw bytes, or 44 characters of base64 or 64 of hex (`openssl rand -base64 32`); this one holds {} bytes",
                    bytes.len()
                )
            })
    }
}

/// How a sealed version's key was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kdf {
    /// The key itself (a key file).
    KeyFile,
    /// Argon2id over a passphrase.
    Argon2id,
}

/// A sealed version, as stored.
#[derive(Serialize, Deserialize)]
struct Envelope {
    mcpo_encrypted: u32,
    cipher: String,
    kdf: Kdf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    salt: Option<String>,
    key_id: String,
    nonce: String,
    data: String,
}

/// Why bytes could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// They are sealed and no key is configured.
    NoKey,
    /// They were sealed with another key (or passphrase) than every one configured.
    WrongKey,
    /// The key is right but they do not open: altered or damaged. The detail says how.
    Damaged(String),
}

/// A derived key: the salt and parameters it was made with, and the key.
struct Derived {
    salt: Vec<u8>,
    m: u32,
    t: u32,
    p: u32,
    key: [u8; 32],
}

/// One secret with the keys derived from it so far.
struct Keyed {
    secret: Secret,
    derived: Mutex<Vec<Derived>>,
}

impl Keyed {
    fn new(secret: Secret) -> Keyed {
        Keyed {
            secret,
            derived: Mutex::new(Vec::new()),
        }
    }

    /// The key for `salt` and parameters (derived once, then remembered).
    fn key(&self, salt: &[u8], m: u32, t: u32, p: u32) -> Result<[u8; 32], String> {
        let passphrase = match &self.secret {
            Secret::Key(key) => return Ok(*key),
            Secret::Passphrase(p) => p,
        };
        let mut derived = self.derived.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = derived
            .iter()
            .find(|d| d.salt == salt && (d.m, d.t, d.p) == (m, t, p))
        {
            return Ok(d.key);
        }
        let params = argon2::Params::new(m, t, p, Some(32)).map_err(|e| e.to_string())?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = [0u8; 32];
        argon
            .hash_password_into(passphrase.as_bytes(), salt, &mut key)
            .map_err(|e| e.to_string())?;
        derived.push(Derived {
            salt: salt.to_vec(),
            m,
            t,
            p,
            key,
        });
        Ok(key)
    }

    fn kdf(&self) -> Kdf {
        match self.secret {
            Secret::Key(_) => Kdf::KeyFile,
            Secret::Passphrase(_) => Kdf::Argon2id,
        }
    }
}

/// The id of `key` as stored in envelopes: 8 bytes of SHA-256 over a fixed prefix and the
/// key, in hex.
fn key_id(key: &[u8; 32]) -> String {
    let mut h = sha2::Sha256::new();
    h.update(b"mcpo state key id v1\0");
    h.update(key);
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| format!("no randomness from the system: {e}"))?;
    Ok(out)
}

/// The keys a workspace's state is sealed and opened with: the configured one seals and
/// opens; older ones (during `mcpoc state rekey`) only open.
pub struct Encryption {
    current: Keyed,
    older: Vec<Keyed>,
    /// The salt new envelopes use (a passphrase): the one last opened, else a fresh one.
    salt: Mutex<Option<[u8; 16]>>,
    read_plaintext: AtomicBool,
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryption")
            .field("current", &self.current.secret)
            .field("older", &self.older.len())
            .finish_non_exhaustive()
    }
}

impl Encryption {
    /// Seals with `secret` and opens what it sealed.
    pub fn new(secret: Secret) -> Encryption {
        Encryption {
            current: Keyed::new(secret),
            older: Vec::new(),
            salt: Mutex::new(None),
            read_plaintext: AtomicBool::new(false),
        }
    }

    /// Also opens what `older` sealed (never seals with it): the key being replaced.
    pub fn also_opening(mut self, older: Secret) -> Encryption {
        self.older.push(Keyed::new(older));
        self
    }

    /// Whether plaintext was read since this was made (a state from before encryption was
    /// configured: the next write seals it).
    pub fn read_plaintext(&self) -> bool {
        self.read_plaintext.load(Ordering::SeqCst)
    }

    /// Whether `bytes` are sealed.
    pub fn is_sealed(bytes: &[u8]) -> bool {
        bytes.starts_with(MAGIC)
    }

    /// Seals `plain` as one line of JSON (no newline).
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, String> {
        let kdf = self.current.kdf();
        let (salt, m, t, p) = match kdf {
            Kdf::KeyFile => (None, None, None, None),
            Kdf::Argon2id => {
                let mut salt = self.salt.lock().unwrap_or_else(|p| p.into_inner());
                let s = match *salt {
                    Some(s) => s,
                    None => {
                        let s = random::<16>()?;
                        *salt = Some(s);
                        s
                    }
                };
                (Some(s), Some(ARGON2_M), Some(ARGON2_T), Some(ARGON2_P))
            }
        };
        let key = self.current.key(
            salt.as_ref().map_or(&[][..], |s| &s[..]),
            ARGON2_M,
            ARGON2_T,
            ARGON2_P,
        )?;
        let nonce = random::<12>()?;
        let cipher = Aes256Gcm::new_from_slice(&key).map_err(|e| e.to_string())?;
        let data = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: MAGIC,
                },
            )
            .map_err(|e| format!("cannot encrypt: {e}"))?;
        let envelope = Envelope {
            mcpo_encrypted: 1,
            cipher: "AES-256-GCM".into(),
            kdf,
            m,
            t,
            p,
            salt: salt.map(|s| B64.encode(s)),
            key_id: key_id(&key),
            nonce: B64.encode(nonce),
            data: B64.encode(data),
        };
        serde_json::to_vec(&envelope).map_err(|e| e.to_string())
    }

    /// Opens `bytes`: sealed ones with a configured key, plaintext as it is (remembered:
    /// [`Encryption::read_plaintext`]).
    pub fn open(&self, bytes: &[u8]) -> Result<Vec<u8>, OpenError> {
        if !Encryption::is_sealed(bytes) {
            self.read_plaintext.store(true, Ordering::SeqCst);
            return Ok(bytes.to_vec());
        }
        let (envelope, nonce, data, salt) = parse(bytes)?;
        let (m, t, p) = (
            envelope.m.unwrap_or(ARGON2_M),
            envelope.t.unwrap_or(ARGON2_T),
            envelope.p.unwrap_or(ARGON2_P),
        );
        for (i, keyed) in std::iter::once(&self.current)
            .chain(&self.older)
            .enumerate()
        {
            if keyed.kdf() != envelope.kdf {
                continue;
            }
            let key = keyed.key(&salt, m, t, p).map_err(OpenError::Damaged)?;
            if key_id(&key) != envelope.key_id {
                continue;
            }
            let cipher =
                Aes256Gcm::new_from_slice(&key).map_err(|e| OpenError::Damaged(e.to_string()))?;
            let plain = cipher
                .decrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: &data,
                        aad: MAGIC,
                    },
                )
                .map_err(|_| {
                    OpenError::Damaged(
                        "it was sealed with this key but does not open: it was altered or damaged"
                            .into(),
                    )
                })?;
            if i == 0
                && envelope.kdf == Kdf::Argon2id
                && let Ok(s) = <[u8; 16]>::try_from(salt.as_slice())
            {
                // Keep sealing with this salt: the key is derived already.
                self.salt
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(s);
            }
            return Ok(plain);
        }
        Err(OpenError::WrongKey)
    }
}

/// Opens `bytes` with no key configured: plaintext passes, sealed is [`OpenError::NoKey`].
pub fn open_without_key(bytes: &[u8]) -> Result<&[u8], OpenError> {
    if Encryption::is_sealed(bytes) {
        return Err(OpenError::NoKey);
    }
    Ok(bytes)
}

type Parsed = (Envelope, Vec<u8>, Vec<u8>, Vec<u8>);

fn parse(bytes: &[u8]) -> Result<Parsed, OpenError> {
    let damaged = |what: &str| OpenError::Damaged(format!("its encryption envelope {what}"));
    let envelope: Envelope =
        serde_json::from_slice(bytes).map_err(|e| damaged(&format!("is not readable: {e}")))?;
    if envelope.mcpo_encrypted != 1 || envelope.cipher != "AES-256-GCM" {
        return Err(damaged("names a format or cipher this mcpoc does not know"));
    }
    let nonce = B64
        .decode(&envelope.nonce)
        .ok()
        .filter(|n| n.len() == 12)
        .ok_or_else(|| damaged("has no 12-byte nonce"))?;
    let data = B64
        .decode(&envelope.data)
        .map_err(|_| damaged("holds data that is not base64"))?;
    let salt = match &envelope.salt {
        Some(s) => B64
            .decode(s)
            .map_err(|_| damaged("has a salt that is not base64"))?,
        None => Vec::new(),
    };
    if envelope.kdf == Kdf::Argon2id && salt.len() < 8 {
        return Err(damaged("has no salt for its passphrase"));
    }
    Ok((envelope, nonce, data, salt))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Secret {
        Secret::Key([n; 32])
    }

    #[test]
    fn sealed_bytes_open_with_their_key_only() {
        let e = Encryption::new(key(1));
        let sealed = e.seal(b"{\"secret\":\"hunter2\"}").expect("seal");
        assert!(Encryption::is_sealed(&sealed));
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(e.open(&sealed).expect("open"), b"{\"secret\":\"hunter2\"}");
        assert_eq!(
            Encryption::new(key(2)).open(&sealed),
            Err(OpenError::WrongKey)
        );
        assert_eq!(open_without_key(&sealed), Err(OpenError::NoKey));
        // An older key opens what it sealed; the current one seals.
        let rekeyed = Encryption::new(key(2)).also_opening(key(1));
        assert!(rekeyed.open(&sealed).is_ok());
        let again = rekeyed.seal(b"x").expect("seal");
        assert_eq!(
            Encryption::new(key(1)).open(&again),
            Err(OpenError::WrongKey)
        );
    }

    #[test]
    fn an_altered_envelope_is_damaged_not_a_wrong_key() {
        let e = Encryption::new(key(1));
        let sealed = e.seal(b"{}").expect("seal");
        let v: serde_json::Value = serde_json::from_slice(&sealed).expect("json");
        let data = v
            .get("data")
            .and_then(|d| d.as_str())
            .expect("data")
            .to_string();
        let mut flipped = B64.decode(&data).expect("b64");
        if let Some(b) = flipped.first_mut() {
            *b ^= 1;
        }
        // The envelope stays as written, only its data changes.
        let altered = String::from_utf8(sealed.clone())
            .expect("text")
            .replace(&data, &B64.encode(flipped))
            .into_bytes();
        assert!(Encryption::is_sealed(&altered));
        assert!(matches!(e.open(&altered), Err(OpenError::Damaged(_))));
    }

    #[test]
    fn plaintext_is_read_and_remembered() {
        let e = Encryption::new(key(1));
        assert!(!e.read_plaintext());
        assert_eq!(
            e.open(b"{\"version\":1}").expect("plain"),
            b"{\"version\":1}"
        );
        assert!(e.read_plaintext());
    }

    #[test]
    fn a_passphrase_derives_once_per_salt_and_a_wrong_one_is_refused() {
        let e = Encryption::new(Secret::Passphrase("correct horse".into()));
        let a = e.seal(b"a").expect("seal");
        let b = e.seal(b"b").expect("seal");
        let salt = |x: &[u8]| {
            serde_json::from_slice::<serde_json::Value>(x)
                .expect("json")
                .get("salt")
                .cloned()
        };
        assert_eq!(salt(&a), salt(&b), "one salt per process");
        let other = Encryption::new(Secret::Passphrase("correct horse".into()));
        assert_eq!(other.open(&b).expect("open"), b"b");
        let wrong = Encryption::new(Secret::Passphrase("battery staple".into()));
        assert_eq!(wrong.open(&a), Err(OpenError::WrongKey));
    }

    #[test]
    fn key_files_hold_32_bytes_raw_base64_or_hex() {
        let raw = [7u8; 32];
        assert_eq!(Secret::from_key_file(&raw), Ok(Secret::Key(raw)));
        let b64 = format!("{}\n", B64.encode(raw));
        assert_eq!(Secret::from_key_file(b64.as_bytes()), Ok(Secret::Key(raw)));
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(Secret::from_key_file(hex.as_bytes()), Ok(Secret::Key(raw)));
        let short = Secret::from_key_file(b"too short").expect_err("short");
        assert!(short.contains("holds 9 bytes"), "{short}");
    }
}
