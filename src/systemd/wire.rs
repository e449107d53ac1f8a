//! The D-Bus wire format (little-endian), as far as systemd's manager needs
//! it: every basic type, arrays, structs, dict entries and variants, and the
//! message header. Values carry their own signature, so a property list of
//! mixed types marshals without a schema; replies are decoded by the
//! signature they declare.

use super::SystemdError;

/// A D-Bus value. `Array` keeps its element signature, so that an empty
/// array still marshals with the right type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Double(f64),
    Str(String),
    ObjectPath(String),
    Signature(String),
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    DictEntry(Box<Value>, Box<Value>),
    Variant(Box<Value>),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(s.to_string())
    }

    /// `au`, as systemd's `PIDs`.
    pub fn u32_array(values: &[u32]) -> Value {
        Value::Array("u".into(), values.iter().map(|v| Value::U32(*v)).collect())
    }

    /// `ay`, as systemd's `AllowedCPUs` bitmask.
    pub fn bytes(values: &[u8]) -> Value {
        Value::Array("y".into(), values.iter().map(|v| Value::Byte(*v)).collect())
    }

    /// `as`, as systemd's `Wants`.
    pub fn str_array(values: &[&str]) -> Value {
        Value::Array("s".into(), values.iter().map(|v| Value::str(v)).collect())
    }

    /// `a(ss)`, as systemd's `DeviceAllow`.
    pub fn str_pairs(values: &[(&str, &str)]) -> Value {
        let items = values.iter().map(|(a, b)| Value::Struct(vec![Value::str(a), Value::str(b)])).collect();
        Value::Array("(ss)".into(), items)
    }

    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::I64(_) => "x".into(),
            Value::U64(_) => "t".into(),
            Value::Double(_) => "d".into(),
            Value::Str(_) => "s".into(),
            Value::ObjectPath(_) => "o".into(),
            Value::Signature(_) => "g".into(),
            Value::Array(element, _) => format!("a{element}"),
            Value::Struct(fields) => format!("({})", fields.iter().map(Value::signature).collect::<String>()),
            Value::DictEntry(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
            Value::Variant(_) => "v".into(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::ObjectPath(s) | Value::Signature(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::U64(v) => Some(*v),
            Value::U32(v) => Some(u64::from(*v)),
            Value::Byte(v) => Some(u64::from(*v)),
            _ => None,
        }
    }
}

/// The alignment of a type by its signature's first character.
fn alignment(code: u8) -> usize {
    match code {
        b'y' | b'g' | b'v' => 1,
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b's' | b'o' | b'a' | b'h' => 4,
        _ => 8, // x t d ( {
    }
}

