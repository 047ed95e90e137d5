//! Did-you-mean: the closest known name by edit distance.

/// Levenshtein distance between two strings, by characters.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        if let Some(first) = cur.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            if let Some(c) = cur.get_mut(j + 1) {
                *c = sub.min(del).min(ins);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

/// The candidate closest to `name`, if it is close enough to be a likely typo (at most a
/// third of the name's length, and at least 1 edit allowed). Ties go to the first
/// candidate in the given order, so callers pass a sorted list.
pub fn best<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let d = distance(name, c);
        // A different case or a dropped underscore is a typo whatever the length.
        // A shortened or lengthened name (`cidr` for `cidr_block`, `port` for
        // `destination_port`) is a likely slip too.
        let affix = name.len() >= 3
            && c.split('_').count() > 1
            && (c.starts_with(name) || c.ends_with(name));
        let close = d <= limit
            || c.eq_ignore_ascii_case(name)
            || c.replace('_', "") == name.replace('_', "")
            || affix;
        if close && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_suggestions() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(
            best("instance_typ", ["ami", "instance_type"]),
            Some("instance_type")
        );
        assert_eq!(best("zzz", ["ami", "instance_type"]), None);
        assert_eq!(best("cidr", ["cidr_block", "name"]), Some("cidr_block"));
        assert_eq!(
            best("port", ["destination_port", "protocol"]),
            Some("destination_port")
        );
    }
}
