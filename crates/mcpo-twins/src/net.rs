//! IPv4 address and CIDR arithmetic for the twins' validations and IP allocation.

use std::fmt;
use std::net::Ipv4Addr;

/// An IPv4 network in CIDR notation, always aligned to its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    base: u32,
    prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, rejecting host bits set below the prefix the way cloud APIs do.
    pub(crate) fn parse(text: &str) -> Result<Cidr, String> {
        let Some((addr, prefix)) = text.split_once('/') else {
            return Err(format!(
                "\"{text}\" is not a CIDR block: expected an address and a prefix length such as 10.0.0.0/16"
            ));
        };
        let ip: Ipv4Addr = addr.parse().map_err(|_| {
            format!("\"{text}\" is not a CIDR block: \"{addr}\" is not an IPv4 address")
        })?;
        let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32).ok_or_else(|| {
            format!("\"{text}\" is not a CIDR block: the prefix length must be 0 to 32")
        })?;
        let base = u32::from(ip);
        let cidr = Cidr {
            base: base & mask(prefix),
            prefix,
        };
        if cidr.base != base {
            return Err(format!(
                "\"{text}\" is not a network address: the bits after /{prefix} must be zero (did you mean {cidr}?)"
            ));
        }
        Ok(cidr)
    }

    /// The prefix length.
    pub(crate) fn prefix(self) -> u8 {
        self.prefix
    }

    /// Number of addresses in the block.
    pub(crate) fn size(self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// True when `other` lies entirely inside `self`.
    pub(crate) fn contains(self, other: Cidr) -> bool {
        other.prefix >= self.prefix && other.base & mask(self.prefix) == self.base
    }

    /// True when `ip` lies inside the block.
    pub(crate) fn contains_ip(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == self.base
    }

    /// True when the two blocks share at least one address.
    pub(crate) fn overlaps(self, other: Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// The `n`th address of the block (0 is the network address), if the block has one.
    pub(crate) fn host(self, n: u64) -> Option<Ipv4Addr> {
        (n < self.size()).then(|| Ipv4Addr::from(self.base.wrapping_add(n as u32)))
    }

    /// The block of the same size that follows this one, if any.
    pub(crate) fn next_block(self) -> Option<Cidr> {
        let size = self.size();
        let next = u64::from(self.base) + size;
        (next + size <= 1u64 << 32).then_some(Cidr {
            base: next as u32,
            prefix: self.prefix,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

/// Allocates the first address of `block`, from host `first` up to `size - last_reserved`,
/// that `taken` does not already hold.
pub(crate) fn allocate(
    block: Cidr,
    first: u64,
    last_reserved: u64,
    taken: &[Ipv4Addr],
) -> Option<Ipv4Addr> {
    (first..block.size().saturating_sub(last_reserved))
        .filter_map(|n| block.host(n))
        .find(|ip| !taken.contains(ip))
}

/// Parses an IPv4 address with a message a person understands.
pub(crate) fn parse_ip(what: &str, text: &str) -> Result<Ipv4Addr, String> {
    text.parse()
        .map_err(|_| format!("{what} \"{text}\" is not an IPv4 address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks_containment() -> Result<(), String> {
        let vpc = Cidr::parse("10.0.0.0/16")?;
        assert!(vpc.contains(Cidr::parse("10.0.3.0/24")?));
        assert!(!vpc.contains(Cidr::parse("10.1.0.0/24")?));
        assert!(Cidr::parse("10.0.0.0/8")?.overlaps(vpc));
        assert_eq!(vpc.size(), 65536);
        assert_eq!(
            vpc.next_block().map(|c| c.to_string()),
            Some("10.1.0.0/16".into())
        );
        Ok(())
    }

    #[test]
    fn rejects_bad_blocks_with_a_hint() {
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("10.0.0/16").is_err());
        let err = Cidr::parse("10.0.0.1/16").err().unwrap_or_default();
        assert!(err.contains("did you mean 10.0.0.0/16"), "{err}");
    }

    #[test]
    fn allocates_skipping_reserved_and_taken() -> Result<(), String> {
        let subnet = Cidr::parse("10.0.1.0/28")?;
        let first = allocate(subnet, 4, 1, &[]);
        assert_eq!(first, Some(Ipv4Addr::new(10, 0, 1, 4)));
        let taken: Vec<_> = (4..15).map(|n| Ipv4Addr::new(10, 0, 1, n)).collect();
        assert_eq!(allocate(subnet, 4, 1, &taken), None);
        Ok(())
    }
}
