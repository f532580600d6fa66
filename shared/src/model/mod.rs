//! Tenants' records and the rules for creating them (SPEC §3): provider accounts,
//! templates and campaigns, with the campaign's state machine (SPEC §5).
//!
//! Each `New*` request is parsed once into a type that cannot hold a bad value;
//! parsing returns every bad field at once, named, so an API client can fix
//! them all in one go.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A field the caller got wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

pub(crate) fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// A new id: time-ordered (a ULID), so newest-first listings sort by id.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new().to_string().to_lowercase())
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

/// Reads a JSON object field by field, collecting every error, and refusing fields it
/// does not know (a typo in a setting must not be silently ignored).
pub(crate) struct Fields<'a> {
    pub(crate) obj: &'a Map<String, Value>,
    pub(crate) known: Vec<&'static str>,
    pub(crate) errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(body: &'a Value) -> Result<Self, Vec<FieldError>> {
        match body.as_object() {
            Some(obj) => Ok(Fields {
                obj,
                known: Vec::new(),
                errors: Vec::new(),
            }),
            None => Err(vec![err("body", "the request body must be a JSON object")]),
        }
    }

    pub(crate) fn get(&mut self, name: &'static str) -> Option<&'a Value> {
        self.known.push(name);
        self.obj.get(name).filter(|v| !v.is_null())
    }

    pub(crate) fn string(
        &mut self,
        name: &'static str,
        required: bool,
        max: usize,
    ) -> Option<String> {
        match self.get(name) {
            None if required => {
                self.errors.push(err(name, "is required"));
                None
            }
            None => None,
            Some(Value::String(s)) if s.trim().is_empty() && required => {
                self.errors.push(err(name, "must not be empty"));
                None
            }
            Some(Value::String(s)) if s.chars().count() > max => {
                self.errors
                    .push(err(name, format!("must be at most {max} characters")));
                None
            }
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(_) => {
                self.errors.push(err(name, "must be a string"));
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, name: &'static str) -> Option<bool> {
        match self.get(name) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.errors.push(err(name, "must be true or false"));
                None
            }
        }
    }

    pub(crate) fn integer(
        &mut self,
        name: &'static str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        match self.get(name) {
            None => None,
            Some(v) => match v.as_i64() {
                Some(n) if range.contains(&n) => Some(n),
                _ => {
                    let (lo, hi) = range.into_inner();
                    self.errors.push(err(
                        name,
                        format!("must be a whole number from {lo} to {hi}"),
                    ));
                    None
                }
            },
        }
    }

    pub(crate) fn one_of<T: for<'de> Deserialize<'de>>(
        &mut self,
        name: &'static str,
        required: bool,
        options: &str,
    ) -> Option<T> {
        match self.get(name) {
            None if required => {
                self.errors
                    .push(err(name, format!("is required (one of {options})")));
                None
            }
            None => None,
            Some(v) => match T::deserialize(v) {
                Ok(t) => Some(t),
                Err(_) => {
                    self.errors
                        .push(err(name, format!("must be one of {options}")));
                    None
                }
            },
        }
    }

    pub(crate) fn finish(mut self) -> Result<(), Vec<FieldError>> {
        for key in self.obj.keys() {
            if !self.known.contains(&key.as_str()) {
                self.errors.push(err(key, "is not a known field"));
            }
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

mod account;
mod campaign;
mod template;

pub use account::*;
pub use campaign::*;
pub use template::*;
