//! Did-you-mean: the closest known name by edit distance.

/// Edit distance between two strings, by characters: insertions, deletions, substitutions
/// and swaps of two neighbours (`shpo` -> `shop` is one edit).
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    // rows[i * width + j]: distance between a[..i] and b[..j].
    let mut rows = vec![0usize; (a.len() + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for i in 0..=a.len() {
        if let Some(c) = rows.get_mut(at(i, 0)) {
            *c = i;
        }
    }
    for j in 0..=b.len() {
        if let Some(c) = rows.get_mut(at(0, j)) {
            *c = j;
        }
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let get = |r: &Vec<usize>, x: usize, y: usize| r.get(at(x, y)).copied().unwrap_or(0);
            let ca = a.get(i - 1);
            let cb = b.get(j - 1);
            let cost = usize::from(ca != cb);
            let mut d = (get(&rows, i - 1, j) + 1)
                .min(get(&rows, i, j - 1) + 1)
                .min(get(&rows, i - 1, j - 1) + cost);
            if i > 1 && j > 1 && ca == b.get(j - 2) && a.get(i - 2) == cb {
                d = d.min(get(&rows, i - 2, j - 2) + 1);
            }
            if let Some(c) = rows.get_mut(at(i, j)) {
                *c = d;
            }
        }
    }
    rows.last().copied().unwrap_or(0)
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
        assert_eq!(distance("shpo", "shop"), 1);
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
