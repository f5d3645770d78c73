//! A registered claim's value captured from `serde_json` during the one
//! pass, and replayed call for call to the caller's claims type, so both
//! the validator and `C` see it without a second parse; and [`Key`], the
//! member-name seed the one pass and `cnf` read names with. No claim
//! rules: what a value must be is `registered`'s.
//!
//! Every method is `#[inline]`: they run once per registered claim on the
//! hot path, and out of line (in another codegen unit than the one pass)
//! they cost about 400 instructions per token.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// A registered claim's value as `serde_json` reported it, so it can be
/// replayed to `C` call for call. Only the shapes registered claims
/// have; anything else fails the capture (and the one pass).
pub(super) enum Captured<'de> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    /// Borrowed from the payload unless it held escapes.
    Str(Cow<'de, str>),
    Strs(Vec<Cow<'de, str>>),
    /// An object (`cnf`), members in order.
    Map(Vec<(Cow<'de, str>, Captured<'de>)>),
}

pub(super) struct Capture;

impl<'de> DeserializeSeed<'de> for Capture {
    type Value = Captured<'de>;
    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Captured<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Capture {
    type Value = Captured<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a number, null, an array of strings or an object of those")
    }
    #[inline]
    fn visit_unit<E: de::Error>(self) -> Result<Captured<'de>, E> {
        Ok(Captured::Null)
    }
    #[inline]
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Captured<'de>, E> {
        Ok(Captured::Bool(v))
    }
    #[inline]
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Captured<'de>, E> {
        Ok(Captured::U64(v))
    }
    #[inline]
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Captured<'de>, E> {
        Ok(Captured::I64(v))
    }
    #[inline]
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Captured<'de>, E> {
        Ok(Captured::F64(v))
    }
    #[inline]
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Captured<'de>, E> {
        Ok(Captured::Str(Cow::Borrowed(v)))
    }
    #[inline]
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Captured<'de>, E> {
        Ok(Captured::Str(Cow::Owned(v.to_owned())))
    }
    #[inline]
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Captured<'de>, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element_seed(Capture)? {
            match item {
                Captured::Str(s) => out.push(s),
                _ => return Err(de::Error::custom("not an array of strings")),
            }
        }
        Ok(Captured::Strs(out))
    }
    #[inline]
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Captured<'de>, A::Error> {
        let mut out = Vec::new();
        while let Some(name) = map.next_key_seed(Key)? {
            out.push((name, map.next_value_seed(Capture)?));
        }
        Ok(Captured::Map(out))
    }
}

/// A member name, borrowed from the payload unless it held escapes.
pub(super) struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    #[inline]
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    #[inline]
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

/// Replays a captured value: the visitor gets the calls `serde_json`
/// would have made for it.
pub(super) struct Replay<'c, 'de, E> {
    value: &'c Captured<'de>,
    error: PhantomData<E>,
}

impl<'c, 'de, E> Replay<'c, 'de, E> {
    pub(super) fn new(value: &'c Captured<'de>) -> Self {
        Replay {
            value,
            error: PhantomData,
        }
    }
}

impl<'de, E: de::Error> Deserializer<'de> for Replay<'_, 'de, E> {
    type Error = E;

    #[inline]
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.value {
            Captured::Null => visitor.visit_unit(),
            Captured::Bool(v) => visitor.visit_bool(*v),
            Captured::U64(v) => visitor.visit_u64(*v),
            Captured::I64(v) => visitor.visit_i64(*v),
            Captured::F64(v) => visitor.visit_f64(*v),
            Captured::Str(Cow::Borrowed(s)) => visitor.visit_borrowed_str(s),
            Captured::Str(Cow::Owned(s)) => visitor.visit_str(s),
            Captured::Strs(items) => visitor.visit_seq(ReplaySeq {
                items: items.iter(),
                error: PhantomData,
            }),
            Captured::Map(members) => visitor.visit_map(ReplayMap {
                members: members.iter(),
                value: None,
                error: PhantomData,
            }),
        }
    }

    #[inline]
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.value {
            Captured::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    #[inline]
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_unit()
    }

    #[inline]
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        // serde_json's RawValue asks for the source text, which a
        // captured value no longer has.
        if name.starts_with("$serde_json") {
            return Err(E::custom("raw value"));
        }
        visitor.visit_newtype_struct(self)
    }

    #[inline]
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, E> {
        Err(E::custom("enum"))
    }

    #[inline]
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.value {
            Captured::Str(Cow::Borrowed(s)) => visitor.visit_borrowed_bytes(s.as_bytes()),
            Captured::Str(Cow::Owned(s)) => visitor.visit_bytes(s.as_bytes()),
            _ => self.deserialize_any(visitor),
        }
    }

    #[inline]
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        self.deserialize_bytes(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

struct ReplaySeq<'c, 'de, E> {
    items: std::slice::Iter<'c, Cow<'de, str>>,
    error: PhantomData<E>,
}

impl<'de, E: de::Error> SeqAccess<'de> for ReplaySeq<'_, 'de, E> {
    type Error = E;
    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, E> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let value = Captured::Str(item.clone());
        seed.deserialize(Replay::new(&value)).map(Some)
    }
    #[inline]
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct ReplayMap<'c, 'de, E> {
    members: std::slice::Iter<'c, (Cow<'de, str>, Captured<'de>)>,
    /// The value of the member whose name was just given.
    value: Option<&'c Captured<'de>>,
    error: PhantomData<E>,
}

impl<'de, E: de::Error> MapAccess<'de> for ReplayMap<'_, 'de, E> {
    type Error = E;
    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, E> {
        let Some((name, value)) = self.members.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        let name = Captured::Str(name.clone());
        seed.deserialize(Replay::new(&name)).map(Some)
    }
    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, E> {
        let value = self
            .value
            .take()
            .ok_or_else(|| E::custom("a value asked for before its name"))?;
        seed.deserialize(Replay::new(value))
    }
    #[inline]
    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len())
    }
}
