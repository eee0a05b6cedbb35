//! Conversion between user types (serde) and Socket.IO event arguments.
//!
//! An EVENT or ACK packet carries a JSON array: `["name", arg1, arg2, ...]` for events,
//! `[arg1, arg2, ...]` for acks. Binary values are not part of the JSON: each one is replaced by
//! a placeholder object `{"_placeholder":true,"num":N}` (N counting from 0 in serialization
//! order) and its bytes travel separately as an attachment.
//!
//! [`write_args`] and [`read_args`] convert straight between user types and that JSON text plus
//! attachments, wrapping serde_json's `Serializer` and `Deserializer` (no `serde_json::Value`
//! tree is built).
//!
//! # Argument spreading
//!
//! A value that serializes as a tuple (`(a, b)`, `(a,)`, and also fixed-size arrays `[T; N]`,
//! which serde treats as tuples) is spread: each element is one argument. `()` means no
//! arguments. Anything else, including tuple structs, is a single argument. [`read_args`]
//! applies the same rules: a tuple takes the arguments in order (extra ones are ignored, missing
//! trailing ones are only accepted for types that can be absent, such as `Option`), `()` accepts
//! any arguments, and any other type reads the first argument.
//!
//! # Binary values
//!
//! Every `serialize_bytes` call, at any depth (`bytes::Bytes`, `serde_bytes::ByteBuf`, ...),
//! becomes a placeholder and pushes an attachment. On reading, a placeholder met by
//! `deserialize_bytes`, `deserialize_byte_buf` or `deserialize_seq` (for `Vec<u8>`) yields the
//! attachment's bytes. Everything else reads as plain JSON; in particular a placeholder read as
//! `serde_json::Value`, or buffered by `#[serde(untagged)]`, `#[serde(flatten)]` or internally
//! tagged enums, stays a plain object.
//!
//! [`check_placeholders`] validates the placeholders of any JSON text against an attachment count.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;
use serde::de::value::SeqDeserializer;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IgnoredAny, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};
use serde::ser::{
    self, Impossible, Serialize, SerializeMap, SerializeSeq, SerializeStruct,
    SerializeStructVariant, SerializeTuple, SerializeTupleStruct, SerializeTupleVariant,
    Serializer,
};
use serde::Deserialize;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Errors converting between user types and event payloads.
#[derive(Debug)]
#[non_exhaustive]
pub enum ValueError {
    /// The JSON could not be written or parsed, or its shape does not fit the requested type.
    Json(serde_json::Error),
    /// A placeholder object met where binary data was expected does not name an attachment.
    Placeholder(PlaceholderError),
    /// The argument at `index` (counted after the skipped elements) is absent and its type cannot
    /// be read from nothing.
    MissingArgument {
        /// Position of the missing argument, 0 for the first argument after the skipped ones.
        index: usize,
    },
    /// The payload is not a JSON array (its first non-whitespace byte is not `[`).
    NotAnArray,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => fmt::Display::fmt(e, f),
            Self::Placeholder(e) => fmt::Display::fmt(e, f),
            Self::MissingArgument { index } => write!(f, "missing event argument {index}"),
            Self::NotAnArray => f.write_str("event payload is not a JSON array"),
        }
    }
}

impl std::error::Error for ValueError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Json(e) => Some(e),
            Self::Placeholder(e) => Some(e),
            Self::MissingArgument { .. } | Self::NotAnArray => None,
        }
    }
}

impl From<serde_json::Error> for ValueError {
    fn from(e: serde_json::Error) -> Self {
        Self::Json(e)
    }
}

impl From<PlaceholderError> for ValueError {
    fn from(e: PlaceholderError) -> Self {
        Self::Placeholder(e)
    }
}

/// An invalid binary placeholder, or (from [`check_placeholders`]) invalid JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceholderError {
    /// `num` is a non-negative integer, but only `count` attachments exist.
    OutOfRange {
        /// The placeholder's `num`.
        num: u64,
        /// How many attachments the packet has.
        count: usize,
    },
    /// An object with `"_placeholder": true` has no `num`, or one that is not a non-negative
    /// integer.
    InvalidNum,
    /// The text is not valid JSON (or nests deeper than serde_json's limit of 128).
    InvalidJson,
}

impl fmt::Display for PlaceholderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfRange { num, count } => write!(
                f,
                "binary placeholder {num} is out of range ({count} attachments)"
            ),
            Self::InvalidNum => {
                f.write_str("binary placeholder without a non-negative integer `num`")
            }
            Self::InvalidJson => f.write_str("invalid JSON"),
        }
    }
}

impl std::error::Error for PlaceholderError {}

// ---------------------------------------------------------------------------------------------
// Serialization
// ---------------------------------------------------------------------------------------------

/// Serialize `args` as an argument list, appending to `out` the JSON array text
/// `[<"event",> arg1, arg2, ...]` (event name first when `event` is `Some`), and pushing every
/// binary value to `attachments` while writing a placeholder in its place. Placeholder numbering
/// continues from `attachments.len()` at entry.
///
/// `args` is spread into several arguments when it serializes as a tuple, `()` writes no
/// argument, anything else is one argument (see the [module docs](self)). Apart from
/// placeholders the output is exactly what serde_json writes. On error, `out` and `attachments`
/// are left as they were at entry.
///
/// For a non-tuple `args`, `Serialize::serialize` is called twice: once to learn that the value
/// is not a tuple (this call stops at the first serializer method), once to write it.
///
/// # Errors
///
/// [`ValueError::Json`] when `args` cannot be serialized as JSON (its `Serialize` impl fails, or
/// a map has keys that are not strings or numbers).
pub fn write_args<T: ?Sized + Serialize>(
    out: &mut Vec<u8>,
    event: Option<&str>,
    args: &T,
    attachments: &mut Vec<Bytes>,
) -> Result<(), ValueError> {
    let (out_len, count) = (out.len(), attachments.len());
    let sink = Sink(RefCell::new(std::mem::take(attachments)));
    let result = write_array(out, event, args, &sink);
    *attachments = sink.0.into_inner();
    if result.is_err() {
        out.truncate(out_len);
        attachments.truncate(count);
    }
    result.map_err(ValueError::Json)
}

/// Arguments serde wrote with [`write_args`] (no event name): a JSON array and its
/// attachments that every client decodes, so the cores send them without checking them again
/// ([`Server::ack_args`](crate::server::Server::ack_args)).
#[derive(Debug, Clone)]
pub struct Args {
    /// The JSON array, or with `open` the array without its `[` (the elements after an
    /// event's name, as they came in the event's own text, shared with it: see
    /// [`Args::of_event`]).
    json: bytestring::ByteString,
    open: bool,
    attachments: Vec<Bytes>,
}

impl Default for Args {
    /// No arguments: `[]`.
    fn default() -> Self {
        Args {
            json: bytestring::ByteString::from_static("[]"),
            open: false,
            attachments: Vec::new(),
        }
    }
}

impl PartialEq for Args {
    fn eq(&self, other: &Args) -> bool {
        self.json() == other.json() && self.attachments == other.attachments
    }
}

impl Eq for Args {}

impl Args {
    /// Serialize `args` (a tuple for several arguments, `()` for none).
    ///
    /// # Errors
    ///
    /// What [`write_args`] returns.
    pub fn new<T: ?Sized + Serialize>(args: &T) -> Result<Args, ValueError> {
        let mut json = Vec::new();
        let mut attachments = Vec::new();
        write_args(&mut json, None, args, &mut attachments)?;
        let json = String::from_utf8(json).expect("serde_json writes UTF-8");
        Ok(Args {
            json: json.into(),
            open: false,
            attachments,
        })
    }

    /// The arguments of an event packet the core decoded (an
    /// [`Event::Message`](crate::server::Event::Message)'s), without its name: to answer or
    /// forward them without parsing them again. `None` when the packet has no event data.
    ///
    /// As every client writes an event (`["name",` first), the arguments are the rest of the
    /// event's text, shared with it, not copied.
    ///
    /// The packet's JSON is not checked again: pass only packets the core handed out (a
    /// packet built by hand with invalid JSON would reach clients that then fail to parse it).
    pub fn of_event(packet: &crate::socket::Packet) -> Option<Args> {
        let data = packet.data.as_ref()?;
        let (json, open) = match crate::socket::packet::event_args_tail(data) {
            Some(at) => (data.slice_ref(&data[at..]), true),
            None => (crate::socket::packet::event_args_of(data)?.into(), false),
        };
        Some(Args {
            json,
            open,
            attachments: packet.attachments.clone(),
        })
    }

    /// The JSON array.
    pub fn json(&self) -> Cow<'_, str> {
        if self.open {
            let mut all = String::with_capacity(self.json_len());
            self.write_json(&mut all);
            Cow::Owned(all)
        } else {
            Cow::Borrowed(&self.json)
        }
    }

    /// The length of [`Args::json`].
    pub(crate) fn json_len(&self) -> usize {
        self.json.len() + usize::from(self.open)
    }

    /// Append [`Args::json`] to `out`.
    pub(crate) fn write_json(&self, out: &mut String) {
        if self.open {
            out.push('[');
        }
        out.push_str(&self.json);
    }

    /// The binary attachments.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// The JSON array and the attachments.
    pub fn into_parts(self) -> (bytestring::ByteString, Vec<Bytes>) {
        let json = match self.json() {
            Cow::Owned(all) => all.into(),
            Cow::Borrowed(_) => self.json,
        };
        (json, self.attachments)
    }

    /// Take the attachments (what is left writes the JSON).
    pub(crate) fn take_attachments(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.attachments)
    }
}

