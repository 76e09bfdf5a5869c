//! JSON as the receiver accepts it: like `serde_json::Value`, but an object
//! that names a key twice is refused, at any depth. Otherwise the last value
//! would silently win (`{"apiVersion":"bogus","apiVersion":"2022-05-22"}`),
//! and two readers of the same body could disagree on what it says.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `bytes` as JSON, refusing duplicate keys.
pub fn from_slice_strict(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue::deserialize_value(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

struct StrictValue;

impl StrictValue {
    fn deserialize_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct Strict(Value);

impl<'de> de::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        StrictValue::deserialize_value(deserializer).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if fields.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn a_duplicate_key_is_refused_at_any_depth() {
        let top = from_slice_strict(br#"{"apiVersion":"bogus","apiVersion":"2022-05-22"}"#).unwrap_err();
        assert!(top.to_string().contains("duplicate key \"apiVersion\""), "{top}");
        assert!(from_slice_strict(br#"{"a":[{"b":1,"b":2}]}"#).is_err());
    }

    #[test]
    fn json_without_duplicates_reads_as_serde_json_reads_it() {
        let text = br#"{"a":[1,-2,3.5,"x",null,true,{"b":{}}],"c":""}"#;
        assert_eq!(from_slice_strict(text).unwrap(), serde_json::from_slice::<Value>(text).unwrap());
        assert_eq!(from_slice_strict(b" [] ").unwrap(), json!([]));
        assert!(from_slice_strict(b"{} {}").is_err(), "trailing data");
    }
}
