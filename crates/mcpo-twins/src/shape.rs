//! What the twins publish about the shape of a value, beside the checks that enforce it:
//! closed sets as JSON Schema `enum`, addresses as `format: "ipv4"`, CIDR blocks, port
//! ranges and names as `pattern`. A client that reads the schema (`mcpoc check`) then
//! rejects at compile time what the twin would reject at apply.
//!
//! The helpers are schemars transforms, used as `#[schemars(transform = enum_of(SET))]`
//! with the same constant the twin's check passes to [`crate::check::one_of`], so the
//! published set and the enforced set cannot drift apart.

use schemars::Schema;
use serde_json::Value;

/// An IPv4 address, dotted quad, each octet 0-255 without leading zeros (unanchored).
macro_rules! ipv4 {
    () => {
        r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}"
    };
}

/// A TCP/UDP port, 1 to 65535, without leading zeros (unanchored).
macro_rules! port {
    () => {
        r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
    };
}

/// An IPv4 address.
pub(crate) const IPV4_PATTERN: &str = concat!("^", ipv4!(), "$");

/// `a.b.c.d/n` with a prefix length of 0 to 32.
pub(crate) const CIDR_PATTERN: &str = concat!("^", ipv4!(), r"/(3[0-2]|[12]?[0-9])$");

/// `a.b.c.d/n` with a prefix length of 16 to 28, the sizes AWS accepts for VPCs and subnets.
pub(crate) const AWS_CIDR_PATTERN: &str = concat!("^", ipv4!(), r"/(1[6-9]|2[0-8])$");

/// `any`, an IPv4 address, or an IPv4 CIDR block (firewall rule sources and destinations).
/// `any`, an IPv4 address, a CIDR block, or the name of an alias (a letter, then letters,
/// digits or `_`, at most 32 characters).
pub(crate) const ADDRESS_ALIAS_OR_ANY_PATTERN: &str = concat!(
    "^(any|",
    ipv4!(),
    r"(/(3[0-2]|[12]?[0-9]))?|[A-Za-z][A-Za-z0-9_]{0,31})$"
);

/// A port (`443`) or an inclusive range (`8000-8080`) of ports 1 to 65535.
pub(crate) const PORT_RANGE_PATTERN: &str = concat!("^", port!(), "(-", port!(), ")?$");

/// A lower-case RFC 1123 label (Kubernetes names): alphanumerics and `-`, starting and
/// ending alphanumeric (the length, at most 63, is `maxLength`).
pub(crate) const DNS_LABEL_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// A lower-case RFC 1123 subdomain (Kubernetes object names): labels joined by `.`.
pub(crate) const DNS_SUBDOMAIN_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// Publishes `values` as the field's `enum` (plus `null` when the field is nullable, so an
/// absent optional value stays valid).
pub(crate) fn enum_of(values: &'static [&'static str]) -> impl FnMut(&mut Schema) {
    move |schema: &mut Schema| {
        let mut set: Vec<Value> = values.iter().map(|v| Value::from(*v)).collect();
        if nullable(schema) {
            set.push(Value::Null);
        }
        schema.insert("enum".into(), Value::Array(set));
    }
}

/// Publishes `pattern` (an ECMA-262 regular expression, anchored) for a string field.
pub(crate) fn pattern(pattern: &'static str) -> impl FnMut(&mut Schema) {
    move |schema: &mut Schema| {
        schema.insert("pattern".into(), Value::from(pattern));
    }
}

/// Publishes `format: "ipv4"` and the matching `pattern` for an IPv4 address field
/// (`format` is only an annotation for most validators; the pattern is enforced).
pub(crate) fn ipv4(schema: &mut Schema) {
    schema.insert("format".into(), Value::from("ipv4"));
    schema.insert("pattern".into(), Value::from(IPV4_PATTERN));
}

