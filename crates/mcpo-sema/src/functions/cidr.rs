//! Network address functions over IPv4 and IPv6 prefixes (`cidrsubnet` and friends).

use super::Args;
use crate::{Io, Val};
use std::net::{Ipv4Addr, Ipv6Addr};

/// A parsed prefix: the network address (host bits cleared), the address width (32 or
/// 128) and the prefix length.
#[derive(Clone, Copy)]
struct Prefix {
    addr: u128,
    bits: u32,
    len: u32,
}

/// All ones in the low `bits` bits.
fn full(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// The network mask of a `len`-bit prefix in a `bits`-wide address.
fn mask(len: u32, bits: u32) -> u128 {
    let host = bits.saturating_sub(len);
    if host >= 128 {
        0
    } else {
        full(bits) & (u128::MAX << host)
    }
}

/// The last address of the prefix.
fn last(p: Prefix) -> u128 {
    p.addr | (full(p.bits) & !mask(p.len, p.bits))
}

fn addr_text(addr: u128, bits: u32) -> String {
    if bits == 32 {
        Ipv4Addr::from(u32::try_from(addr).unwrap_or(0)).to_string()
    } else {
        Ipv6Addr::from(addr).to_string()
    }
}

fn prefix_text(p: Prefix) -> String {
    format!("{}/{}", addr_text(p.addr, p.bits), p.len)
}

fn parse(a: &Args, i: usize) -> Result<Prefix, String> {
    let s = a.str(i)?;
    let bad = |why: &str| {
        a.err(format!(
            "{s:?} is not a network prefix like 10.0.0.0/16 ({why})"
        ))
    };
    let Some((ip, len)) = s.split_once('/') else {
        return bad("no /length");
    };
    let (addr, bits) = if let Ok(v4) = ip.parse::<Ipv4Addr>() {
        (u128::from(u32::from(v4)), 32)
    } else if let Ok(v6) = ip.parse::<Ipv6Addr>() {
        (u128::from(v6), 128)
    } else {
        return bad("the address is not an IPv4 or IPv6 address");
    };
    let Some(len) = len
        .parse::<u32>()
        .ok()
        .filter(|l| *l <= bits && !len.starts_with('+'))
    else {
        return bad(&format!("the length must be a number from 0 to {bits}"));
    };
    Ok(Prefix {
        addr: addr & mask(len, bits),
        bits,
        len,
    })
}

/// `cidrhost(prefix, hostnum)`: the address of host `hostnum` in the prefix; a negative
/// number counts back from the last address.
pub(super) fn cidrhost(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let p = parse(a, 0)?;
    let n = a.int(1)?;
    let host_bits = p.bits - p.len;
    let max_host = full(host_bits);
    let magnitude = u128::from(n.unsigned_abs());
    let host = if n >= 0 {
        Some(magnitude).filter(|h| *h <= max_host)
    } else {
        max_host.checked_sub(magnitude - 1)
    };
    match host {
        Some(h) => Ok(Val::String(addr_text(p.addr | h, p.bits))),
        None => a.err(format!(
            "prefix {} has {} host bits: no room for a host numbered {n}",
            prefix_text(p),
            host_bits
        )),
    }
}

/// `cidrnetmask(prefix)`: the IPv4 netmask in dotted form.
pub(super) fn cidrnetmask(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let p = parse(a, 0)?;
    if p.bits != 32 {
        return a.err(format!(
            "{} is an IPv6 prefix; only IPv4 prefixes have a netmask",
            prefix_text(p)
        ));
    }
    Ok(Val::String(addr_text(mask(p.len, 32), 32)))
}

/// `cidrsubnet(prefix, newbits, netnum)`.
pub(super) fn cidrsubnet(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let p = parse(a, 0)?;
    let newbits = a.int(1)?;
    let netnum = a.int(2)?;
    let Ok(nb) = u32::try_from(newbits) else {
        return a.err(format!("newbits must not be negative, not {newbits}"));
    };
    let new_len = p.len.saturating_add(nb);
    if new_len > p.bits {
        return a.err(format!(
            "prefix {} has no room for {nb} more bits ({} + {nb} > {})",
            prefix_text(p),
            p.len,
            p.bits
        ));
    }
    let Ok(num) = u128::try_from(netnum) else {
        return a.err(format!("netnum must not be negative, not {netnum}"));
    };
    if num > full(nb) {
        return a.err(format!(
            "{nb} more bits give subnets numbered 0 to {}; there is no subnet {netnum}",
            full(nb)
        ));
    }
    let shift = p.bits - new_len;
    let offset = if shift >= 128 { 0 } else { num << shift };
    let sub = Prefix {
        addr: p.addr | offset,
        bits: p.bits,
        len: new_len,
    };
    Ok(Val::String(prefix_text(sub)))
}

/// `cidrsubnets(prefix, newbits...)`: consecutive subnets of the given sizes, each aligned
/// to its own size, as Terraform allocates them.
pub(super) fn cidrsubnets(a: &Args, _: &dyn Io) -> Result<Val, String> {
    let base = parse(a, 0)?;
    let mut out = Vec::new();
    let mut prev: Option<Prefix> = None;
    for i in 1..a.len() {
        let newbits = a.int(i)?;
        let Some(nb) = u32::try_from(newbits).ok().filter(|n| *n >= 1) else {
            return a.err(format!(
                "{} must extend the prefix by at least one bit, not {newbits}",
                Args::which(i)
            ));
        };
        let len = base.len.saturating_add(nb);
        if len > base.bits {
            return a.err(format!(
                "prefix {} has no room for {nb} more bits ({} + {nb} > {})",
                prefix_text(base),
                base.len,
                base.bits
            ));
        }
        let m = mask(len, base.bits);
        let next = match prev {
            None => Prefix {
                addr: base.addr,
                bits: base.bits,
                len,
            },
            Some(before) => {
                // Go-cidr's NextSubnet: the subnet of this size holding the previous
                // one's last address, then the one after it.
                let holder = Prefix {
                    addr: last(before) & m,
                    bits: base.bits,
                    len,
                };
                let end = last(holder);
                let no_room = || {
                    a.err(format!(
                        "not enough address space left in {} for a /{len} after {}",
                        prefix_text(base),
                        prefix_text(before)
                    ))
                };
                if end == full(base.bits) {
                    return no_room();
                }
                let addr = (end + 1) & m;
                if addr & mask(base.len, base.bits) != base.addr {
                    return no_room();
                }
                Prefix {
                    addr,
                    bits: base.bits,
                    len,
                }
            }
        };
        out.push(Val::String(prefix_text(next)));
        prev = Some(next);
    }
    Ok(Val::List(out))
}