fn write_array<T: ?Sized + Serialize>(
    out: &mut Vec<u8>,
    event: Option<&str>,
    args: &T,
    sink: &Sink,
) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::new(out);
    match args.serialize(Spread {
        ser: &mut ser,
        event,
        sink,
    }) {
        Ok(()) => Ok(()),
        Err(SpreadError::Inner(e)) => Err(e),
        Err(SpreadError::NotTuple) => write_single(&mut ser, event, args, sink),
    }
}

/// Writes the argument array with `args` as its one argument.
fn write_single<S: Serializer, T: ?Sized + Serialize>(
    ser: S,
    event: Option<&str>,
    args: &T,
    sink: &Sink,
) -> Result<S::Ok, S::Error> {
    let mut seq = open_array(ser, event)?;
    seq.serialize_element(&Wrap { value: args, sink })?;
    seq.end()
}

/// Opens the argument array and writes the event name, if any.
fn open_array<S: Serializer>(ser: S, event: Option<&str>) -> Result<S::SerializeSeq, S::Error> {
    let mut seq = ser.serialize_seq(None)?;
    if let Some(event) = event {
        seq.serialize_element(event)?;
    }
    Ok(seq)
}

/// Where binary values go while serializing.
struct Sink(RefCell<Vec<Bytes>>);

impl Sink {
    /// Stores `bytes` as the next attachment and returns its number.
    fn push(&self, bytes: &[u8]) -> usize {
        let mut attachments = self.0.borrow_mut();
        attachments.push(Bytes::copy_from_slice(bytes));
        attachments.len() - 1
    }
}

/// Serializes as `{"_placeholder":true,"num":N}`.
struct Placeholder(usize);

impl Serialize for Placeholder {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("_placeholder", &true)?;
        map.serialize_entry("num", &self.0)?;
        map.end()
    }
}

/// A value to serialize through [`BinSer`].
struct Wrap<'a, T: ?Sized> {
    value: &'a T,
    sink: &'a Sink,
}

impl<T: ?Sized + Serialize> Serialize for Wrap<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(BinSer {
            ser: serializer,
            sink: self.sink,
        })
    }
}

/// Serializer wrapper turning bytes into placeholders at any depth.
struct BinSer<'a, S> {
    ser: S,
    sink: &'a Sink,
}

/// Forwards serializer methods that involve no nested value.
macro_rules! forward_ser {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method(self, $($arg: $ty),*) -> Result<S::Ok, S::Error> {
            self.ser.$method($($arg),*)
        }
    )*};
}

/// Forwards serializer methods that open a compound, wrapping the compound.
macro_rules! compound_ser {
    ($($method:ident($($arg:ident: $ty:ty),*) -> $assoc:ident;)*) => {$(
        fn $method(self, $($arg: $ty),*) -> Result<Self::$assoc, S::Error> {
            Ok(Compound { inner: self.ser.$method($($arg),*)?, sink: self.sink })
        }
    )*};
}

impl<'a, S: Serializer> Serializer for BinSer<'a, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Compound<'a, S::SerializeSeq>;
    type SerializeTuple = Compound<'a, S::SerializeTuple>;
    type SerializeTupleStruct = Compound<'a, S::SerializeTupleStruct>;
    type SerializeTupleVariant = Compound<'a, S::SerializeTupleVariant>;
    type SerializeMap = Compound<'a, S::SerializeMap>;
    type SerializeStruct = Compound<'a, S::SerializeStruct>;
    type SerializeStructVariant = Compound<'a, S::SerializeStructVariant>;

    forward_ser! {
        serialize_bool(v: bool);
        serialize_i8(v: i8);
        serialize_i16(v: i16);
        serialize_i32(v: i32);
        serialize_i64(v: i64);
        serialize_i128(v: i128);
        serialize_u8(v: u8);
        serialize_u16(v: u16);
        serialize_u32(v: u32);
        serialize_u64(v: u64);
        serialize_u128(v: u128);
        serialize_f32(v: f32);
        serialize_f64(v: f64);
        serialize_char(v: char);
        serialize_str(v: &str);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
    }

    compound_ser! {
        serialize_seq(len: Option<usize>) -> SerializeSeq;
        serialize_tuple(len: usize) -> SerializeTuple;
        serialize_tuple_struct(name: &'static str, len: usize) -> SerializeTupleStruct;
        serialize_tuple_variant(
            name: &'static str, index: u32, variant: &'static str, len: usize
        ) -> SerializeTupleVariant;
        serialize_map(len: Option<usize>) -> SerializeMap;
        serialize_struct(name: &'static str, len: usize) -> SerializeStruct;
        serialize_struct_variant(
            name: &'static str, index: u32, variant: &'static str, len: usize
        ) -> SerializeStructVariant;
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<S::Ok, S::Error> {
        Placeholder(self.sink.push(v)).serialize(self.ser)
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<S::Ok, S::Error> {
        let sink = self.sink;
        self.ser.serialize_some(&Wrap { value, sink })
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        let sink = self.sink;
        self.ser
            .serialize_newtype_struct(name, &Wrap { value, sink })
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        let sink = self.sink;
        self.ser
            .serialize_newtype_variant(name, index, variant, &Wrap { value, sink })
    }

    fn collect_str<T: ?Sized + fmt::Display>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.ser.collect_str(value)
    }

    fn is_human_readable(&self) -> bool {
        self.ser.is_human_readable()
    }
}

/// A compound serializer whose nested values go through [`BinSer`].
struct Compound<'a, C> {
    inner: C,
    sink: &'a Sink,
}

/// Implements the compound traits whose elements are bare values.
macro_rules! compound_elements {
    ($($trait:ident::$method:ident;)*) => {$(
        impl<C: $trait> $trait for Compound<'_, C> {
            type Ok = C::Ok;
            type Error = C::Error;

            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), C::Error> {
                self.inner.$method(&Wrap { value, sink: self.sink })
            }

            fn end(self) -> Result<C::Ok, C::Error> {
                self.inner.end()
            }
        }
    )*};
}

compound_elements! {
    SerializeSeq::serialize_element;
    SerializeTuple::serialize_element;
    SerializeTupleStruct::serialize_field;
    SerializeTupleVariant::serialize_field;
}

/// Implements the compound traits whose elements are named fields.
macro_rules! compound_fields {
    ($($trait:ident;)*) => {$(
        impl<C: $trait> $trait for Compound<'_, C> {
            type Ok = C::Ok;
            type Error = C::Error;

            fn serialize_field<T: ?Sized + Serialize>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), C::Error> {
                self.inner.serialize_field(key, &Wrap { value, sink: self.sink })
            }

            fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
                self.inner.skip_field(key)
            }

            fn end(self) -> Result<C::Ok, C::Error> {
                self.inner.end()
            }
        }
    )*};
}

compound_fields! {
    SerializeStruct;
    SerializeStructVariant;
}

impl<C: SerializeMap> SerializeMap for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), C::Error> {
        self.inner.serialize_key(&Wrap {
            value: key,
            sink: self.sink,
        })
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), C::Error> {
        self.inner.serialize_value(&Wrap {
            value,
            sink: self.sink,
        })
    }

    fn serialize_entry<K: ?Sized + Serialize, V: ?Sized + Serialize>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), C::Error> {
        let sink = self.sink;
        self.inner
            .serialize_entry(&Wrap { value: key, sink }, &Wrap { value, sink })
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

/// Error of [`Spread`]: `NotTuple` means "nothing written, serialize as one argument".
#[derive(Debug)]
enum SpreadError<E> {
    NotTuple,
    Inner(E),
}

impl<E: fmt::Display> fmt::Display for SpreadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotTuple => f.write_str("not a tuple"),
            Self::Inner(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for SpreadError<E> {}

impl<E: ser::Error> ser::Error for SpreadError<E> {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        Self::Inner(E::custom(msg))
    }
}

/// Top-level serializer: writes the argument array for a tuple or `()`, and refuses anything
/// else with [`SpreadError::NotTuple`] before writing a byte.
struct Spread<'a, S> {
    ser: S,
    event: Option<&'a str>,
    sink: &'a Sink,
}

/// Methods of [`Spread`] for values that are a single argument.
macro_rules! not_tuple {
    ($($method:ident($($ty:ty),*) -> $ret:ty;)*) => {$(
        fn $method(self, $(_: $ty),*) -> Result<$ret, Self::Error> {
            Err(SpreadError::NotTuple)
        }
    )*};
}

impl<'a, S: Serializer> Serializer for Spread<'a, S> {
    type Ok = S::Ok;
    type Error = SpreadError<S::Error>;
    type SerializeSeq = Impossible<S::Ok, Self::Error>;
    type SerializeTuple = SpreadTuple<'a, S::SerializeSeq>;
    type SerializeTupleStruct = Impossible<S::Ok, Self::Error>;
    type SerializeTupleVariant = Impossible<S::Ok, Self::Error>;
    type SerializeMap = Impossible<S::Ok, Self::Error>;
    type SerializeStruct = Impossible<S::Ok, Self::Error>;
    type SerializeStructVariant = Impossible<S::Ok, Self::Error>;

