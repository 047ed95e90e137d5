//! Small validation helpers shared by the twins; each returns a message for a person.

/// `value` must be one of `allowed`.
pub(crate) fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{field} \"{value}\" is not valid; use one of: {}",
            allowed.join(", ")
        ))
    }
}

/// `value` must lie in `lo..=hi`.
pub(crate) fn in_range(field: &str, value: i64, lo: i64, hi: i64) -> Result<(), String> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{field} {value} is out of range: it must be between {lo} and {hi}"
        ))
    }
}

/// A Kubernetes/DNS-1123 label: lower-case alphanumerics and `-`, 1-63 characters,
/// starting and ending alphanumeric.
pub(crate) fn dns_label(field: &str, value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{field} \"{value}\" is invalid: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', start and end with an alphanumeric character, and be at most 63 characters"
        ))
    }
}

/// A DNS name such as `www.example.com` (optionally with a leading `*.` wildcard).
pub(crate) fn domain_name(field: &str, value: &str) -> Result<(), String> {
    let name = value
        .strip_prefix("*.")
        .unwrap_or(value)
        .trim_end_matches('.');
    let ok = name.len() <= 253
        && name.contains('.')
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{field} \"{value}\" is not a valid domain name (e.g. www.example.com)"
        ))
    }
}

/// A simple identifier: letters, digits, `_`, `-`, `.`, 1-`max` characters.
pub(crate) fn identifier(field: &str, value: &str, max: usize) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{field} \"{value}\" is invalid: use 1 to {max} letters, digits, '_', '-' or '.'"
        ))
    }
}

/// A TCP/UDP port.
pub(crate) fn port(field: &str, value: i64) -> Result<(), String> {
    in_range(field, value, 1, 65535)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_field_and_the_rule() {
        let e = in_range("tag", 5000, 1, 4094).err().unwrap_or_default();
        assert_eq!(e, "tag 5000 is out of range: it must be between 1 and 4094");
        assert!(dns_label("name", "Web").is_err());
        assert!(dns_label("name", "web-1").is_ok());
        assert!(domain_name("domain", "*.example.com").is_ok());
        assert!(domain_name("domain", "example").is_err());
        assert!(one_of("action", "allow", &["pass", "block"]).is_err());
    }
}
