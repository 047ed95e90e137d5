//! A state as bytes and back, by the same rules for every backend: JSON, a format version
//! this build must know, and an error that says what is wrong and where; sealed with the
//! workspace's key when it configures encryption ([`crate::crypt`]), so every backend
//! stores the same sealed bytes.

use crate::crypt::{Encryption, OpenError};
use crate::{FORMAT_VERSION, State, StateError};

/// Encodes `state` as [`encode`] does, then seals it when `keys` is given (one line of
/// JSON and a newline).
pub fn encode_with(
    state: &State,
    location: &str,
    keys: Option<&Encryption>,
) -> Result<Vec<u8>, StateError> {
    let plain = encode(state, location)?;
    seal(plain, location, keys)
}

/// Seals `plain` with `keys` (a newline after it); without keys, `plain` as it is.
pub fn seal(
    plain: Vec<u8>,
    location: &str,
    keys: Option<&Encryption>,
) -> Result<Vec<u8>, StateError> {
    let Some(keys) = keys else {
        return Ok(plain);
    };
    let mut sealed = keys
        .seal(&plain)
        .map_err(|reason| StateError::WriteFailed {
            action: "encrypt",
            location: location.to_string(),
            reason,
        })?;
    sealed.push(b'\n');
    Ok(sealed)
}

/// Why stored bytes could not be opened, in a person's words, as a [`StateError`]:
/// E0515 for a missing or wrong key, `damaged` (E0501) for sealed bytes that do not open.
pub fn open_error(
    e: OpenError,
    location: &str,
    damaged: impl FnOnce(String) -> StateError,
) -> StateError {
    let key = |reason: &str| StateError::Key {
        location: location.to_string(),
        reason: reason.to_string(),
    };
    match e {
        OpenError::NoKey => key(
            "it is encrypted, and the workspace configures no key: add `encryption { passphrase = env(\"MCPO_STATE_PASSPHRASE\") }` (or `key_file = \"...\"`) to its `backend` block",
        ),
        OpenError::WrongKey => key(
            "it was encrypted with another passphrase or key than the one configured: set the right one (to change keys, use `mcpoc state rekey`)",
        ),
        OpenError::Damaged(detail) => damaged(detail),
    }
}

/// Opens stored bytes: sealed ones with `keys`, plaintext as it is (with keys, the
/// plaintext is remembered: [`Encryption::read_plaintext`]).
pub fn open<'a>(
    bytes: &'a [u8],
    keys: Option<&Encryption>,
) -> Result<std::borrow::Cow<'a, [u8]>, OpenError> {
    match keys {
        Some(keys) => keys.open(bytes).map(std::borrow::Cow::Owned),
        None => crate::crypt::open_without_key(bytes).map(std::borrow::Cow::Borrowed),
    }
}

/// [`decode`] of bytes that may be sealed: opened with `keys` first. A missing or wrong
/// key is [`StateError::Key`]; sealed bytes that do not open are [`StateError::Corrupt`].
pub fn decode_with(
    bytes: &[u8],
    location: &str,
    history: &str,
    newest: impl FnOnce() -> Option<u64>,
    keys: Option<&Encryption>,
) -> Result<State, StateError> {
    let plain = match open(bytes, keys) {
        Ok(p) => p,
        Err(e) => {
            return Err(open_error(e, location, |detail| StateError::Corrupt {
                location: location.to_string(),
                detail,
                history: history.to_string(),
                newest: newest(),
            }));
        }
    };
    decode(&plain, location, history, newest)
}

/// Encodes `state` as the bytes every backend stores (pretty JSON, a final newline).
pub fn encode(state: &State, location: &str) -> Result<Vec<u8>, StateError> {
    let mut bytes = serde_json::to_vec_pretty(state).map_err(|e| StateError::WriteFailed {
        action: "encode",
        location: location.to_string(),
        reason: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Decodes the bytes of a stored state read from `location`. A state of a newer format is
/// [`StateError::NewerFormat`]; anything else that is not a state is
/// [`StateError::Corrupt`], naming where earlier versions are kept (`history`, and the
/// newest serial there).
pub fn decode(
    bytes: &[u8],
    location: &str,
    history: &str,
    newest: impl FnOnce() -> Option<u64>,
) -> Result<State, StateError> {
    let newer = |found: u64| StateError::NewerFormat {
        location: location.to_string(),
        found,
        supported: FORMAT_VERSION,
    };
    match serde_json::from_slice::<State>(bytes) {
        Ok(state) if u64::from(state.version) <= u64::from(FORMAT_VERSION) => Ok(state),
        Ok(state) => Err(newer(u64::from(state.version))),
        Err(e) => {
            // A newer format may not parse as this one: say so rather than "damaged".
            #[derive(serde::Deserialize)]
            struct Probe {
                version: u64,
            }
            match serde_json::from_slice::<Probe>(bytes) {
                Ok(p) if p.version > u64::from(FORMAT_VERSION) => Err(newer(p.version)),
                _ => Err(StateError::Corrupt {
                    location: location.to_string(),
                    detail: describe_json_error(&e, bytes.is_empty()),
                    history: history.to_string(),
                    newest: newest(),
                }),
            }
        }
    }
}

/// A serde_json error in words, with its position.
fn describe_json_error(e: &serde_json::Error, empty: bool) -> String {
    if empty {
        return "the file is empty".to_string();
    }
    let what = match e.classify() {
        serde_json::error::Category::Eof => "it ends in the middle of the JSON",
        serde_json::error::Category::Syntax => "it is not valid JSON",
        serde_json::error::Category::Data => "it is not a state",
        serde_json::error::Category::Io => "it cannot be read",
    };
    let text = e.to_string();
    let at = format!(" at line {} column {}", e.line(), e.column());
    let text = text.strip_suffix(&at).unwrap_or(&text);
    format!("{what}: {text} (line {}, column {})", e.line(), e.column())
}
