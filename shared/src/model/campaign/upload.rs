//! An upload's S3 key, `uploads/{tenant}/{campaign}/{upload_id}`, read back into its
//! parts (the ingest function learns the campaign from it).

/// An upload's S3 key, read back: `uploads/{tenant}/{campaign}/{upload_id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadKey<'a> {
    pub tenant: &'a str,
    pub campaign: &'a str,
    pub upload_id: &'a str,
}

/// `uploads/{tenant}/{campaign}/{upload_id}` → its parts; anything else (more or fewer
/// segments, an empty one) is not an upload key.
pub fn parse_upload_key(key: &str) -> Option<UploadKey<'_>> {
    let mut parts = key.split('/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("uploads"), Some(t), Some(c), Some(u), None)
            if !t.is_empty() && !c.is_empty() && !u.is_empty() =>
        {
            Some(UploadKey {
                tenant: t,
                campaign: c,
                upload_id: u,
            })
        }
        _ => None,
    }
}
