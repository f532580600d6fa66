//! The files a campaign carries beside its spreadsheet: the header image (type by
//! content, size) and the results files, with the results columns of SPEC §7.

use serde::{Deserialize, Serialize};

/// A campaign's uploaded header image (SPEC §3): PNG or JPEG, at most
/// [`HEADER_IMAGE_MAX_BYTES`], its type checked by content when it lands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeaderImageFile {
    /// `awaiting` (granted, not landed), `ready` or `rejected`.
    pub status: String,
    /// The upload expected: a later grant supersedes an earlier one.
    pub upload_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub updated_at: String,
}

pub const HEADER_IMAGE_MAX_BYTES: u64 = 5 * 1024 * 1024;

/// Where an uploaded header image lives: `images/{tenant}/{campaign}/{upload_id}`.
pub fn header_image_key(tenant: &str, campaign: &str, upload_id: &str) -> String {
    format!("images/{tenant}/{campaign}/{upload_id}")
}

/// An image's type from its first bytes (never its name): PNG or JPEG, else `None`.
pub fn image_type(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// Whether an uploaded header image is usable: its content type, or why not.
pub fn check_header_image(head: &[u8], size: u64) -> Result<&'static str, String> {
    if size > HEADER_IMAGE_MAX_BYTES {
        return Err(format!(
            "image_too_large: the image has {size} bytes; the limit is {HEADER_IMAGE_MAX_BYTES} (5 MB)"
        ));
    }
    image_type(head).ok_or_else(|| {
        "unsupported_image: the file is not a PNG or JPEG image (checked by its content, not its name)"
            .to_string()
    })
}

/// A campaign's results file in one format, as the results function left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsFile {
    /// `building`, `ready` or `failed`.
    pub status: String,
    /// Which request this build answers (a newer request supersedes it).
    pub request_id: String,
    pub requested_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The results file's columns (SPEC §7), before the row's parameters and metadata.
pub const RESULTS_COLUMNS: [&str; 13] = [
    "campaign_id",
    "entry_id",
    "recipient",
    "status",
    "ticket_id",
    "created",
    "updated",
    "provider_message_id",
    "error_code",
    "error_message",
    "delivered_at",
    "read_at",
    "replied_at",
];