/// Publishes `pattern` on the items of an array of strings (`cidr_blocks`).
pub(crate) fn items_pattern(pattern: &'static str) -> impl FnMut(&mut Schema) {
    move |schema: &mut Schema| {
        if let Some(Value::Object(items)) = schema.get_mut("items") {
            items.insert("pattern".into(), Value::from(pattern));
        }
    }
}

/// Publishes the port range 1-65535 on an integer field (`minimum`/`maximum`).
pub(crate) fn port_number(schema: &mut Schema) {
    schema.insert("minimum".into(), Value::from(1));
    schema.insert("maximum".into(), Value::from(65535));
}

fn nullable(schema: &Schema) -> bool {
    match schema.get("type") {
        Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
        Some(Value::String(t)) => t == "null",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{Cidr, parse_ip};
    use regex::Regex;

    fn re(p: &str) -> Regex {
        match Regex::new(p) {
            Ok(r) => r,
            Err(e) => panic!("pattern {p} does not compile: {e}"),
        }
    }

    #[test]
    fn cidr_pattern_accepts_what_the_twins_accept() {
        let cidr = re(CIDR_PATTERN);
        for text in [
            "10.0.0.0/16",
            "0.0.0.0/0",
            "192.168.1.0/24",
            "255.255.255.255/32",
            "10.0.0.0/8",
        ] {
            assert!(Cidr::parse(text).is_ok(), "{text}");
            assert!(cidr.is_match(text), "{text} should match");
        }
        for text in [
            "10.0.0.0/33",
            "10.0.0/16",
            "10.0.0.0",
            "256.0.0.0/8",
            "10.0.0.0/16 ",
            "a.b.c.d/8",
            "01.0.0.0/8",
        ] {
            assert!(!cidr.is_match(text), "{text} should not match");
        }
        let aws = re(AWS_CIDR_PATTERN);
        assert!(aws.is_match("10.0.0.0/16") && aws.is_match("10.0.1.0/28"));
        assert!(!aws.is_match("10.0.0.0/8") && !aws.is_match("10.0.0.0/29"));
    }

    #[test]
    fn ipv4_pattern_agrees_with_the_parser() {
        let ip = re(IPV4_PATTERN);
        for text in [
            "0.0.0.0",
            "10.0.0.1",
            "255.255.255.255",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "-1.2.3.4",
            " 1.2.3.4",
        ] {
            assert_eq!(
                ip.is_match(text),
                parse_ip("address", text).is_ok(),
                "{text}"
            );
        }
        let any = re(ADDRESS_ALIAS_OR_ANY_PATTERN);
        assert!(any.is_match("any") && any.is_match("10.0.0.1") && any.is_match("10.0.0.0/8"));
        assert!(any.is_match("payment_hosts") && !any.is_match("1hosts"));
        assert!(!any.is_match("10.0.0.0/40") && !any.is_match("host name"));
    }

    #[test]
    fn port_patterns_cover_exactly_1_to_65535() {
        let one = re(concat!("^", port!(), "$"));
        for n in 0..=70_000u32 {
            assert_eq!(
                one.is_match(&n.to_string()),
                (1..=65535).contains(&n),
                "{n}"
            );
        }
        let range = re(PORT_RANGE_PATTERN);
        assert!(range.is_match("443") && range.is_match("8000-8080"));
        assert!(!range.is_match("0") && !range.is_match("80-") && !range.is_match("1-65536"));
    }

    #[test]
    fn dns_label_pattern_agrees_with_the_check() {
        let label = re(DNS_LABEL_PATTERN);
        for text in ["web", "web-1", "a", "Web", "-web", "web-", "web_1", "1web"] {
            assert_eq!(
                label.is_match(text),
                crate::check::dns_label("name", text).is_ok(),
                "{text}"
            );
        }
    }

    #[test]
    fn enums_of_nullable_fields_keep_null() {
        let mut schema = Schema::default();
        schema.insert("type".into(), serde_json::json!(["string", "null"]));
        enum_of(&["a", "b"])(&mut schema);
        assert_eq!(
            schema.get("enum"),
            Some(&serde_json::json!(["a", "b", null]))
        );
    }
}
