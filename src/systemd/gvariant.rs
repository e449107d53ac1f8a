//! Unit properties from annotations, as runc takes them: an annotation
//! `org.systemd.property.<Name>` is a property `<Name>` whose value is
//! written in GVariant text format (`uint64 4000000`, `true`, `'mixed'`,
//! `['a.service', 'b.service']`), as godbus's ParseVariant reads it; a
//! name ending in a lowercase letter then `Sec` is sent as `…USec`, its
//! value converted from seconds.
//!
//! The subset of the format parsed here is what unit properties take:
//! booleans, integers (bare ones are `int32`, as in GVariant; `byte`,
//! `int16` … `uint64` prefixes), doubles, strings in single or double
//! quotes with backslash escapes, and arrays of those (`@as []` for an
//! empty one).

use super::manager::Property;
use super::wire::Value;

const PREFIX: &str = "org.systemd.property.";

/// The properties the annotations ask for, sorted by annotation name so
/// that the list does not depend on hash order. An error is the field (the
/// annotation) and the problem.
pub fn properties_from_annotations<'a>(
    annotations: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<Vec<Property>, (String, String)> {
    let mut found: Vec<(&String, &String)> = annotations.into_iter().filter(|(k, _)| k.starts_with(PREFIX)).collect();
    found.sort();
    let mut props = Vec::new();
    for (key, text) in found {
        let name = &key[PREFIX.len()..];
        let fail = |problem: String| (format!("annotations.\"{key}\""), problem);
        if name.len() < 3 || !name.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(fail(format!("\"{name}\" is not a property name (three or more ASCII letters)")));
        }
        let value = parse(text).map_err(|p| fail(format!("\"{text}\": {p}")))?;
        let sec = name.strip_suffix("Sec").filter(|stem| stem.as_bytes().last().is_some_and(u8::is_ascii_lowercase));
        match sec {
            Some(stem) => {
                let usec = seconds_to_usec(&value).ok_or_else(|| fail(format!("\"{text}\": not a number of seconds")))?;
                props.push(Property::new(&format!("{stem}USec"), Value::U64(usec)));
            }
            None => props.push(Property::new(name, value)),
        }
    }
    Ok(props)
}

fn seconds_to_usec(value: &Value) -> Option<u64> {
    let micros = |s: f64| (s >= 0.0).then_some((s * 1_000_000.0) as u64);
    match value {
        Value::Byte(n) => Some(u64::from(*n) * 1_000_000),
        Value::U32(n) => Some(u64::from(*n) * 1_000_000),
        Value::U64(n) => n.checked_mul(1_000_000),
        Value::I32(n) => u64::try_from(*n).ok().map(|n| n * 1_000_000),
        Value::I64(n) => u64::try_from(*n).ok().and_then(|n| n.checked_mul(1_000_000)),
        Value::Double(s) => micros(*s),
        _ => None,
    }
}

/// One value in GVariant text format.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut parser = Parser { rest: text.trim() };
    let value = parser.value()?;
    if !parser.rest.trim().is_empty() {
        return Err(format!("unexpected \"{}\" after the value", parser.rest.trim()));
    }
    Ok(value)
}

