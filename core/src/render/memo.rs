//! The shared-render memo of [`super::Context::render_shared`]: texts by the template and the
//! input they were rendered from.
//!
//! A template sees nothing but its input converted to a minijinja value, and that conversion
//! sees nothing but the input's serde events (`Value::from_serialize`). So two inputs whose
//! event streams are equal render to the same text, and the key of a rendering is its template
//! and its input's events, written by [`Key`]: a binary encoding in which every event carries a
//! tag and every string its length. That encoding is injective (two different event streams
//! never give the same bytes), and writing it is mostly copying: unlike JSON (the key until
//! December 2026) it escapes nothing, and it never fails (JSON cannot represent some inputs).
//!
//! Keys are looked up by a 64-bit hash and then compared byte for byte, so a hash collision
//! costs a comparison, never a wrong text. The key buffer is reused from one lookup to the
//! next: a hit allocates nothing (the caller copies the text it gets).

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser;

/// Renderings by key (see the module docs).
#[derive(Debug, Default)]
pub(super) struct Memo {
    /// The key being built (reused).
    key: Vec<u8>,
    entries: Vec<Entry>,
    /// Indices into `entries` by the hash of their key.
    by_key: BTreeMap<u64, Vec<usize>>,
    /// Indices into `entries` by the hash of their text, for [`Memo::entry_for_text`].
    by_text: BTreeMap<u64, Vec<usize>>,
    /// The length of the longest text.
    longest: usize,
    /// About how many bytes the entries hold: their keys and twice their texts (a text and,
    /// once finished, its clean copy).
    held: usize,
}

/// One rendering.
#[derive(Debug)]
pub(super) struct Entry {
    key: Box<[u8]>,
    /// The rendered text.
    pub(super) text: String,
    /// What the text becomes as a whole file, once worked out (see [`super::Context::finish`]).
    pub(super) finished: Option<super::FinishedText>,
}

/// A key that was not found: [`Memo::store`] files the text rendered for it.
#[derive(Debug)]
pub(super) struct Missing(Box<[u8]>);

impl Memo {
    /// The text already rendered from `template` with `input`; else the key to store the text
    /// under once rendered (`None` when a `Serialize` implementation of the input failed: then
    /// the input has no key and is rendered every time).
    pub(super) fn lookup<S: Serialize + ?Sized>(
        &mut self,
        template: &str,
        input: &S,
    ) -> Result<&str, Option<Missing>> {
        self.key.clear();
        let mut key = Key { out: &mut self.key };
        key.bytes(template.as_bytes());
        if input.serialize(&mut key).is_err() {
            return Err(None);
        }
        let key = self.key.as_slice();
        let entries = &self.entries;
        let found = self
            .by_key
            .get(&hash(key))
            .into_iter()
            .flatten()
            .filter_map(|i| entries.get(*i))
            .find(|e| *e.key == *key);
        match found {
            Some(entry) => Ok(&entry.text),
            None => Err(Some(Missing(key.into()))),
        }
    }

    /// Files `text` under a key [`Memo::lookup`] did not find.
    pub(super) fn store(&mut self, key: Missing, text: String) {
        let index = self.entries.len();
        self.by_key.entry(hash(&key.0)).or_default().push(index);
        self.by_text
            .entry(hash(text.as_bytes()))
            .or_default()
            .push(index);
        self.longest = self.longest.max(text.len());
        self.held = self
            .held
            .saturating_add(key.0.len())
            .saturating_add(text.len().saturating_mul(2));
        self.entries.push(Entry {
            key: key.0,
            text,
            finished: None,
        });
    }

    /// See [`Memo::held`]'s field.
    pub(super) fn held(&self) -> usize {
        self.held
    }

    /// Forgets every rendering when they hold more than `budget` bytes. Only the time of later
    /// renders changes: a rendering not found is rendered again, to the same text.
    pub(super) fn forget_if_over(&mut self, budget: usize) {
        if self.held > budget {
            *self = Memo::default();
        }
    }

    /// The rendering whose text is exactly `text`, if there is one (a file that is a shared
    /// rendering as a whole: a vhost, a check file).
    pub(super) fn entry_for_text(&mut self, text: &str) -> Option<&mut Entry> {
        if text.len() > self.longest {
            return None;
        }
        let index = *self
            .by_text
            .get(&hash(text.as_bytes()))?
            .iter()
            .find(|i| self.entries.get(**i).is_some_and(|e| e.text == text))?;
        self.entries.get_mut(index)
    }
}

/// A 64-bit hash of `bytes`, a word at a time (multiply and rotate, as rustc's FxHash). Only
/// the speed of lookups depends on its quality: keys with equal hashes are compared in full.
fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let w = <[u8; 8]>::try_from(word).map_or(0, u64::from_le_bytes);
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let mut last = [0u8; 8];
    for (slot, b) in last.iter_mut().zip(words.remainder()) {
        *slot = *b;
    }
    (h.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(K)
}

