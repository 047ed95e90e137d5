//! A state as bytes and back, by the same rules for every backend: JSON, a format version
//! this build must know, and an error that says what is wrong and where.

use crate::{FORMAT_VERSION, State, StateError};

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
