//! Decoders that accept whatever JSON type the API sends and never fail a whole body over one field.
//!
//! PVE is written in Perl: numbers sometimes arrive as strings, integers as floats, booleans as
//! `0`/`1`, and a field may be `null`. A field whose value has a type that makes no sense for it
//! (an object where a number belongs) is treated as absent. Only the structure that holds the
//! data together (the envelope, the list) can make a parse fail.
//!
//! The structs are declared with [`lenient_struct!`], which writes a `Deserialize` that matches
//! keys without allocating, skips unknown keys, lets a repeated key's last value win (as every
//! other JSON reader does) and decodes each field through [`Lenient`].

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A field type that decodes from any JSON value, turning values it cannot use into "absent".
pub trait Lenient: Sized {
    /// Decodes the value; errors only when the JSON itself is broken.
    fn decode<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error>;
}

/// Seed that decodes one [`Lenient`] value from a map or sequence.
pub(crate) struct Seed<T>(PhantomData<T>);

impl<T> Seed<T> {
    pub(crate) fn new() -> Self {
        Seed(PhantomData)
    }
}

impl<'de, T: Lenient> DeserializeSeed<'de> for Seed<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        T::decode(deserializer)
    }
}

/// Consumes a sequence without keeping anything.
fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Consumes a map without keeping anything.
fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Parses a number sent as text: `"42"`, `" 1.5 "`, `"1e9"`. Anything else is not a number.
pub fn number_from_text(text: &str) -> Option<f64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    text.parse::<f64>().ok()
}

/// Renders a float the way a label shows an integer-valued number: `17`, not `17.0`.
fn number_to_text(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// Numbers: JSON numbers, numeric strings and booleans (as 0/1); anything else is absent.
impl Lenient for Option<f64> {
    fn decode<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberVisitor;

        impl<'de> Visitor<'de> for NumberVisitor {
            type Value = Option<f64>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Some(if v { 1.0 } else { 0.0 }))
            }

            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(v as f64))
            }

            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(v as f64))
            }

            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Some(v))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(number_from_text(v))
            }

            fn visit_bytes<E>(self, _: &[u8]) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| None)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| None)
            }
        }

        deserializer.deserialize_any(NumberVisitor)
    }
}

/// Non-negative integers (VMIDs, job numbers): like numbers, but only integral values fit.
impl Lenient for Option<u64> {
    fn decode<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = <Option<f64>>::decode(deserializer)?;
        // 2^53: beyond it a float no longer holds every integer exactly.
        Ok(number
            .filter(|n| {
                n.is_finite() && n.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(n)
            })
            .map(|n| n as u64))
    }
}

/// Text: strings as they are, numbers and booleans rendered as PVE would print them (`1`, `0.5`),
/// `null`, lists and objects absent.
impl Lenient for Option<String> {
    fn decode<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Option<String>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Some(if v { "1" } else { "0" }.to_owned()))
            }

            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(v.to_string()))
            }

            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(v.to_string()))
            }

            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Some(number_to_text(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Some(v.to_owned()))
            }

            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Some(v))
            }

            fn visit_bytes<E>(self, v: &[u8]) -> Result<Self::Value, E> {
                Ok(Some(String::from_utf8_lossy(v).into_owned()))
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| None)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| None)
            }
        }

        deserializer.deserialize_any(TextVisitor)
    }
}

/// An object key, borrowed from the input whenever it has no escapes.
pub(crate) enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(key) => key,
            Key::Owned(key) => key,
        }
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key::Borrowed(v))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key::Owned(v.to_owned()))
            }

            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key::Owned(v))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A list whose elements that are not objects are skipped; `null` is the empty list.
#[derive(Debug)]
pub(crate) struct ObjectList<T>(pub(crate) Vec<T>);

impl<'de, T: de::Deserialize<'de>> de::Deserialize<'de> for ObjectList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);

        impl<'de, T: de::Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = ObjectList<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list or null")
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(ObjectList(Vec::new()))
            }

            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(ObjectList(Vec::new()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(item) = seq.next_element::<ObjectOrSkip<T>>()? {
                    if let Some(item) = item.0 {
                        items.push(item);
                    }
                }
                Ok(ObjectList(items))
            }
        }

        deserializer.deserialize_any(ListVisitor(PhantomData))
    }
}

/// A list element: an object decoded as `T`, anything else skipped.
struct ObjectOrSkip<T>(Option<T>);