    fn serialize_unit(self) -> Result<S::Ok, Self::Error> {
        open_array(self.ser, self.event)
            .and_then(SerializeSeq::end)
            .map_err(SpreadError::Inner)
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Self::Error> {
        let seq = open_array(self.ser, self.event).map_err(SpreadError::Inner)?;
        Ok(SpreadTuple {
            seq,
            sink: self.sink,
        })
    }

    not_tuple! {
        serialize_bool(bool) -> S::Ok;
        serialize_i8(i8) -> S::Ok;
        serialize_i16(i16) -> S::Ok;
        serialize_i32(i32) -> S::Ok;
        serialize_i64(i64) -> S::Ok;
        serialize_i128(i128) -> S::Ok;
        serialize_u8(u8) -> S::Ok;
        serialize_u16(u16) -> S::Ok;
        serialize_u32(u32) -> S::Ok;
        serialize_u64(u64) -> S::Ok;
        serialize_u128(u128) -> S::Ok;
        serialize_f32(f32) -> S::Ok;
        serialize_f64(f64) -> S::Ok;
        serialize_char(char) -> S::Ok;
        serialize_str(&str) -> S::Ok;
        serialize_bytes(&[u8]) -> S::Ok;
        serialize_none() -> S::Ok;
        serialize_unit_struct(&'static str) -> S::Ok;
        serialize_unit_variant(&'static str, u32, &'static str) -> S::Ok;
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize)
            -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize)
            -> Self::SerializeStructVariant;
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<S::Ok, Self::Error> {
        Err(SpreadError::NotTuple)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<S::Ok, Self::Error> {
        Err(SpreadError::NotTuple)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<S::Ok, Self::Error> {
        Err(SpreadError::NotTuple)
    }

    fn collect_str<T: ?Sized + fmt::Display>(self, _: &T) -> Result<S::Ok, Self::Error> {
        Err(SpreadError::NotTuple)
    }

    fn is_human_readable(&self) -> bool {
        self.ser.is_human_readable()
    }
}

/// The elements of a spread tuple, each written as one argument.
struct SpreadTuple<'a, C> {
    seq: C,
    sink: &'a Sink,
}

impl<C: SerializeSeq> SerializeTuple for SpreadTuple<'_, C> {
    type Ok = C::Ok;
    type Error = SpreadError<C::Error>;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Self::Error> {
        self.seq
            .serialize_element(&Wrap {
                value,
                sink: self.sink,
            })
            .map_err(SpreadError::Inner)
    }

    fn end(self) -> Result<C::Ok, Self::Error> {
        self.seq.end().map_err(SpreadError::Inner)
    }
}

// ---------------------------------------------------------------------------------------------
// Deserialization
// ---------------------------------------------------------------------------------------------

/// Deserialize user data from an argument array `json` (a complete JSON array text), skipping
/// its first `skip` elements (1 to skip an event name), resolving placeholders against
/// `attachments`.
///
/// A tuple `T` takes the arguments in order: extra arguments are ignored, and a missing one is
/// read from nothing (an `Option` gives `None`, other types fail with
/// [`ValueError::MissingArgument`]). `()` accepts any arguments. Any other `T` reads the first
/// argument, or from nothing when there is none. Fewer than `skip` elements means no arguments.
/// Strings without escapes can be borrowed from `json`.
///
/// # Errors
///
/// - [`ValueError::NotAnArray`] when `json` does not start with `[`;
/// - [`ValueError::MissingArgument`] when an argument is absent and its type cannot be empty;
/// - [`ValueError::Placeholder`] when a placeholder read as binary data does not name one of
///   `attachments`;
/// - [`ValueError::Json`] for malformed JSON and values that do not fit `T`.
pub fn read_args<'de, T: Deserialize<'de>>(
    json: &'de [u8],
    skip: usize,
    attachments: &[Bytes],
) -> Result<T, ValueError> {
    let first = json
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'[') {
        return Err(ValueError::NotAnArray);
    }
    let ctx = Ctx {
        attachments,
        fault: Cell::new(None),
    };
    let mut de = serde_json::Deserializer::from_slice(json);
    let args = ArgsDe {
        de: &mut de,
        skip,
        ctx: &ctx,
    };
    T::deserialize(args)
        .and_then(|value| de.end().map(|()| value))
        .map_err(|e| match ctx.fault.take() {
            // The fault may have been swallowed by the user's code before another error.
            Some(fault) if e.to_string().starts_with(&fault.to_string()) => fault.into(),
            _ => ValueError::Json(e),
        })
}

/// A typed error raised inside serde_json's frames, which only carry `serde_json::Error`: it is
/// recorded in [`Ctx`] and replaces the error that comes out.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Placeholder(PlaceholderError),
    MissingArgument(usize),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Placeholder(e) => e.fmt(f),
            Self::MissingArgument(index) => write!(f, "missing event argument {index}"),
        }
    }
}

impl From<Fault> for ValueError {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::Placeholder(e) => Self::Placeholder(e),
            Fault::MissingArgument(index) => Self::MissingArgument { index },
        }
    }
}

/// State shared by all the deserializer wrappers of one [`read_args`] call.
struct Ctx<'a> {
    attachments: &'a [Bytes],
    fault: Cell<Option<Fault>>,
}

impl Ctx<'_> {
    /// Records `fault` and returns an error to propagate through serde.
    fn fail<E: de::Error>(&self, fault: Fault) -> E {
        self.fault.set(Some(fault));
        E::custom(fault)
    }
}

/// Lists the `Deserializer` methods that are forwarded one to one, for the callback macro `$m`:
/// variant name for [`Call`], method, extra parameters, and the [`Binary`] mode of [`BinDe`].
/// `deserialize_unit` and `deserialize_tuple` are not listed: the argument list treats them
/// specially.
macro_rules! for_each_method {
    ($m:ident) => {
        $m! {
            Any deserialize_any() Plain;
            Bool deserialize_bool() Plain;
            I8 deserialize_i8() Plain;
            I16 deserialize_i16() Plain;
            I32 deserialize_i32() Plain;
            I64 deserialize_i64() Plain;
            I128 deserialize_i128() Plain;
            U8 deserialize_u8() Plain;
            U16 deserialize_u16() Plain;
            U32 deserialize_u32() Plain;
            U64 deserialize_u64() Plain;
            U128 deserialize_u128() Plain;
            F32 deserialize_f32() Plain;
            F64 deserialize_f64() Plain;
            Char deserialize_char() Plain;
            Str deserialize_str() Plain;
            String deserialize_string() Plain;
            Bytes deserialize_bytes() Bytes;
            ByteBuf deserialize_byte_buf() ByteBuf;
            Option deserialize_option() Plain;
            UnitStruct deserialize_unit_struct(name: &'static str) Plain;
            NewtypeStruct deserialize_newtype_struct(name: &'static str) Plain;
            Seq deserialize_seq() Seq;
            TupleStruct deserialize_tuple_struct(name: &'static str, len: usize) Plain;
            Map deserialize_map() Plain;
            Struct deserialize_struct(
                name: &'static str, fields: &'static [&'static str]
            ) Plain;
            Enum deserialize_enum(
                name: &'static str, variants: &'static [&'static str]
            ) Plain;
            Identifier deserialize_identifier() Plain;
            IgnoredAny deserialize_ignored_any() Plain;
        }
    };
}

/// Defines [`Call`]: one `Deserializer` method call with its arguments, to be made later on
/// another deserializer (the first argument's).
macro_rules! define_call {
    ($($variant:ident $method:ident($($arg:ident: $ty:ty),*) $mode:ident;)*) => {
        /// A deferred `Deserializer` method call.
        enum Call<V> {
            $($variant($($ty,)* V),)*
        }

        impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for Call<V> {
            type Value = V::Value;

            fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
                match self {
                    $(Call::$variant($($arg,)* visitor) => de.$method($($arg,)* visitor),)*
                }
            }
        }
    };
}

for_each_method!(define_call);

/// `Deserializer` methods of [`ArgsDe`] that read a single argument.
macro_rules! args_methods {
    ($($variant:ident $method:ident($($arg:ident: $ty:ty),*) $mode:ident;)*) => {$(
        fn $method<V: Visitor<'de>>(
            self,
            $($arg: $ty,)*
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            self.read(Shape::Single(Call::$variant($($arg,)* visitor)))
        }
    )*};
}

/// Top-level deserializer over the whole argument array.
struct ArgsDe<'c, D> {
    de: D,
    skip: usize,
    ctx: &'c Ctx<'c>,
}

/// How the user type takes the arguments.
enum Shape<V> {
    /// `()`: ignores all arguments.
    Unit(V),
    /// A tuple of the given length: one element per argument.
    Tuple(usize, V),
    /// Anything else: the first argument.
    Single(Call<V>),
}

impl<'de, D: Deserializer<'de>> ArgsDe<'_, D> {
    fn read<V: Visitor<'de>>(self, shape: Shape<V>) -> Result<V::Value, D::Error> {
        self.de.deserialize_seq(ArgsVisitor {
            shape,
            skip: self.skip,
            ctx: self.ctx,
        })
    }
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ArgsDe<'_, D> {
    type Error = D::Error;

    for_each_method!(args_methods);

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.read(Shape::Unit(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.read(Shape::Tuple(len, visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

/// Visits the argument array itself.
struct ArgsVisitor<'c, V> {
    shape: Shape<V>,
    skip: usize,
    ctx: &'c Ctx<'c>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for ArgsVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of event arguments")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<V::Value, A::Error> {
        let mut args = ArgList {
            seq: &mut seq,
            ctx: self.ctx,
            index: 0,
            remaining: 0,
            done: false,
        };
        for _ in 0..self.skip {
            if args.seq.next_element::<IgnoredAny>()?.is_none() {
                args.done = true;
                break;
            }
        }
        let value = match self.shape {
            Shape::Unit(visitor) => visitor.visit_unit()?,
            Shape::Tuple(len, visitor) => {
                args.remaining = len;
                visitor.visit_seq(&mut args)?
            }
            Shape::Single(call) => args.next_arg(call)?,
        };
        args.drain()?;
        Ok(value)
    }
}

/// The arguments after the skipped elements, seen by a tuple visitor: exactly `remaining`
/// elements, the missing ones read from [`Missing`].
struct ArgList<'c, A> {
    seq: A,
    ctx: &'c Ctx<'c>,
    /// Position of the next argument.
    index: usize,
    /// Elements still to hand to the tuple visitor.
    remaining: usize,
    /// Whether the JSON array has ended.
    done: bool,
}

impl<'de, A: SeqAccess<'de>> ArgList<'_, A> {
    /// Reads the next argument, or from nothing when the array has ended.
    fn next_arg<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let index = self.index;
        self.index += 1;
        let mut slot = Some(seed);
        if !self.done {
            let seed = OnceSeed {
                slot: &mut slot,
                ctx: self.ctx,
            };
            if let Some(value) = self.seq.next_element_seed(seed)? {
                return Ok(value);
            }
            self.done = true;
        }
        match slot {
            Some(seed) => seed.deserialize(Missing {
                ctx: self.ctx,
                index,
                error: PhantomData,
            }),
            None => Err(de::Error::custom("argument consumed without a value")),
        }
    }

    /// Skips the arguments nobody asked for.
    fn drain(&mut self) -> Result<(), A::Error> {
        while !self.done {
            self.done = self.seq.next_element::<IgnoredAny>()?.is_none();
        }
        Ok(())
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for ArgList<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        if self.remaining == 0 {
            return Ok(None);
        }
        self.remaining -= 1;
        self.next_arg(seed).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.remaining)
    }
}