/// Event tags. `END` closes a sequence, tuple, map or struct: every value starts with a tag
/// other than `END`, so a reader always knows whether another element follows.
mod tag {
    pub const END: u8 = 0;
    pub const BOOL: u8 = 1;
    pub const I8: u8 = 2;
    pub const I16: u8 = 3;
    pub const I32: u8 = 4;
    pub const I64: u8 = 5;
    pub const I128: u8 = 6;
    pub const U8: u8 = 7;
    pub const U16: u8 = 8;
    pub const U32: u8 = 9;
    pub const U64: u8 = 10;
    pub const U128: u8 = 11;
    pub const F32: u8 = 12;
    pub const F64: u8 = 13;
    pub const CHAR: u8 = 14;
    pub const STR: u8 = 15;
    pub const BYTES: u8 = 16;
    pub const NONE: u8 = 17;
    pub const SOME: u8 = 18;
    pub const UNIT: u8 = 19;
    pub const UNIT_STRUCT: u8 = 20;
    pub const UNIT_VARIANT: u8 = 21;
    pub const NEWTYPE_STRUCT: u8 = 22;
    pub const NEWTYPE_VARIANT: u8 = 23;
    pub const SEQ: u8 = 24;
    pub const TUPLE: u8 = 25;
    pub const TUPLE_STRUCT: u8 = 26;
    pub const TUPLE_VARIANT: u8 = 27;
    pub const MAP: u8 = 28;
    pub const STRUCT: u8 = 29;
    pub const STRUCT_VARIANT: u8 = 30;
    pub const FIELD: u8 = 31;
    pub const SKIPPED_FIELD: u8 = 32;
}

/// Writes serde events as the key encoding (see the module docs).
struct Key<'a> {
    out: &'a mut Vec<u8>,
}

/// Only a `Serialize` implementation's own error ([`ser::Error::custom`]).
#[derive(Debug)]
pub(super) struct KeyError;

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the input cannot be serialised")
    }
}

impl std::error::Error for KeyError {}

impl ser::Error for KeyError {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        KeyError
    }
}

impl Key<'_> {
    fn tag(&mut self, tag: u8) {
        self.out.push(tag);
    }

    /// A length-prefixed byte string.
    fn bytes(&mut self, b: &[u8]) {
        self.out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        self.out.extend_from_slice(b);
    }

    fn variant(&mut self, tag: u8, name: &str, index: u32, variant: &str) {
        self.tag(tag);
        self.bytes(name.as_bytes());
        self.out.extend_from_slice(&index.to_le_bytes());
        self.bytes(variant.as_bytes());
    }
}

type Done = Result<(), KeyError>;