/// Appends marshalled values to a buffer whose offset 0 is the message's
/// start (alignment is relative to it).
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn pad(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }

    fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn string(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    fn signature(&mut self, s: &str) {
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    pub fn value(&mut self, value: &Value) {
        match value {
            Value::Byte(v) => self.buf.push(*v),
            Value::Bool(v) => self.u32(u32::from(*v)),
            Value::I32(v) => self.u32(*v as u32),
            Value::U32(v) => self.u32(*v),
            Value::I64(v) => self.u64(*v as u64),
            Value::U64(v) => self.u64(*v),
            Value::Double(v) => self.u64(v.to_bits()),
            Value::Str(s) | Value::ObjectPath(s) => self.string(s),
            Value::Signature(s) => self.signature(s),
            Value::Array(element, items) => {
                self.u32(0);
                let length_at = self.buf.len() - 4;
                // The length counts from the first element, after its padding.
                self.pad(alignment(element.as_bytes()[0]));
                let start = self.buf.len();
                for item in items {
                    self.value(item);
                }
                let length = (self.buf.len() - start) as u32;
                self.buf[length_at..length_at + 4].copy_from_slice(&length.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.pad(8);
                fields.iter().for_each(|f| self.value(f));
            }
            Value::DictEntry(k, v) => {
                self.pad(8);
                self.value(k);
                self.value(v);
            }
            Value::Variant(inner) => {
                self.signature(&inner.signature());
                self.value(inner);
            }
        }
    }

    fn u64(&mut self, v: u64) {
        self.pad(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// Reads values from a whole message (offset 0 is its start).
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

fn malformed(problem: impl Into<String>) -> SystemdError {
    SystemdError::Malformed { problem: problem.into() }
}

/// The end of the single complete type that starts `sig`.
fn single_type_end(sig: &[u8]) -> Result<usize, SystemdError> {
    let bad = || malformed(format!("bad signature \"{}\"", String::from_utf8_lossy(sig)));
    match sig.first().ok_or_else(bad)? {
        b'a' => Ok(1 + single_type_end(&sig[1..])?),
        open @ (b'(' | b'{') => {
            let close = if *open == b'(' { b')' } else { b'}' };
            let mut at = 1;
            while *sig.get(at).ok_or_else(bad)? != close {
                at += single_type_end(&sig[at..])?;
            }
            Ok(at + 1)
        }
        b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b'd' | b's' | b'o' | b'g' | b'v' | b'h' => Ok(1),
        _ => Err(bad()),
    }
}

/// Splits a signature into its complete types.
pub fn split_signature(sig: &str) -> Result<Vec<&str>, SystemdError> {
    let mut types = Vec::new();
    let mut rest = sig;
    while !rest.is_empty() {
        let end = single_type_end(rest.as_bytes())?;
        types.push(&rest[..end]);
        rest = &rest[end..];
    }
    Ok(types)
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8], pos: usize) -> Reader<'a> {
        Reader { data, pos }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn align(&mut self, align: usize) -> Result<(), SystemdError> {
        let next = self.pos.next_multiple_of(align);
        if next > self.data.len() {
            return Err(malformed("message truncated in padding"));
        }
        self.pos = next;
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], SystemdError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.data.len());
        let end = end.ok_or_else(|| malformed(format!("message truncated: {n} bytes at offset {}", self.pos)))?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn u32(&mut self) -> Result<u32, SystemdError> {
        self.align(4)?;
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64, SystemdError> {
        self.align(8)?;
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn text(&mut self, len: usize) -> Result<String, SystemdError> {
        let bytes = self.take(len + 1)?;
        if bytes[len] != 0 {
            return Err(malformed("string without its terminating nul"));
        }
        String::from_utf8(bytes[..len].to_vec()).map_err(|_| malformed("string not UTF-8"))
    }

    /// Reads one value of the complete type `sig`.
    pub fn value(&mut self, sig: &str) -> Result<Value, SystemdError> {
        let code = sig.as_bytes()[0];
        Ok(match code {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                other => return Err(malformed(format!("boolean {other}"))),
            },
            b'n' | b'q' => {
                self.align(2)?;
                let raw = u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes"));
                Value::U32(u32::from(raw))
            }
            b'i' => Value::I32(self.u32()? as i32),
            b'u' | b'h' => Value::U32(self.u32()?),
            b'x' => Value::I64(self.u64()? as i64),
            b't' => Value::U64(self.u64()?),
            b'd' => Value::Double(f64::from_bits(self.u64()?)),
            b's' | b'o' => {
                let len = self.u32()? as usize;
                let text = self.text(len)?;
                if code == b's' { Value::Str(text) } else { Value::ObjectPath(text) }
            }
            b'g' => {
                let len = usize::from(self.take(1)?[0]);
                Value::Signature(self.text(len)?)
            }
            b'v' => {
                let len = usize::from(self.take(1)?[0]);
                let inner = self.text(len)?;
                let types = split_signature(&inner)?;
                if types.len() != 1 {
                    return Err(malformed(format!("variant of signature \"{inner}\"")));
                }
                Value::Variant(Box::new(self.value(&inner)?))
            }
            b'a' => {
                let length = self.u32()? as usize;
                let element = &sig[1..];
                self.align(alignment(element.as_bytes()[0]))?;
                let end = self.pos + length;
                if end > self.data.len() {
                    return Err(malformed("array longer than its message"));
                }
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value(element)?);
                }
                if self.pos != end {
                    return Err(malformed("array elements overrun its length"));
                }
                Value::Array(element.to_string(), items)
            }
            b'(' | b'{' => {
                self.align(8)?;
                let mut fields = Vec::new();
                for field in split_signature(&sig[1..sig.len() - 1])? {
                    fields.push(self.value(field)?);
                }
                if code == b'(' {
                    Value::Struct(fields)
                } else {
                    let mut kv = fields.into_iter();
                    match (kv.next(), kv.next(), kv.next()) {
                        (Some(k), Some(v), None) => Value::DictEntry(Box::new(k), Box::new(v)),
                        _ => return Err(malformed(format!("dict entry \"{sig}\""))),
                    }
                }
            }
            _ => return Err(malformed(format!("type code '{}'", code as char))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(value: Value) {
        let mut w = Writer::default();
        w.value(&value);
        let sig = value.signature();
        let mut r = Reader::new(&w.buf, 0);
        assert_eq!(r.value(&sig).unwrap(), value, "signature {sig}");
        assert_eq!(r.pos(), w.buf.len());
    }

    #[test]
    fn every_property_type_of_runc_round_trips() {
        round_trip(Value::u32_array(&[1, 4242]));
        round_trip(Value::Bool(true));
        round_trip(Value::str("system.slice"));
        round_trip(Value::U64(u64::MAX));
        round_trip(Value::bytes(&[0b1010, 1]));
        round_trip(Value::str_pairs(&[("/dev/null", "rwm"), ("char-pts", "rw")]));
        round_trip(Value::str_array(&[]));
        let prop = |n: &str, v: Value| Value::Struct(vec![Value::str(n), Value::Variant(Box::new(v))]);
        round_trip(Value::Array(
            "(sv)".into(),
            vec![prop("PIDs", Value::u32_array(&[7])), prop("MemoryMax", Value::U64(1 << 20))],
        ));
        round_trip(Value::Array("{sv}".into(), vec![]));
    }

    #[test]
    fn marshalling_matches_the_specification_bytes() {
        // a(sv) holding ("A", <u 5>), at offset 0: the length, padding to
        // the struct's 8, "A", the variant's signature "u", padding to 4, 5.
        let mut w = Writer::default();
        w.value(&Value::Array(
            "(sv)".into(),
            vec![Value::Struct(vec![Value::str("A"), Value::Variant(Box::new(Value::U32(5)))])],
        ));
        assert_eq!(
            w.buf,
            [
                16, 0, 0, 0, 0, 0, 0, 0, // length, pad to 8
                1, 0, 0, 0, b'A', 0, // "A"
                1, b'u', 0, 0, 0, 0, // signature "u", pad to 4
                5, 0, 0, 0
            ]
        );
        // An empty array of 8-aligned elements still pads after its length.
        let mut w = Writer::default();
        w.value(&Value::Byte(1));
        w.value(&Value::Array("(sv)".into(), vec![]));
        assert_eq!(w.buf, [1, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(Reader::new(&[3, 0, 0, 0, b'a', b'b'], 0).value("s").is_err());
        assert!(Reader::new(&[1, 0, 0, 0, b'a', b'b'], 0).value("s").is_err());
        assert!(Reader::new(&[2, 0, 0, 0], 0).value("b").is_err());
        assert!(Reader::new(&[255, 0, 0, 0], 0).value("au").is_err());
        assert!(split_signature("a(su").is_err());
        assert!(split_signature("z").is_err());
        assert_eq!(split_signature("sa(sv)a(sa(sv))").unwrap(), ["s", "a(sv)", "a(sa(sv))"]);
    }
}