/// A seed that can be given back when the sequence turns out to have ended: it takes the real
/// seed out of `slot` only when there is a value to read.
struct OnceSeed<'s, 'c, S> {
    slot: &'s mut Option<S>,
    ctx: &'c Ctx<'c>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for OnceSeed<'_, '_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        match self.slot.take() {
            Some(seed) => seed.deserialize(BinDe { de, ctx: self.ctx }),
            None => Err(de::Error::custom("argument read twice")),
        }
    }
}

/// An absent argument: reads as `None`, `()` or `IgnoredAny`, anything else is
/// [`ValueError::MissingArgument`].
struct Missing<'c, E> {
    ctx: &'c Ctx<'c>,
    index: usize,
    error: PhantomData<E>,
}

impl<'de, E: de::Error> Deserializer<'de> for Missing<'_, E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, E> {
        Err(self.ctx.fail(Fault::MissingArgument(self.index)))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_none()
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
    }
}

/// What a [`BinDe`] method asked for, deciding how a placeholder object is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binary {
    /// Not binary: placeholders stay plain objects.
    Plain,
    /// `deserialize_bytes`: placeholder → `visit_bytes`, string → bytes like serde_json.
    Bytes,
    /// `deserialize_byte_buf`: placeholder → `visit_byte_buf`, string → bytes like serde_json.
    ByteBuf,
    /// `deserialize_seq`: placeholder → a sequence of `u8`.
    Seq,
}

/// Calls `$method` on `$de`, or `deserialize_any` when the mode needs to see placeholders
/// (serde_json's own `deserialize_bytes` and `deserialize_seq` reject objects).
macro_rules! call_inner {
    ($de:expr, Plain, $method:ident($($arg:ident),*), $visit:expr) => {
        $de.$method($($arg,)* $visit)
    };
    ($de:expr, $mode:ident, $method:ident($($arg:ident),*), $visit:expr) => {
        $de.deserialize_any($visit)
    };
}

/// `Deserializer` methods of [`BinDe`].
macro_rules! bin_de_methods {
    ($($variant:ident $method:ident($($arg:ident: $ty:ty),*) $mode:ident;)*) => {$(
        fn $method<V: Visitor<'de>>(
            self,
            $($arg: $ty,)*
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            let visit = Visit { visitor, ctx: self.ctx, binary: Binary::$mode };
            call_inner!(self.de, $mode, $method($($arg),*), visit)
        }
    )*};
}

/// Deserializer wrapper resolving placeholders at any depth.
struct BinDe<'c, D> {
    de: D,
    ctx: &'c Ctx<'c>,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for BinDe<'_, D> {
    type Error = D::Error;

    for_each_method!(bin_de_methods);

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_unit(Visit {
            visitor,
            ctx: self.ctx,
            binary: Binary::Plain,
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_tuple(
            len,
            Visit {
                visitor,
                ctx: self.ctx,
                binary: Binary::Plain,
            },
        )
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

/// Visitor wrapper: wraps what it is handed in turn, and reads placeholders in binary modes.
struct Visit<'c, V> {
    visitor: V,
    ctx: &'c Ctx<'c>,
    binary: Binary,
}

/// Forwards visitor methods that take a plain value.
macro_rules! forward_visits {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.visitor.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Visit<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    forward_visits! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        match self.binary {
            Binary::Bytes | Binary::ByteBuf => self.visitor.visit_bytes(v.as_bytes()),
            Binary::Plain | Binary::Seq => self.visitor.visit_str(v),
        }
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        match self.binary {
            Binary::Bytes | Binary::ByteBuf => self.visitor.visit_borrowed_bytes(v.as_bytes()),
            Binary::Plain | Binary::Seq => self.visitor.visit_borrowed_str(v),
        }
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        match self.binary {
            Binary::Bytes | Binary::ByteBuf => self.visitor.visit_byte_buf(v.into_bytes()),
            Binary::Plain | Binary::Seq => self.visitor.visit_string(v),
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_some(BinDe { de, ctx: self.ctx })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.visitor
            .visit_newtype_struct(BinDe { de, ctx: self.ctx })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_seq(BinSeq { seq, ctx: self.ctx })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<V::Value, A::Error> {
        if self.binary == Binary::Plain {
            return self.visitor.visit_map(BinMap { map, ctx: self.ctx });
        }
        let Some(num) = read_placeholder(&mut map, Walk(None))? else {
            return Err(de::Error::invalid_type(Unexpected::Map, &self));
        };
        let attachments = self.ctx.attachments;
        let bytes = placeholder_index(num, attachments.len())
            .map(|index| &attachments[index])
            .map_err(|e| self.ctx.fail(Fault::Placeholder(e)))?;
        match self.binary {
            Binary::ByteBuf => self.visitor.visit_byte_buf(bytes.to_vec()),
            Binary::Seq => self
                .visitor
                .visit_seq(SeqDeserializer::new(bytes.iter().copied())),
            Binary::Bytes | Binary::Plain => self.visitor.visit_bytes(bytes),
        }
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_enum(BinEnum {
            data,
            ctx: self.ctx,
        })
    }
}

/// Seed wrapper: the value is read through [`BinDe`].
struct BinSeed<'c, S> {
    seed: S,
    ctx: &'c Ctx<'c>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for BinSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(BinDe { de, ctx: self.ctx })
    }
}

