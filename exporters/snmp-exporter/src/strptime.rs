//! A small strptime for `ParseDateAndTime` metrics: the directives snmp.yml generators use
//! (`%Y %m %d %H %M %S %y %b %e %z %%`, literals and spaces). Times without a zone are UTC.

/// Parses `text` with `pattern` into unix seconds; `None` when it does not match.
pub fn parse(text: &str, pattern: &str) -> Option<f64> {
    let (mut year, mut month, mut day, mut hour, mut minute, mut second) =
        (1970i64, 1u32, 1u32, 0i64, 0i64, 0i64);
    let mut offset = 0i64;
    let t = text.as_bytes();
    let p = pattern.as_bytes();
    let (mut i, mut j) = (0usize, 0usize);
    let number = |i: &mut usize, max: usize| -> Option<i64> {
        while *i < t.len() && t[*i] == b' ' && max == 2 {
            *i += 1;
        }
        let start = *i;
        while *i < t.len() && *i - start < max && t[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i == start {
            return None;
        }
        std::str::from_utf8(&t[start..*i]).ok()?.parse().ok()
    };
    while j < p.len() {
        if p[j] == b'%' && j + 1 < p.len() {
            let directive = p[j + 1];
            j += 2;
            match directive {
                b'Y' => year = number(&mut i, 4)?,
                b'y' => {
                    year = 1900 + number(&mut i, 2)? + if number_lt_69(text, i) { 100 } else { 0 }
                }
                b'm' => month = number(&mut i, 2)? as u32,
                b'd' | b'e' => day = number(&mut i, 2)? as u32,
                b'H' => hour = number(&mut i, 2)?,
                b'M' => minute = number(&mut i, 2)?,
                b'S' => second = number(&mut i, 2)?,
                b'b' | b'h' => {
                    const MONTHS: [&str; 12] = [
                        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                        "nov", "dec",
                    ];
                    let word = text.get(i..i + 3)?.to_ascii_lowercase();
                    month = MONTHS.iter().position(|m| *m == word)? as u32 + 1;
                    i += 3;
                }
                b'z' => {
                    let sign = match t.get(i)? {
                        b'+' => 1,
                        b'-' => -1,
                        _ => return None,
                    };
                    i += 1;
                    let hh = number(&mut i, 2)?;
                    if t.get(i) == Some(&b':') {
                        i += 1;
                    }
                    let mm = number(&mut i, 2)?;
                    offset = sign * (hh * 3600 + mm * 60);
                }
                b'%' => {
                    if t.get(i) != Some(&b'%') {
                        return None;
                    }
                    i += 1;
                }
                _ => return None,
            }
        } else {
            if t.get(i) != Some(&p[j]) {
                return None;
            }
            i += 1;
            j += 1;
        }
    }
    if i != t.len() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = crate::render::days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3600 + minute * 60 + second - offset) as f64)
}

/// `%y` years 00–68 are 20xx, as in POSIX strptime.
fn number_lt_69(text: &str, end: usize) -> bool {
    text.get(end.saturating_sub(2)..end)
        .and_then(|s| s.trim().parse::<i64>().ok())
        .is_some_and(|y| y < 69)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_patterns() {
        assert_eq!(
            parse("2024-01-02 03:04:05", "%Y-%m-%d %H:%M:%S"),
            Some(1_704_164_645.0)
        );
        assert_eq!(parse("Jan 02 2024", "%b %d %Y"), Some(1_704_153_600.0));
        assert_eq!(
            parse("2024-01-02T03:04:05+01:00", "%Y-%m-%dT%H:%M:%S%z"),
            Some(1_704_161_045.0)
        );
        assert_eq!(parse("garbage", "%Y"), None);
        assert_eq!(parse("2024-13-01", "%Y-%m-%d"), None);
    }
}