impl<'de, T: de::Deserialize<'de>> de::Deserialize<'de> for ObjectOrSkip<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ElementVisitor<T>(PhantomData<T>);

        impl<'de, T: de::Deserialize<'de>> Visitor<'de> for ElementVisitor<T> {
            type Value = ObjectOrSkip<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|item| ObjectOrSkip(Some(item)))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| ObjectOrSkip(None))
            }

            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(ObjectOrSkip(None))
            }

            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(ObjectOrSkip(None))
            }

            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(ObjectOrSkip(None))
            }

            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(ObjectOrSkip(None))
            }

            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(ObjectOrSkip(None))
            }

            fn visit_bytes<E>(self, _: &[u8]) -> Result<Self::Value, E> {
                Ok(ObjectOrSkip(None))
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(ObjectOrSkip(None))
            }

            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(ObjectOrSkip(None))
            }
        }

        deserializer.deserialize_any(ElementVisitor(PhantomData))
    }
}

/// An object decoded as `T`; `null` is `T::default()`. Any other JSON type is an error: the body
/// is not the shape this endpoint returns.
#[derive(Debug)]
pub(crate) struct ObjectOrNull<T>(pub(crate) T);

impl<'de, T: de::Deserialize<'de> + Default> de::Deserialize<'de> for ObjectOrNull<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: de::Deserialize<'de> + Default> Visitor<'de> for ObjectVisitor<T> {
            type Value = ObjectOrNull<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object or null")
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(ObjectOrNull(T::default()))
            }

            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(ObjectOrNull(T::default()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(ObjectOrNull)
            }
        }

        deserializer.deserialize_any(ObjectVisitor(PhantomData))
    }
}

/// Declares a struct of [`Lenient`] fields with a `Deserialize` that maps JSON keys to fields,
/// ignores unknown keys and lets the last of repeated keys win.
///
/// ```text
/// lenient_struct! {
///     /// Docs.
///     pub struct Example {
///         /// Field docs.
///         "json-key" => field: Option<f64>,
///     }
/// }
/// ```
macro_rules! lenient_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* $json:literal => $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )*
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct StructVisitor;

                impl<'de> ::serde::de::Visitor<'de> for StructVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " object"))
                    }

                    fn visit_map<A: ::serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<Self::Value, A::Error> {
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<$crate::model::lenient::Key<'de>>()? {
                            match key.as_str() {
                                $(
                                    $json => {
                                        out.$field = map.next_value_seed(
                                            $crate::model::lenient::Seed::<$ty>::new(),
                                        )?;
                                    }
                                )*
                                _ => {
                                    map.next_value::<::serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }

                deserializer.deserialize_map(StructVisitor)
            }
        }
    };
}

pub(crate) use lenient_struct;

#[cfg(test)]
mod tests {
    use super::*;

    fn number(json: &str) -> Option<f64> {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        <Option<f64>>::decode(&mut deserializer).unwrap()
    }

    fn text(json: &str) -> Option<String> {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        <Option<String>>::decode(&mut deserializer).unwrap()
    }

    fn integer(json: &str) -> Option<u64> {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        <Option<u64>>::decode(&mut deserializer).unwrap()
    }

    #[test]
    fn numbers_accept_every_numeric_spelling() {
        assert_eq!(number("42"), Some(42.0));
        assert_eq!(number("-3"), Some(-3.0));
        assert_eq!(number("0.25"), Some(0.25));
        assert_eq!(number("\"42\""), Some(42.0));
        assert_eq!(number("\" 1.5e3 \""), Some(1500.0));
        assert_eq!(number("true"), Some(1.0));
        assert_eq!(number("false"), Some(0.0));
        // Out-of-range literals (`1e400`) are rejected by the JSON lexer itself: a body error.
        assert_eq!(number("18446744073709551616"), Some(18446744073709551616.0));
    }

    #[test]
    fn numbers_treat_other_types_as_absent() {
        assert_eq!(number("null"), None);
        assert_eq!(number("\"\""), None);
        assert_eq!(number("\"abc\""), None);
        assert_eq!(number("[1, 2, {\"a\": [3]}]"), None);
        assert_eq!(number("{\"value\": 1}"), None);
    }

    #[test]
    fn integers_need_integral_values() {
        assert_eq!(integer("100"), Some(100));
        assert_eq!(integer("100.0"), Some(100));
        assert_eq!(integer("\"208\""), Some(208));
        assert_eq!(integer("100.5"), None);
        assert_eq!(integer("-1"), None);
        assert_eq!(integer("1e300"), None);
        assert_eq!(integer("\"NaN\""), None);
    }

    #[test]
    fn text_renders_scalars() {
        assert_eq!(text("\"shire\""), Some("shire".to_owned()));
        assert_eq!(text("\"a\\\"b\\u00e9\""), Some("a\"bé".to_owned()));
        assert_eq!(text("1"), Some("1".to_owned()));
        assert_eq!(text("1.0"), Some("1".to_owned()));
        assert_eq!(text("0.5"), Some("0.5".to_owned()));
        assert_eq!(text("-7"), Some("-7".to_owned()));
        assert_eq!(text("true"), Some("1".to_owned()));
        assert_eq!(text("null"), None);
        assert_eq!(text("[\"a\"]"), None);
        assert_eq!(text("{\"a\": \"b\"}"), None);
    }
}
