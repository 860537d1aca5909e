//! JSON output with object keys in a random (seeded) order.
//!
//! Several upstreams (PVE's Perl hashes above all) send object keys in a different order on
//! every request; decoders that depend on key order break only in production. `serde_json`'s
//! map keeps keys sorted, so simulators serialise through [`to_vec`], which writes the same
//! value with each object's keys shuffled by the given generator (or sorted, without one).

use serde_json::Value;

use crate::rng::Rng;

/// Serialises `value`; with `rng`, every object's keys come out in a shuffled order.
pub fn to_vec(value: &Value, mut rng: Option<&mut Rng>) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    write(&mut out, value, &mut rng);
    out
}

fn write(out: &mut Vec<u8>, value: &Value, rng: &mut Option<&mut Rng>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(out, item, rng);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if let Some(rng) = rng.as_deref_mut() {
                rng.shuffle(&mut entries);
            }
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, key);
                out.push(b':');
                write(out, item, rng);
            }
            out.push(b'}');
        }
    }
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaping of a plain string cannot fail.
    match serde_json::to_vec(s) {
        Ok(bytes) => out.extend_from_slice(&bytes),
        Err(_) => out.extend_from_slice(b"\"\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shuffled_output_parses_to_the_same_value() {
        let value = json!({"a": 1, "b": [1.5, "x\"y", null, true], "c": {"d": -2, "e": "é"}});
        let mut rng = Rng::new(3);
        let mut encodings = std::collections::HashSet::new();
        for _ in 0..10 {
            let bytes = to_vec(&value, Some(&mut rng));
            let back: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(back, value);
            encodings.insert(bytes);
        }
        assert!(encodings.len() > 1, "key order never changed");
        assert_eq!(to_vec(&value, None), serde_json::to_vec(&value).unwrap());
    }
}