/// Sequence wrapper: elements are read through [`BinDe`].
struct BinSeq<'c, A> {
    seq: A,
    ctx: &'c Ctx<'c>,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for BinSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.seq.next_element_seed(BinSeed {
            seed,
            ctx: self.ctx,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

/// Map wrapper: keys and values are read through [`BinDe`].
struct BinMap<'c, A> {
    map: A,
    ctx: &'c Ctx<'c>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for BinMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.map.next_key_seed(BinSeed {
            seed,
            ctx: self.ctx,
        })
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(BinSeed {
            seed,
            ctx: self.ctx,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// Enum wrapper: the variant's content is read through [`BinDe`].
struct BinEnum<'c, A> {
    data: A,
    ctx: &'c Ctx<'c>,
}

impl<'de, 'c, A: EnumAccess<'de>> EnumAccess<'de> for BinEnum<'c, A> {
    type Error = A::Error;
    type Variant = BinEnum<'c, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let ctx = self.ctx;
        let (value, data) = self.data.variant_seed(BinSeed { seed, ctx })?;
        Ok((value, BinEnum { data, ctx }))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for BinEnum<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.data.unit_variant()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.data.newtype_variant_seed(BinSeed {
            seed,
            ctx: self.ctx,
        })
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let ctx = self.ctx;
        let binary = Binary::Plain;
        self.data.tuple_variant(
            len,
            Visit {
                visitor,
                ctx,
                binary,
            },
        )
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let ctx = self.ctx;
        let binary = Binary::Plain;
        self.data.struct_variant(
            fields,
            Visit {
                visitor,
                ctx,
                binary,
            },
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Placeholder checking
// ---------------------------------------------------------------------------------------------

/// Walk any JSON text and check every placeholder object: an object with `"_placeholder": true`
/// must have an integer `"num"` with `0 <= num < count`, else `Err(PlaceholderError)`. Returns
/// how many placeholders were found.
///
/// When a key appears twice in an object, the last one counts.
///
/// # Errors
///
/// The first invalid placeholder met; [`PlaceholderError::InvalidJson`] when `json` is not valid
/// JSON or nests deeper than 128 levels.
pub fn check_placeholders(json: &[u8], count: usize) -> Result<usize, PlaceholderError> {
    let state = WalkState {
        count,
        found: Cell::new(0),
        fault: Cell::new(None),
    };
    let mut de = serde_json::Deserializer::from_slice(json);
    match Walk(Some(&state))
        .deserialize(&mut de)
        .and_then(|_| de.end())
    {
        Ok(()) => Ok(state.found.get()),
        Err(_) => Err(state.fault.get().unwrap_or(PlaceholderError::InvalidJson)),
    }
}

/// What matters about a JSON value inside a placeholder object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    /// `true`.
    True,
    /// A non-negative integer.
    Index(u64),
    /// Anything else.
    Other,
}

/// The attachment index a placeholder's `num` names, given `count` attachments.
fn placeholder_index(num: Option<Scalar>, count: usize) -> Result<usize, PlaceholderError> {
    match num {
        Some(Scalar::Index(num)) => usize::try_from(num)
            .ok()
            .filter(|&index| index < count)
            .ok_or(PlaceholderError::OutOfRange { num, count }),
        _ => Err(PlaceholderError::InvalidNum),
    }
}

/// Reads all the entries of an object, with `walk` for the values. Returns `None` when it is not
/// a placeholder, else `Some` of its `num`.
fn read_placeholder<'de, A: MapAccess<'de>>(
    map: &mut A,
    walk: Walk<'_>,
) -> Result<Option<Option<Scalar>>, A::Error> {
    let (mut placeholder, mut num) = (false, None);
    while let Some(key) = map.next_key_seed(KeySeed)? {
        let value = map.next_value_seed(walk)?;
        match key {
            Key::Placeholder => placeholder = value == Scalar::True,
            Key::Num => num = Some(value),
            Key::Other => {}
        }
    }
    Ok(placeholder.then_some(num))
}

/// Counters of [`check_placeholders`].
struct WalkState {
    count: usize,
    found: Cell<usize>,
    fault: Cell<Option<PlaceholderError>>,
}

/// Classifies a JSON value as a [`Scalar`]. With a state, it also checks and counts the
/// placeholders nested in it; without one, nested arrays and objects are skipped.
#[derive(Clone, Copy)]
struct Walk<'a>(Option<&'a WalkState>);

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = Scalar;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Scalar, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
        Ok(if v { Scalar::True } else { Scalar::Other })
    }

    fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
        Ok(u64::try_from(v).map_or(Scalar::Other, Scalar::Index))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::Index(v))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }

    fn visit_str<E>(self, _: &str) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }

    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        match self.0 {
            Some(_) => while seq.next_element_seed(self)?.is_some() {},
            None => while seq.next_element::<IgnoredAny>()?.is_some() {},
        }
        Ok(Scalar::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        let Some(state) = self.0 else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Scalar::Other);
        };
        if let Some(num) = read_placeholder(&mut map, self)? {
            if let Err(e) = placeholder_index(num, state.count) {
                state.fault.set(Some(e));
                return Err(de::Error::custom(e));
            }
            state.found.set(state.found.get() + 1);
        }
        Ok(Scalar::Other)
    }
}

