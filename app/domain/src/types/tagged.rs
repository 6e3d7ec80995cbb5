//! Reading serde's externally tagged enums (`"Unit"` or `{"Variant": payload}`) with
//! miniserde, whose derive handles only enums without data. The browser decodes answers
//! with miniserde (see `types.rs`); the server writes them with serde.

use miniserde::de::{Deserialize, Map, Visitor};
pub use miniserde::json::Value;
use miniserde::{Error, Result};

/// An enum serde writes externally tagged.
pub trait Tagged: Sized {
    /// The value named `variant`, from its payload (`None` for a unit variant); `None` when
    /// the name or the payload is not one of this enum's.
    fn from_variant(variant: &str, payload: Option<Value>) -> Option<Self>;
}

/// Implements miniserde's `Deserialize` for a [`Tagged`] enum.
macro_rules! deserialize_tagged {
    ($ty:ty) => {
        impl miniserde::Deserialize for $ty {
            fn begin(out: &mut Option<Self>) -> &mut dyn miniserde::de::Visitor {
                $crate::types::tagged::visitor(out)
            }
        }
    };
}
pub(crate) use deserialize_tagged;

miniserde::make_place!(Place);

pub fn visitor<T: Tagged>(out: &mut Option<T>) -> &mut dyn Visitor {
    Place::new(out)
}

impl<T: Tagged> Visitor for Place<T> {
    fn string(&mut self, variant: &str) -> Result<()> {
        self.out = Some(T::from_variant(variant, None).ok_or(Error)?);
        Ok(())
    }

    fn map(&mut self) -> Result<Box<dyn Map + '_>> {
        Ok(Box::new(Variant {
            out: &mut self.out,
            name: None,
            payload: None,
        }))
    }
}

/// `{"Variant": payload}`: exactly one key.
struct Variant<'a, T> {
    out: &'a mut Option<T>,
    name: Option<String>,
    payload: Option<Value>,
}

impl<T: Tagged> Map for Variant<'_, T> {
    fn key(&mut self, name: &str) -> Result<&mut dyn Visitor> {
        if self.name.is_some() {
            return Err(Error);
        }
        self.name = Some(name.to_owned());
        Ok(Deserialize::begin(&mut self.payload))
    }

    fn finish(&mut self) -> Result<()> {
        let name = self.name.take().ok_or(Error)?;
        *self.out = Some(T::from_variant(&name, self.payload.take()).ok_or(Error)?);
        Ok(())
    }
}

/// A payload that is a string (`NotFound("…")`).
pub fn text(payload: Option<Value>) -> Option<String> {
    match payload? {
        Value::String(text) => Some(text),
        _ => None,
    }
}

/// A field of a payload that is an object (`Internal { reference: … }`); `Some(None)` when
/// it is missing or null.
pub fn field(payload: &Option<Value>, name: &str) -> Option<Option<String>> {
    match payload {
        Some(Value::Object(fields)) => match fields.get(name) {
            Some(Value::String(text)) => Some(Some(text.clone())),
            Some(Value::Null) | None => Some(None),
            _ => None,
        },
        _ => None,
    }
}
