//! The classic text format written the way client_golang writes it (spec §2.11), byte for byte:
//! Go's shortest `%g` floats, families sorted by name, samples sorted by label values.
//!
//! The kit's encoder targets both formats and Rust's float printing; upstream parity on `/snmp`
//! needs Go's exact rules, so the exporter writes this text itself.

use std::fmt::Write as _;

/// Prometheus metric type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyType {
    /// `gauge`.
    Gauge,
    /// `counter`.
    Counter,
}

/// One sample: label pairs sorted by name, and the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Label pairs, sorted by name.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

/// One family.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Name.
    pub name: String,
    /// HELP text (escaped when written).
    pub help: String,
    /// TYPE.
    pub kind: FamilyType,
    /// Samples (sorted when written).
    pub samples: Vec<Sample>,
}

/// Formats `value` like Go's `strconv.FormatFloat(value, 'g', -1, 64)`.
pub fn format_go_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip digits; only the layout differs from Go.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(24);
    if value < 0.0 {
        out.push('-');
    }
    if !(-4..6).contains(&exponent) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exponent.abs());
    } else if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let point = exponent as usize + 1;
        if digits.len() <= point {
            out.push_str(&digits);
            for _ in digits.len()..point {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

fn escape_help(out: &mut String, help: &str) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_label(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Sorts families by name and samples by label values, then writes them. Families without
/// samples are skipped, as client_golang does.
pub fn write(families: &mut [Family]) -> String {
    families.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::with_capacity(families.iter().map(|f| f.samples.len() * 96 + 200).sum());
    for family in families.iter_mut() {
        if family.samples.is_empty() {
            continue;
        }
        family.samples.sort_by(|a, b| {
            for (x, y) in a.labels.iter().zip(&b.labels) {
                let order = x.0.cmp(&y.0).then_with(|| x.1.cmp(&y.1));
                if order.is_ne() {
                    return order;
                }
            }
            a.labels.len().cmp(&b.labels.len())
        });
        out.push_str("# HELP ");
        out.push_str(&family.name);
        out.push(' ');
        escape_help(&mut out, &family.help);
        out.push_str("\n# TYPE ");
        out.push_str(&family.name);
        out.push_str(match family.kind {
            FamilyType::Gauge => " gauge\n",
            FamilyType::Counter => " counter\n",
        });
        for sample in &family.samples {
            out.push_str(&family.name);
            if !sample.labels.is_empty() {
                out.push('{');
                for (i, (name, value)) in sample.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(name);
                    out.push_str("=\"");
                    escape_label(&mut out, value);
                    out.push('"');
                }
                out.push('}');
            }
            out.push(' ');
            out.push_str(&format_go_float(sample.value));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_vectors() {
        for (value, text) in [
            (1e7, "1e+07"),
            (101245574.0, "1.01245574e+08"),
            (220265053.0, "2.20265053e+08"),
            (1491046.0, "1.491046e+06"),
            (141840.0, "141840"),
            (388516.0, "388516"),
            (902722.0, "902722"),
            (0.000131066, "0.000131066"),
            (2.8324e-05, "2.8324e-05"),
            (0.00349314, "0.00349314"),
            (0.0, "0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (1e100, "1e+100"),
            (18271954.0, "1.8271954e+07"),
            (9007199254740997.0, "9.007199254740996e+15"),
            (0.5, "0.5"),
            (123456.5, "123456.5"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(format_go_float(value), text, "{value}");
        }
    }

    #[test]
    fn sorting_and_escaping_follow_client_golang() {
        let sample = |index: &str, alias: &str| Sample {
            labels: vec![
                ("ifAlias".to_owned(), alias.to_owned()),
                ("ifIndex".to_owned(), index.to_owned()),
            ],
            value: 1.0,
        };
        let mut families = vec![
            Family {
                name: "b".to_owned(),
                help: "h \\ x\ny".to_owned(),
                kind: FamilyType::Counter,
                samples: vec![
                    sample("2", ""),
                    sample("10", ""),
                    sample("1", "uplink \"core\" \\ test"),
                ],
            },
            Family {
                name: "a".to_owned(),
                help: "empty".to_owned(),
                kind: FamilyType::Gauge,
                samples: vec![],
            },
        ];
        assert_eq!(
            write(&mut families),
            "# HELP b h \\\\ x\\ny\n# TYPE b counter\n\
             b{ifAlias=\"\",ifIndex=\"10\"} 1\n\
             b{ifAlias=\"\",ifIndex=\"2\"} 1\n\
             b{ifAlias=\"uplink \\\"core\\\" \\\\ test\",ifIndex=\"1\"} 1\n"
        );
    }
}