impl<'a> ser::Serializer for &mut Key<'a> {
    type Ok = ();
    type Error = KeyError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Done {
        self.out.extend_from_slice(&[tag::BOOL, u8::from(v)]);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Done {
        self.tag(tag::I8);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Done {
        self.tag(tag::I16);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Done {
        self.tag(tag::I32);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Done {
        self.tag(tag::I64);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Done {
        self.tag(tag::I128);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Done {
        self.out.extend_from_slice(&[tag::U8, v]);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Done {
        self.tag(tag::U16);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Done {
        self.tag(tag::U32);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Done {
        self.tag(tag::U64);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Done {
        self.tag(tag::U128);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Done {
        self.tag(tag::F32);
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Done {
        self.tag(tag::F64);
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Done {
        self.tag(tag::CHAR);
        self.out.extend_from_slice(&u32::from(v).to_le_bytes());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Done {
        self.tag(tag::STR);
        self.bytes(v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Done {
        self.tag(tag::BYTES);
        self.bytes(v);
        Ok(())
    }
    fn serialize_none(self) -> Done {
        self.tag(tag::NONE);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Done {
        self.tag(tag::SOME);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Done {
        self.tag(tag::UNIT);
        Ok(())
    }
    fn serialize_unit_struct(self, name: &'static str) -> Done {
        self.tag(tag::UNIT_STRUCT);
        self.bytes(name.as_bytes());
        Ok(())
    }
    fn serialize_unit_variant(self, name: &'static str, index: u32, variant: &'static str) -> Done {
        self.variant(tag::UNIT_VARIANT, name, index, variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Done {
        self.tag(tag::NEWTYPE_STRUCT);
        self.bytes(name.as_bytes());
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Done {
        self.variant(tag::NEWTYPE_VARIANT, name, index, variant);
        value.serialize(self)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self, KeyError> {
        self.tag(tag::SEQ);
        Ok(self)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self, KeyError> {
        self.tag(tag::TUPLE);
        Ok(self)
    }
    fn serialize_tuple_struct(self, name: &'static str, _len: usize) -> Result<Self, KeyError> {
        self.tag(tag::TUPLE_STRUCT);
        self.bytes(name.as_bytes());
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self, KeyError> {
        self.variant(tag::TUPLE_VARIANT, name, index, variant);
        Ok(self)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self, KeyError> {
        self.tag(tag::MAP);
        Ok(self)
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Self, KeyError> {
        self.tag(tag::STRUCT);
        self.bytes(name.as_bytes());
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self, KeyError> {
        self.variant(tag::STRUCT_VARIANT, name, index, variant);
        Ok(self)
    }
}

impl ser::SerializeSeq for &mut Key<'_> {
    type Ok = ();
    type Error = KeyError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        self.tag(tag::END);
        Ok(())
    }
}

impl ser::SerializeTuple for &mut Key<'_> {
    type Ok = ();
    type Error = KeyError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        self.tag(tag::END);
        Ok(())
    }
}

impl ser::SerializeTupleStruct for &mut Key<'_> {
    type Ok = ();
    type Error = KeyError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        self.tag(tag::END);
        Ok(())
    }
}

impl ser::SerializeTupleVariant for &mut Key<'_> {
    type Ok = ();
    type Error = KeyError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        self.tag(tag::END);
        Ok(())
    }
}

impl ser::SerializeMap for &mut Key<'_> {
    type Ok = ();
    type Error = KeyError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Done {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        self.tag(tag::END);
        Ok(())
    }
}

impl ser::SerializeStruct for &mut Key<'_> {
    type Ok = ();
    type Error = KeyError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Done {
        self.tag(tag::FIELD);
        self.bytes(key.as_bytes());
        value.serialize(&mut **self)
    }
    fn skip_field(&mut self, key: &'static str) -> Done {
        self.tag(tag::SKIPPED_FIELD);
        self.bytes(key.as_bytes());
        Ok(())
    }
    fn end(self) -> Done {
        self.tag(tag::END);
        Ok(())
    }
}

impl ser::SerializeStructVariant for &mut Key<'_> {
    type Ok = ();
    type Error = KeyError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Done {
        self.tag(tag::FIELD);
        self.bytes(key.as_bytes());
        value.serialize(&mut **self)
    }
    fn skip_field(&mut self, key: &'static str) -> Done {
        self.tag(tag::SKIPPED_FIELD);
        self.bytes(key.as_bytes());
        Ok(())
    }
    fn end(self) -> Done {
        self.tag(tag::END);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

    use super::*;

    fn key<S: Serialize>(template: &str, input: &S) -> Vec<u8> {
        let mut memo = Memo::default();
        match memo.lookup(template, input) {
            Err(Some(Missing(key))) => key.into_vec(),
            _ => panic!("a new key must be missing"),
        }
    }

    #[derive(Serialize)]
    struct A {
        x: Option<String>,
        y: Vec<String>,
    }

    #[derive(Serialize)]
    struct B {
        y: Vec<String>,
        x: Option<String>,
    }

    #[test]
    fn different_inputs_give_different_keys() {
        let s = |v: &str| v.to_owned();
        // Strings that would run together without lengths, elements that could shift between
        // neighbouring sequences without end tags, fields in another order, the same data
        // under another type or template.
        let keys = [
            key(
                "t",
                &A {
                    x: Some(s("ab")),
                    y: vec![s("c")],
                },
            ),
            key(
                "t",
                &A {
                    x: Some(s("a")),
                    y: vec![s("bc")],
                },
            ),
            key(
                "t",
                &A {
                    x: None,
                    y: vec![s("a"), s("bc")],
                },
            ),
            key(
                "t",
                &A {
                    x: None,
                    y: vec![s("abc")],
                },
            ),
            key(
                "t",
                &A {
                    x: Some(s("")),
                    y: vec![],
                },
            ),
            key(
                "t",
                &A {
                    x: None,
                    y: vec![s("")],
                },
            ),
            key(
                "t",
                &B {
                    x: Some(s("ab")),
                    y: vec![s("c")],
                },
            ),
            key(
                "u",
                &A {
                    x: Some(s("ab")),
                    y: vec![s("c")],
                },
            ),
            key("t", &(vec![s("a")], vec![s("b")])),
            key("t", &(vec![s("a"), s("b")], Vec::<String>::new())),
            key("t", &(1u16, 2u32)),
            key("t", &(1u32, 2u16)),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in keys.iter().skip(i + 1) {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn a_stored_text_is_found_by_an_equal_input_only() {
        let mut memo = Memo::default();
        let input = A {
            x: Some("www".into()),
            y: vec!["a".into()],
        };
        let Err(Some(missing)) = memo.lookup("t", &input) else {
            panic!("an empty memo has nothing");
        };
        memo.store(missing, "rendered".into());
        assert_eq!(memo.lookup("t", &input).ok(), Some("rendered"));
        let other = A {
            x: Some("www".into()),
            y: vec!["b".into()],
        };
        assert!(memo.lookup("t", &other).is_err());
        assert!(memo.lookup("u", &input).is_err());
        assert!(memo.entry_for_text("rendered").is_some());
        assert!(memo.entry_for_text("rendere").is_none());
        assert!(memo.entry_for_text("renderee").is_none());
    }

    #[test]
    fn hashes_see_every_byte() {
        let base = vec![7u8; 37];
        for i in 0..base.len() {
            let mut changed = base.clone();
            if let Some(b) = changed.get_mut(i) {
                *b = 8;
            }
            assert_ne!(hash(&base), hash(&changed), "byte {i}");
        }
        assert_ne!(hash(&[0u8; 8]), hash(&[0u8; 9]));
    }
}