/// The object keys that matter for placeholders.
enum Key {
    Placeholder,
    Num,
    Other,
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Key, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, v: &str) -> Result<Key, E> {
        Ok(match v {
            "_placeholder" => Key::Placeholder,
            "num" => Key::Num,
            _ => Key::Other,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};
    use serde_bytes::ByteBuf;
    use serde_json::value::RawValue;

    /// Writes `args`, returning the JSON text and the attachments.
    fn write<T: ?Sized + Serialize>(event: Option<&str>, args: &T) -> (String, Vec<Bytes>) {
        let (mut out, mut attachments) = (Vec::new(), Vec::new());
        write_args(&mut out, event, args, &mut attachments).expect("write_args");
        (String::from_utf8(out).expect("utf-8"), attachments)
    }

    fn json<T: ?Sized + Serialize>(event: Option<&str>, args: &T) -> String {
        write(event, args).0
    }

    fn buf(bytes: &[u8]) -> ByteBuf {
        ByteBuf::from(bytes.to_vec())
    }

    fn ph(num: usize) -> String {
        format!(r#"{{"_placeholder":true,"num":{num}}}"#)
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Pair(i32, i32);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Unit;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct TupleNewtype((i32, i32));

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Msg {
        text: String,
        n: u32,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Kind {
        Unit,
        New(ByteBuf),
        Tup(u8, ByteBuf),
        Struct { b: ByteBuf },
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Wrapper(ByteBuf);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct TupleStruct(u8, ByteBuf);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Nested {
        name: String,
        data: ByteBuf,
        opt: Option<ByteBuf>,
        none: Option<ByteBuf>,
        list: Vec<ByteBuf>,
        map: BTreeMap<String, ByteBuf>,
        kinds: Vec<Kind>,
        newtype: Wrapper,
        tuple: TupleStruct,
        raw: Bytes,
        vec: Vec<u8>,
    }

    fn nested() -> Nested {
        Nested {
            name: "n\u{e9}\"".into(),
            data: buf(b"d0"),
            opt: Some(buf(b"o1")),
            none: None,
            list: vec![buf(b"l2"), buf(b"")],
            map: BTreeMap::from([("k".to_owned(), buf(b"m4"))]),
            kinds: vec![
                Kind::Unit,
                Kind::New(buf(b"n5")),
                Kind::Tup(7, buf(b"t6")),
                Kind::Struct { b: buf(b"s7") },
            ],
            newtype: Wrapper(buf(b"w8")),
            tuple: TupleStruct(9, buf(b"t9")),
            raw: Bytes::from_static(b"b10"),
            vec: vec![1, 2],
        }
    }

    // ----- write_args: spreading -------------------------------------------------------------

    #[test]
    fn write_spreads_tuples_only() {
        assert_eq!(json(Some("ev"), &vec![1, 2]), r#"["ev",[1,2]]"#);
        assert_eq!(json(Some("ev"), &(1, "a")), r#"["ev",1,"a"]"#);
        assert_eq!(json(Some("ev"), &(5,)), r#"["ev",5]"#);
        assert_eq!(json(Some("ev"), &((1, 2), 3)), r#"["ev",[1,2],3]"#);
        assert_eq!(json(Some("ev"), &()), r#"["ev"]"#);
        assert_eq!(json(Some("ev"), &"hi"), r#"["ev","hi"]"#);
        assert_eq!(json(Some("ev"), "hi"), r#"["ev","hi"]"#);
        assert_eq!(json(Some("ev"), &Pair(1, 2)), r#"["ev",[1,2]]"#);
        assert_eq!(json(Some("ev"), &TupleNewtype((1, 2))), r#"["ev",[1,2]]"#);
        assert_eq!(json(Some("ev"), &Unit), r#"["ev",null]"#);
        assert_eq!(json(Some("ev"), &None::<i32>), r#"["ev",null]"#);
        assert_eq!(json(Some("ev"), &Some((1, 2))), r#"["ev",[1,2]]"#);
        assert_eq!(json(Some("ev"), &Some(3)), r#"["ev",3]"#);
        assert_eq!(json(Some("ev"), &[1, 2]), r#"["ev",1,2]"#);
        assert_eq!(
            json(Some("ev"), &serde_json::json!([1, 2])),
            r#"["ev",[1,2]]"#
        );
        assert_eq!(
            json(Some("ev"), &BTreeMap::from([("k", 1)])),
            r#"["ev",{"k":1}]"#
        );
        let msg = Msg {
            text: "hi".into(),
            n: 2,
        };
        assert_eq!(json(Some("ev"), &msg), r#"["ev",{"text":"hi","n":2}]"#);
        assert_eq!(json(Some("ev"), &(&msg,)), r#"["ev",{"text":"hi","n":2}]"#);
    }

    #[test]
    fn write_without_event() {
        assert_eq!(json(None, &(1, 2)), "[1,2]");
        assert_eq!(json(None, &()), "[]");
        assert_eq!(json(None, &"x"), r#"["x"]"#);
        assert_eq!(json(None, &vec![1]), "[[1]]");
    }

    #[test]
    fn write_escapes_event_name() {
        assert_eq!(json(Some("a\"b\\\n"), &()), r#"["a\"b\\\n"]"#);
    }

    #[test]
    fn write_appends_to_existing_output() {
        let mut out = b"42".to_vec();
        write_args(&mut out, Some("ev"), &1, &mut Vec::new()).unwrap();
        assert_eq!(out, br#"42["ev",1]"#);
    }

    #[test]
    fn write_matches_serde_json() {
        #[derive(Serialize)]
        enum E {
            U,
            N(i8),
            T(u16, char),
            S { f: f64 },
        }
        #[derive(Serialize)]
        struct All {
            s: &'static str,
            i: i128,
            u: u128,
            f: f32,
            keys: BTreeMap<i32, bool>,
            e: Vec<E>,
            o: Option<()>,
            v: serde_json::Value,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<u8>,
        }
        let all = All {
            s: "\"\\\n\u{1}\u{e9}\u{1f600}",
            i: -170141183460469231731687303715884105728,
            u: u128::MAX,
            f: 1.5,
            keys: BTreeMap::from([(-1, true), (2, false)]),
            e: vec![E::U, E::N(-3), E::T(4, 'x'), E::S { f: 0.1 }],
            o: Some(()),
            v: serde_json::json!({"a": [null, 1.25, "z"]}),
            skipped: None,
        };
        let expected = serde_json::to_string(&all).unwrap();
        assert_eq!(json(None, &all), format!("[{expected}]"));
        assert_eq!(json(Some("e"), &all), format!(r#"["e",{expected}]"#));
        assert_eq!(
            json(Some("e"), &(&all, 1)),
            format!(r#"["e",{expected},1]"#)
        );
    }

    #[test]
    fn write_raw_value_verbatim() {
        let raw = RawValue::from_string(r#"{"a": [1, 2]}"#.into()).unwrap();
        assert_eq!(json(Some("ev"), &raw), r#"["ev",{"a": [1, 2]}]"#);
        assert_eq!(json(Some("ev"), &(1, &raw)), r#"["ev",1,{"a": [1, 2]}]"#);
    }

    // ----- write_args: binary ----------------------------------------------------------------

    #[test]
    fn write_bytes_as_placeholders() {
        let (text, att) = write(Some("ev"), &(1, buf(&[1, 2])));
        assert_eq!(text, format!(r#"["ev",1,{}]"#, ph(0)));
        assert_eq!(att, vec![Bytes::from_static(&[1, 2])]);

        let (text, att) = write(Some("ev"), &Bytes::from_static(b"x"));
        assert_eq!(text, format!(r#"["ev",{}]"#, ph(0)));
        assert_eq!(att, vec![Bytes::from_static(b"x")]);

        let (text, att) = write(None, &(serde_bytes::Bytes::new(b"a"), "s", buf(b"b")));
        assert_eq!(text, format!(r#"[{},"s",{}]"#, ph(0), ph(1)));
        assert_eq!(
            att,
            vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
        );

        // Vec<u8> is not binary for serde: it stays an array of numbers.
        assert_eq!(write(None, &vec![1u8, 2]), ("[[1,2]]".to_owned(), vec![]));
    }

    #[test]
    fn write_nested_bytes() {
        let (text, att) = write(Some("ev"), &nested());
        let expected = format!(
            concat!(
                r#"["ev",{{"name":"n\u00e9\"","data":{},"opt":{},"none":null,"list":[{},{}],"#,
                r#""map":{{"k":{}}},"kinds":["Unit",{{"New":{}}},{{"Tup":[7,{}]}},"#,
                r#"{{"Struct":{{"b":{}}}}}],"newtype":{},"tuple":[9,{}],"raw":{},"vec":[1,2]}}]"#
            ),
            ph(0),
            ph(1),
            ph(2),
            ph(3),
            ph(4),
            ph(5),
            ph(6),
            ph(7),
            ph(8),
            ph(9),
            ph(10),
        )
        .replace(r"\u00e9", "\u{e9}");
        assert_eq!(text, expected);
        let names: Vec<&[u8]> = vec![
            b"d0", b"o1", b"l2", b"", b"m4", b"n5", b"t6", b"s7", b"w8", b"t9", b"b10",
        ];
        assert_eq!(
            att,
            names
                .into_iter()
                .map(Bytes::from_static)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn write_numbering_continues_from_existing_attachments() {
        let mut out = Vec::new();
        let mut att = vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")];
        let value = (buf(b"c"), vec![buf(b"d")]);
        write_args(&mut out, Some("ev"), &value, &mut att).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(text, format!(r#"["ev",{},[{}]]"#, ph(2), ph(3)));
        assert_eq!(att.len(), 4);
        assert_eq!(att[2], Bytes::from_static(b"c"));
        let back: (ByteBuf, Vec<ByteBuf>) = read_args(&out, 1, &att).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn write_error_leaves_buffers_unchanged() {
        let mut out = b"xyz".to_vec();
        let mut att = vec![Bytes::from_static(b"a")];
        // serde_json refuses a non-string map key; the bytes key has already pushed an
        // attachment by then.
        let bad = (buf(b"b"), BTreeMap::from([(buf(b"k"), 1)]));
        let err = write_args(&mut out, Some("ev"), &bad, &mut att).unwrap_err();
        assert!(matches!(err, ValueError::Json(_)), "{err:?}");
        assert_eq!(out, b"xyz");
        assert_eq!(att, vec![Bytes::from_static(b"a")]);

        let err = write_args(&mut out, None, &BTreeMap::from([((1, 2), 3)]), &mut att);
        assert!(matches!(err, Err(ValueError::Json(_))));
        assert_eq!(out, b"xyz");
    }

    // ----- read_args: spreading --------------------------------------------------------------

    #[test]
    fn read_tuples_and_single_values() {
        let text = br#"["ev",1,"a"]"#;
        assert_eq!(
            read_args::<(i32, String)>(text, 1, &[]).unwrap(),
            (1, "a".into())
        );
        assert_eq!(
            read_args::<(String, i32)>(text, 0, &[]).unwrap(),
            ("ev".into(), 1)
        );
        assert_eq!(read_args::<i32>(text, 1, &[]).unwrap(), 1);
        assert_eq!(read_args::<(i32,)>(text, 1, &[]).unwrap(), (1,));
        assert_eq!(read_args::<String>(text, 2, &[]).unwrap(), "a");
        assert_eq!(read_args::<[u8; 2]>(b"[1,2,3]", 0, &[]).unwrap(), [1, 2]);
        assert_eq!(
            read_args::<Vec<i32>>(br#"["ev",[1,2]]"#, 1, &[]).unwrap(),
            vec![1, 2]
        );
        assert_eq!(
            read_args::<Pair>(br#"["ev",[1,2]]"#, 1, &[]).unwrap(),
            Pair(1, 2)
        );
        assert_eq!(read_args::<Unit>(br#"["ev",null]"#, 1, &[]).unwrap(), Unit);
        assert_eq!(
            read_args::<((i32, i32), i32)>(br#"["ev",[1,2],3]"#, 1, &[]).unwrap(),
            ((1, 2), 3)
        );
        assert_eq!(
            read_args::<Msg>(br#" ["ev", {"text":"hi","n":2}, 7] "#, 1, &[]).unwrap(),
            Msg {
                text: "hi".into(),
                n: 2
            }
        );
        assert_eq!(
            read_args::<serde_json::Value>(br#"["ev",{"a":[1]}]"#, 1, &[]).unwrap(),
            serde_json::json!({"a": [1]})
        );
    }

    #[test]
    fn read_unit_accepts_anything() {
        read_args::<()>(br#"["ev",1,{"a":[2]},"x"]"#, 1, &[]).unwrap();
        read_args::<()>(b"[]", 0, &[]).unwrap();
        read_args::<()>(b"[]", 1, &[]).unwrap();
    }

    #[test]
    fn read_ignores_extra_arguments() {
        let text = br#"["ev",1,2,[3],{"a":{"_placeholder":true,"num":9}}]"#;
        assert_eq!(read_args::<(i32,)>(text, 1, &[]).unwrap(), (1,));
        assert_eq!(read_args::<(i32, i32)>(text, 1, &[]).unwrap(), (1, 2));
        assert_eq!(read_args::<i32>(text, 1, &[]).unwrap(), 1);
    }

    #[test]
    fn read_missing_arguments() {
        let err = read_args::<(i32, String)>(br#"["ev",1]"#, 1, &[]).unwrap_err();
        assert!(
            matches!(err, ValueError::MissingArgument { index: 1 }),
            "{err:?}"
        );
        let err = read_args::<(i32, i32, i32)>(br#"["ev"]"#, 1, &[]).unwrap_err();
        assert!(
            matches!(err, ValueError::MissingArgument { index: 0 }),
            "{err:?}"
        );
        let err = read_args::<i32>(br#"["ev"]"#, 1, &[]).unwrap_err();
        assert!(
            matches!(err, ValueError::MissingArgument { index: 0 }),
            "{err:?}"
        );
        let err = read_args::<Msg>(b"[]", 0, &[]).unwrap_err();
        assert!(
            matches!(err, ValueError::MissingArgument { index: 0 }),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "missing event argument 0");
    }

    #[test]
    fn read_absent_options_as_none() {
        assert_eq!(
            read_args::<Option<i32>>(br#"["ev"]"#, 1, &[]).unwrap(),
            None
        );
        assert_eq!(
            read_args::<Option<i32>>(br#"["ev",null]"#, 1, &[]).unwrap(),
            None
        );
        assert_eq!(
            read_args::<Option<i32>>(br#"["ev",5]"#, 1, &[]).unwrap(),
            Some(5)
        );
        assert_eq!(
            read_args::<(i32, Option<String>)>(br#"["ev",1]"#, 1, &[]).unwrap(),
            (1, None)
        );
        assert_eq!(
            read_args::<(i32, Option<String>, ())>(br#"["ev",1]"#, 1, &[]).unwrap(),
            (1, None, ())
        );
        // Skipping past the end leaves no arguments.
        assert_eq!(
            read_args::<Option<i32>>(br#"["ev"]"#, 5, &[]).unwrap(),
            None
        );
        assert_eq!(
            read_args::<Option<i32>>(b"[1]", usize::MAX, &[]).unwrap(),
            None
        );
    }

    #[test]
    fn read_borrows_strings() {
        #[derive(Deserialize)]
        struct Borrowed<'a> {
            s: &'a str,
        }
        let text = br#"["ev","hi",{"s":"there"}]"#;
        let (a, b): (&str, Borrowed<'_>) = read_args(text, 1, &[]).unwrap();
        assert_eq!((a, b.s), ("hi", "there"));
        let single: &str = read_args(text, 1, &[]).unwrap();
        assert_eq!(single, "hi");
        let raw: &RawValue = read_args(br#"["ev",{"a": [1, 2]}]"#, 1, &[]).unwrap();
        assert_eq!(raw.get(), r#"{"a": [1, 2]}"#);
        let (n, raw): (i32, Box<RawValue>) = read_args(br#"[1, [true] ]"#, 0, &[]).unwrap();
        assert_eq!((n, raw.get()), (1, "[true]"));
    }

    // ----- read_args: binary -----------------------------------------------------------------

    #[test]
    fn read_placeholders_as_bytes() {
        let att = [Bytes::from_static(b"ab"), Bytes::from_static(b"c")];
        let text = format!(r#"["ev",{},{}]"#, ph(1), ph(0));
        let (a, b): (ByteBuf, Bytes) = read_args(text.as_bytes(), 1, &att).unwrap();
        assert_eq!((a.as_slice(), &b[..]), (&b"c"[..], &b"ab"[..]));
        assert_eq!(
            read_args::<Bytes>(text.as_bytes(), 1, &att).unwrap(),
            att[1]
        );
        assert_eq!(
            read_args::<Vec<u8>>(text.as_bytes(), 2, &att).unwrap(),
            b"ab"
        );
        assert_eq!(
            read_args::<Option<ByteBuf>>(text.as_bytes(), 1, &att).unwrap(),
            Some(buf(b"c"))
        );
        // The placeholder object may have extra keys, in any order.
        let text = br#"[{"num":1,"x":[{}],"_placeholder":true}]"#;
        assert_eq!(read_args::<ByteBuf>(text, 0, &att).unwrap(), buf(b"c"));
        // Non-placeholder forms still read as serde_json reads them.
        assert_eq!(
            read_args::<ByteBuf>(br#"["a\u0062"]"#, 0, &[]).unwrap(),
            buf(b"ab")
        );
        assert_eq!(
            read_args::<ByteBuf>(br#"["ab"]"#, 0, &[]).unwrap(),
            buf(b"ab")
        );
        assert_eq!(
            read_args::<ByteBuf>(b"[[1,2]]", 0, &[]).unwrap(),
            buf(&[1, 2])
        );
        assert_eq!(
            read_args::<Vec<u8>>(b"[[1,2]]", 0, &[]).unwrap(),
            vec![1, 2]
        );
    }

    #[test]
    fn read_placeholder_as_value_stays_an_object() {
        let text = format!(r#"["ev",{}]"#, ph(0));
        let value: serde_json::Value = read_args(text.as_bytes(), 1, &[]).unwrap();
        assert_eq!(value, serde_json::json!({"_placeholder": true, "num": 0}));
    }

    #[test]
    fn round_trip_nested_bytes() {
        let value = (nested(), 3, Some(buf(b"z")), None::<ByteBuf>);
        let (text, att) = write(Some("ev"), &value);
        assert_eq!(att.len(), 12);
        let back: (Nested, i32, Option<ByteBuf>, Option<ByteBuf>) =
            read_args(text.as_bytes(), 1, &att).unwrap();
        assert_eq!(back, value);
        let (text, att) = write(None, &nested());
        assert_eq!(
            read_args::<Nested>(text.as_bytes(), 0, &att).unwrap(),
            nested()
        );
    }

    // ----- read_args: errors -----------------------------------------------------------------

    #[test]
    fn read_placeholder_errors() {
        let one = [Bytes::from_static(b"a")];
        let err = read_args::<(ByteBuf,)>(format!(r#"["ev",{}]"#, ph(1)).as_bytes(), 1, &one)
            .unwrap_err();
        assert!(
            matches!(
                err,
                ValueError::Placeholder(PlaceholderError::OutOfRange { num: 1, count: 1 })
            ),
            "{err:?}"
        );
        let nested = format!(r#"[{{"kinds":[{{"New":{}}}]}}]"#, ph(3));
        #[derive(Debug, Deserialize)]
        struct K {
            #[allow(dead_code)]
            kinds: Vec<Kind>,
        }
        let err = read_args::<K>(nested.as_bytes(), 0, &one).unwrap_err();
        assert!(
            matches!(
                err,
                ValueError::Placeholder(PlaceholderError::OutOfRange { num: 3, count: 1 })
            ),
            "{err:?}"
        );
        for bad in [
            r#"[{"_placeholder":true,"num":-1}]"#,
            r#"[{"_placeholder":true,"num":0.5}]"#,
            r#"[{"_placeholder":true,"num":"0"}]"#,
            r#"[{"_placeholder":true}]"#,
        ] {
            let err = read_args::<Bytes>(bad.as_bytes(), 0, &one).unwrap_err();
            assert!(
                matches!(err, ValueError::Placeholder(PlaceholderError::InvalidNum)),
                "{bad}: {err:?}"
            );
        }
        // Objects that are not placeholders are a type error where bytes are expected.
        for bad in [
            r#"[{"a":1}]"#,
            r#"[{"_placeholder":false,"num":0}]"#,
            "[{}]",
        ] {
            let err = read_args::<ByteBuf>(bad.as_bytes(), 0, &one).unwrap_err();
            assert!(matches!(err, ValueError::Json(_)), "{bad}: {err:?}");
            assert!(err.to_string().contains("invalid type: map"), "{err}");
        }
    }

    #[test]
    fn swallowed_fault_does_not_mislabel_later_errors() {
        /// Reads bytes, ignoring any error.
        #[derive(Debug)]
        struct Lenient;
        impl<'de> Deserialize<'de> for Lenient {
            fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
                let _ = ByteBuf::deserialize(de);
                Ok(Lenient)
            }
        }
        let text = format!(r#"[{},1]"#, ph(5));
        assert!(read_args::<(Lenient, i32)>(text.as_bytes(), 0, &[]).is_ok());
        let text = format!(r#"[{},"x"]"#, ph(5));
        let err = read_args::<(Lenient, i32)>(text.as_bytes(), 0, &[]).unwrap_err();
        assert!(matches!(err, ValueError::Json(_)), "{err:?}");
    }

    #[test]
    fn read_json_errors() {
        for bad in [
            &br#"["ev",1"#[..],
            br#"["ev",1] x"#,
            b"[1,]",
            br#"["ev","x"]"#,
            b"[1,2",
        ] {
            let err = read_args::<(i32,)>(bad, 1, &[]).unwrap_err();
            assert!(matches!(err, ValueError::Json(_)), "{err:?}");
        }
        for bad in [&br#"{"a":1}"#[..], br#""ev""#, b"", b"  ", b"1", b"x["] {
            let err = read_args::<()>(bad, 0, &[]).unwrap_err();
            assert!(matches!(err, ValueError::NotAnArray), "{err:?}");
        }
    }

    #[test]
    fn read_deep_nesting_is_bounded() {
        let deep = |n: usize| format!("[{}{}]", "[".repeat(n), "]".repeat(n));
        let value: serde_json::Value = read_args(deep(100).as_bytes(), 0, &[]).unwrap();
        assert!(value.is_array());
        let err = read_args::<serde_json::Value>(deep(10_000).as_bytes(), 0, &[]).unwrap_err();
        assert!(matches!(err, ValueError::Json(_)), "{err:?}");
    }

    #[test]
    fn errors_display_and_convert() {
        let json_err = serde_json::from_str::<i32>("x").unwrap_err();
        let err = ValueError::from(json_err);
        assert!(std::error::Error::source(&err).is_some());
        assert!(!err.to_string().is_empty());
        let err = ValueError::from(PlaceholderError::OutOfRange { num: 2, count: 1 });
        assert_eq!(
            err.to_string(),
            "binary placeholder 2 is out of range (1 attachments)"
        );
        assert!(!PlaceholderError::InvalidNum.to_string().is_empty());
        assert_eq!(
            ValueError::NotAnArray.to_string(),
            "event payload is not a JSON array"
        );
    }

    // ----- check_placeholders ----------------------------------------------------------------

    #[test]
    fn check_valid_placeholders() {
        let text = format!(
            r#"["ev",{},{{"a":[1,{}]}},{{"_placeholder":true,"num":1,"x":0}}]"#,
            ph(0),
            ph(1)
        );
        assert_eq!(check_placeholders(text.as_bytes(), 2), Ok(3));
        assert_eq!(check_placeholders(br#"["ev",1,"x",null]"#, 0), Ok(0));
        assert_eq!(check_placeholders(br#"{"num":5}"#, 0), Ok(0));
        assert_eq!(check_placeholders(b" 3 ", 0), Ok(0));
    }

    #[test]
    fn check_ignores_non_true_placeholder_flags() {
        for text in [
            r#"[{"_placeholder":false,"num":7}]"#,
            r#"[{"_placeholder":"true","num":-1}]"#,
            r#"[{"_placeholder":1}]"#,
            r#"[{"_placeholder":true,"num":0,"_placeholder":false}]"#,
        ] {
            assert_eq!(check_placeholders(text.as_bytes(), 0), Ok(0), "{text}");
        }
    }

    #[test]
    fn check_invalid_placeholders() {
        let out_of_range = PlaceholderError::OutOfRange { num: 2, count: 2 };
        assert_eq!(check_placeholders(ph(2).as_bytes(), 2), Err(out_of_range));
        let huge = r#"{"_placeholder":true,"num":18446744073709551615}"#;
        assert_eq!(
            check_placeholders(huge.as_bytes(), 1),
            Err(PlaceholderError::OutOfRange {
                num: u64::MAX,
                count: 1
            })
        );
        for bad in [
            r#"{"_placeholder":true,"num":-1}"#,
            r#"{"_placeholder":true,"num":1.5}"#,
            r#"{"_placeholder":true,"num":1e0}"#,
            r#"{"_placeholder":true,"num":"1"}"#,
            r#"{"_placeholder":true,"num":null}"#,
            r#"{"_placeholder":true,"num":[1]}"#,
            r#"{"_placeholder":true}"#,
        ] {
            assert_eq!(
                check_placeholders(bad.as_bytes(), 5),
                Err(PlaceholderError::InvalidNum),
                "{bad}"
            );
        }
    }

    #[test]
    fn check_deeply_nested() {
        let n = 60;
        let text = format!("{}{}{}", r#"{"a":["#.repeat(n), ph(0), "]}".repeat(n));
        assert_eq!(check_placeholders(text.as_bytes(), 1), Ok(1));
        assert_eq!(
            check_placeholders(text.as_bytes(), 0),
            Err(PlaceholderError::OutOfRange { num: 0, count: 0 })
        );
        // A placeholder nested in another placeholder's extra key is checked too.
        let inner = format!(r#"{{"_placeholder":true,"num":0,"x":{}}}"#, ph(1));
        assert_eq!(check_placeholders(inner.as_bytes(), 2), Ok(2));
        assert_eq!(
            check_placeholders(inner.as_bytes(), 1),
            Err(PlaceholderError::OutOfRange { num: 1, count: 1 })
        );
    }

    #[test]
    fn check_invalid_json() {
        for bad in [&b""[..], b"[", b"[1,]", b"{\"a\"}", b"[] []", b"nul"] {
            assert_eq!(
                check_placeholders(bad, 9),
                Err(PlaceholderError::InvalidJson)
            );
        }
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert_eq!(
            check_placeholders(deep.as_bytes(), 0),
            Err(PlaceholderError::InvalidJson)
        );
    }

    // ----- property tests --------------------------------------------------------------------

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Node {
        Null,
        Bool(bool),
        Int(i64),
        Float(f64),
        Str(String),
        Bin(ByteBuf),
        Opt(Option<Box<Node>>),
        List(Vec<Node>),
        Map(BTreeMap<String, Node>),
        Rec {
            name: String,
            bin: Option<Bytes>,
            kids: Vec<Node>,
        },
        Pair(Box<Node>, Box<Node>),
    }

    /// Number of binary values in `node`.
    fn bins(node: &Node) -> usize {
        match node {
            Node::Bin(_) => 1,
            Node::Opt(inner) => inner.as_deref().map_or(0, bins),
            Node::List(nodes) => nodes.iter().map(bins).sum(),
            Node::Map(map) => map.values().map(bins).sum(),
            Node::Rec { bin, kids, .. } => {
                usize::from(bin.is_some()) + kids.iter().map(bins).sum::<usize>()
            }
            Node::Pair(a, b) => bins(a) + bins(b),
            _ => 0,
        }
    }

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(any::<u8>(), 0..8)
    }

    /// Finite floats that serde_json reads back exactly.
    fn float() -> impl Strategy<Value = f64> {
        any::<f64>().prop_filter("finite, exact in JSON", |f| {
            f.is_finite()
                && serde_json::from_str::<f64>(&serde_json::to_string(f).unwrap()).ok() == Some(*f)
        })
    }

    fn node() -> impl Strategy<Value = Node> {
        let leaf = prop_oneof![
            Just(Node::Null),
            any::<bool>().prop_map(Node::Bool),
            any::<i64>().prop_map(Node::Int),
            float().prop_map(Node::Float),
            any::<String>().prop_map(Node::Str),
            bytes().prop_map(|b| Node::Bin(ByteBuf::from(b))),
        ];
        leaf.prop_recursive(4, 48, 4, |inner| {
            prop_oneof![
                prop::option::of(inner.clone().prop_map(Box::new)).prop_map(Node::Opt),
                prop::collection::vec(inner.clone(), 0..4).prop_map(Node::List),
                prop::collection::btree_map(any::<String>(), inner.clone(), 0..4)
                    .prop_map(Node::Map),
                (
                    any::<String>(),
                    prop::option::of(bytes()),
                    prop::collection::vec(inner.clone(), 0..3)
                )
                    .prop_map(|(name, bin, kids)| Node::Rec {
                        name,
                        bin: bin.map(Bytes::from),
                        kids
                    }),
                (inner.clone(), inner).prop_map(|(a, b)| Node::Pair(Box::new(a), Box::new(b))),
            ]
        })
    }

    /// Strings made of JSON and placeholder fragments, to reach deep into the parsers.
    fn jsonish() -> impl Strategy<Value = Vec<u8>> {
        let token = prop::sample::select(vec![
            "[",
            "]",
            "{",
            "}",
            ",",
            ":",
            "\"_placeholder\"",
            "\"num\"",
            "true",
            "false",
            "null",
            "0",
            "1",
            "2",
            "-1",
            "1.5",
            "\"ev\"",
            "\"Bin\"",
            "\"Rec\"",
            "\"bin\"",
            "\"kids\"",
            "\"a\\u0062\"",
            " ",
        ]);
        prop::collection::vec(token, 0..48).prop_map(|tokens| tokens.concat().into_bytes())
    }

    /// Runs every reader on `text`; only panics matter.
    fn read_everything(text: &[u8]) {
        let att = [Bytes::from_static(b"a"), Bytes::from_static(b"bc")];
        for skip in 0..2 {
            let _ = read_args::<Node>(text, skip, &att);
            let _ = read_args::<(Node, Option<Node>)>(text, skip, &att);
            let _ = read_args::<(Option<ByteBuf>, Vec<u8>, Bytes)>(text, skip, &att);
            let _ = read_args::<Vec<ByteBuf>>(text, skip, &att);
            let _ = read_args::<serde_json::Value>(text, skip, &att[..1]);
            let _ = read_args::<()>(text, skip, &[]);
        }
        for count in 0..3 {
            let _ = check_placeholders(text, count);
        }
    }

    fn event(data: &str) -> crate::socket::Packet {
        crate::socket::Packet::event("/", bytestring::ByteString::from(data), None, Vec::new())
    }

    #[test]
    fn an_events_arguments_share_its_text_when_it_is_written_as_clients_write_it() {
        let packet = event(r#"["echo",{"a":1},2]"#);
        let args = Args::of_event(&packet).expect("event data");
        assert_eq!(args.json(), r#"[{"a":1},2]"#);
        assert_eq!(args.json_len(), args.json().len());
        // No copy: the arguments are the event's own bytes.
        let data = packet.data.as_ref().expect("data");
        assert_eq!(args.json.as_ptr(), data[8..].as_ptr());
        assert_eq!(args.clone().into_parts().0, r#"[{"a":1},2]"#);
        assert_eq!(
            args,
            Args::new(&(serde_json::json!({"a":1}), 2)).expect("args")
        );
        let none = Args::of_event(&event(r#"["echo"]"#)).expect("event data");
        assert_eq!(none.json(), "[]");
        assert_eq!(none, Args::default());
        // Other forms are parsed, and copied.
        let spaced = Args::of_event(&event(r#"[ "echo" , 1 ]"#)).expect("event data");
        assert_eq!(spaced.json(), "[1]");
        assert!(!spaced.open);
        assert_eq!(
            Args::of_event(&crate::socket::Packet::connect("/", None)),
            None
        );
    }

    proptest! {
        #[test]
        fn prop_of_event_is_the_elements_after_the_name(node in node(), name in "[a-z\"]{1,5}", spaced in any::<bool>()) {
            let (mut out, mut att) = (Vec::new(), Vec::new());
            write_args(&mut out, Some(&name), &(1, &node), &mut att).unwrap();
            let mut text = String::from_utf8(out).unwrap();
            if spaced {
                text.insert(1, ' ');
            }
            let args = Args::of_event(&event(&text)).unwrap();
            let expected = crate::socket::packet::event_args_of(&text).unwrap();
            prop_assert_eq!(args.json(), expected.as_str());
            let mut written = String::new();
            args.write_json(&mut written);
            prop_assert_eq!(args.json_len(), written.len());
            let back: (i32, Node) = read_args(written.as_bytes(), 0, &att).unwrap();
            prop_assert_eq!(back, (1, node));
        }

        #[test]
        fn prop_round_trip_single(node in node(), pre in 0..3usize) {
            let mut att: Vec<Bytes> = (0..pre).map(|i| Bytes::from(vec![i as u8; i])).collect();
            let mut out = Vec::new();
            write_args(&mut out, Some("ev"), &node, &mut att).unwrap();
            prop_assert_eq!(att.len(), pre + bins(&node));
            prop_assert_eq!(check_placeholders(&out, att.len()), Ok(bins(&node)));
            let back: Node = read_args(&out, 1, &att).unwrap();
            prop_assert_eq!(back, node);
        }

        #[test]
        fn prop_round_trip_spread(
            a in node(),
            b in prop::option::of(bytes()),
            c in prop::collection::vec(node(), 0..3),
        ) {
            let value = (a, b.map(ByteBuf::from), c);
            let expected = bins(&value.0)
                + usize::from(value.1.is_some())
                + value.2.iter().map(bins).sum::<usize>();
            let (text, att) = write(None, &value);
            prop_assert_eq!(att.len(), expected);
            let back: (Node, Option<ByteBuf>, Vec<Node>) =
                read_args(text.as_bytes(), 0, &att).unwrap();
            prop_assert_eq!(back, value);
        }

        #[test]
        fn prop_readers_never_panic_on_bytes(text in prop::collection::vec(any::<u8>(), 0..64)) {
            read_everything(&text);
        }

        #[test]
        fn prop_readers_never_panic_on_jsonish(text in jsonish()) {
            read_everything(&text);
        }
    }
}
