//! Pregón's business rules, free of AWS: spreadsheets, phones, validation,
//! campaigns, tenants and the DynamoDB key scheme. The Lambda functions under
//! `functions/` are adapters around this crate; the `pregon` CLI uses it too,
//! so a rule tested here holds everywhere.

pub mod auth;
pub mod clock;
pub mod dnc;
pub mod inline;
pub mod keys;
pub mod model;
pub mod phone;
pub mod providers;
pub mod queue;
pub mod report;
pub mod scopes;
pub mod sending;
pub mod sms;
pub mod spreadsheet;
pub mod text;
pub mod validate;
pub mod window;