struct Parser<'a> {
    rest: &'a str,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.skip_space();
        if self.eat("@as") {
            return match self.value()? {
                Value::Array(_, items) if items.is_empty() => Ok(Value::Array("s".into(), items)),
                Value::Array(sig, items) if sig == "s" => Ok(Value::Array(sig, items)),
                _ => Err("@as takes an array of strings".into()),
            };
        }
        if self.eat("[") {
            return self.array();
        }
        if self.rest.starts_with(['\'', '"']) {
            return self.string().map(Value::Str);
        }
        let word_end = self.rest.find(|c: char| c.is_whitespace() || c == ',' || c == ']').unwrap_or(self.rest.len());
        let word = &self.rest[..word_end];
        self.rest = &self.rest[word_end..];
        let typed = |parse: fn(&str) -> Option<Value>, this: &mut Self| -> Result<Value, String> {
            this.skip_space();
            let end = this.rest.find(|c: char| c.is_whitespace() || c == ',' || c == ']').unwrap_or(this.rest.len());
            let number = &this.rest[..end];
            this.rest = &this.rest[end..];
            parse(number).ok_or_else(|| format!("\"{number}\" is not a {word}"))
        };
        match word {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "byte" => typed(|n| int::<u8>(n).map(Value::Byte), self),
            "int16" | "int32" => typed(|n| int::<i32>(n).map(Value::I32), self),
            "uint16" | "uint32" => typed(|n| int::<u32>(n).map(Value::U32), self),
            "int64" => typed(|n| int::<i64>(n).map(Value::I64), self),
            "uint64" => typed(|n| int::<u64>(n).map(Value::U64), self),
            "double" => typed(|n| n.parse().ok().map(Value::Double), self),
            _ => {
                if let Some(n) = int::<i32>(word) {
                    Ok(Value::I32(n))
                } else if let Ok(d) = word.parse::<f64>() {
                    Ok(Value::Double(d))
                } else {
                    Err(format!("\"{word}\" is not a GVariant value"))
                }
            }
        }
    }

    fn array(&mut self) -> Result<Value, String> {
        let mut items = Vec::new();
        if !self.eat("]") {
            loop {
                items.push(self.value()?);
                if self.eat("]") {
                    break;
                }
                if !self.eat(",") {
                    return Err("expected ',' or ']' in an array".into());
                }
            }
        }
        let signature = items.first().map(Value::signature).unwrap_or_else(|| "s".into());
        if items.iter().any(|i| i.signature() != signature) {
            return Err("the items of an array must have one type".into());
        }
        Ok(Value::Array(signature, items))
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = self.rest.chars().next().expect("checked by the caller");
        let mut out = String::new();
        let mut chars = self.rest[1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, escaped)) => out.push(escaped),
                    None => break,
                },
                c if c == quote => {
                    self.rest = &self.rest[1 + i + 1..];
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        Err("unterminated string".into())
    }
}

/// A decimal or 0x-hexadecimal integer.
fn int<T: TryFrom<i128>>(text: &str) -> Option<T> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    let magnitude = match digits.strip_prefix("0x") {
        Some(hex) => i128::from_str_radix(hex, 16).ok()?,
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => digits.parse().ok()?,
        None => return None,
    };
    T::try_from(if negative { -magnitude } else { magnitude }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn values_in_gvariant_text() {
        assert_eq!(parse("true"), Ok(Value::Bool(true)));
        assert_eq!(parse("uint64 4000000"), Ok(Value::U64(4_000_000)));
        assert_eq!(parse("int64 -1"), Ok(Value::I64(-1)));
        assert_eq!(parse("uint32 0x10"), Ok(Value::U32(16)));
        assert_eq!(parse("42"), Ok(Value::I32(42)));
        assert_eq!(parse("1.5"), Ok(Value::Double(1.5)));
        assert_eq!(parse("'inactive-or-failed'"), Ok(Value::str("inactive-or-failed")));
        assert_eq!(parse(r#""it\'s""#), Ok(Value::str("it's")));
        assert_eq!(parse("['a.service', \"b.service\"]"), Ok(Value::str_array(&["a.service", "b.service"])));
        assert_eq!(parse("@as []"), Ok(Value::str_array(&[])));
        for bad in ["", "yes", "uint64 -1", "byte 300", "'open", "[1, 'a']", "true false", "[1 2]"] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn annotations_become_properties_as_runc_makes_them() {
        let annotations: HashMap<String, String> = [
            ("org.systemd.property.CollectMode", "'inactive-or-failed'"),
            ("org.systemd.property.TimeoutStopSec", "uint64 30"),
            ("org.systemd.property.RuntimeMaxUSec", "uint64 5000000"),
            ("org.systemd.property.After", "['a.service']"),
            ("io.kubernetes.cri.sandbox-id", "abc"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let props = properties_from_annotations(&annotations).unwrap();
        let names: Vec<&str> = props.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["After", "CollectMode", "RuntimeMaxUSec", "TimeoutStopUSec"]);
        assert_eq!(props[3].value, Value::U64(30_000_000));
        assert_eq!(props[2].value, Value::U64(5_000_000));

        let bad = |k: &str, v: &str| {
            let map: HashMap<String, String> = [(k.to_string(), v.to_string())].into();
            let (field, problem) = properties_from_annotations(&map).unwrap_err();
            format!("{field}: {problem}")
        };
        assert_eq!(
            bad("org.systemd.property.Tasks-Max", "1"),
            "annotations.\"org.systemd.property.Tasks-Max\": \"Tasks-Max\" is not a property name (three or more ASCII letters)"
        );
        assert!(bad("org.systemd.property.TimeoutStopSec", "'soon'").contains("not a number of seconds"));
        assert!(bad("org.systemd.property.CollectMode", "'open").contains("unterminated string"));
    }
}
