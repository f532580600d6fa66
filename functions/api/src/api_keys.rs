//! `/v1/keys`: a tenant's API keys, each with a name and scopes (see
//! [`pregon::auth::Scope`]); the secret is shown once, when a key is made or rotated,
//! and only its SHA-256 is kept. A revoked or rotated-away secret is refused at once
//! (the API reads the key on every request).

use crate::views::KeyView;
use crate::{invalid, not_found, parse_body, reply, Api, Reply};
use pregon::auth::Scope;
use pregon::model::FieldError;
use pregon_aws::apikeys::KeyRecord;
use pregon_aws::Error as AwsError;
use serde_json::{json, Value};
use tracing::info;

/// A new key's request: `{name, scopes, expires_at?}`, each bad field named.
fn new_key(body: &[u8]) -> Result<(String, Vec<Scope>, Option<String>), Vec<FieldError>> {
    let bad = |field: &str, message: &str| FieldError {
        field: field.into(),
        message: message.into(),
    };
    let v = parse_body(body)?;
    let Some(o) = v.as_object() else {
        return Err(vec![bad("body", "must be a JSON object")]);
    };
    let mut errors = Vec::new();
    for k in o.keys() {
        if k != "name" && k != "scopes" && k != "expires_at" {
            errors.push(bad(k, "is not a known field"));
        }
    }
    let name = match o.get("name").and_then(Value::as_str) {
        Some(n)
            if !n.trim().is_empty()
                && n.chars().count() <= 100
                && !n.contains(char::is_control) =>
        {
            n.trim().to_string()
        }
        _ => {
            errors.push(bad(
                "name",
                "is required: 1 to 100 characters, no control characters",
            ));
            String::new()
        }
    };
    let mut scopes = Vec::new();
    match o.get("scopes").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => {
            for (i, s) in list.iter().enumerate() {
                match s.as_str().map(str::parse::<Scope>) {
                    Some(Ok(s)) if !scopes.contains(&s) => scopes.push(s),
                    Some(Ok(_)) => errors.push(bad(&format!("scopes[{i}]"), "is listed twice")),
                    Some(Err(e)) => errors.push(bad(&format!("scopes[{i}]"), &e)),
                    None => errors.push(bad(&format!("scopes[{i}]"), "must be a string")),
                }
            }
        }
        _ => {
            let all: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            errors.push(bad(
                "scopes",
                &format!("is required: a list of one or more of {}", all.join(", ")),
            ));
        }
    }
    scopes.sort();
    let expires_at = match o.get("expires_at") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str().and_then(pregon::model::parse_time) {
            Some(t) if t > time::OffsetDateTime::now_utc() => Some(pregon::model::format_time(t)),
            Some(_) => {
                errors.push(bad("expires_at", "must be in the future"));
                None
            }
            None => {
                errors.push(bad(
                    "expires_at",
                    "must be an RFC 3339 time (2027-01-01T00:00:00Z)",
                ));
                None
            }
        },
    };
    if errors.is_empty() {
        Ok((name, scopes, expires_at))
    } else {
        Err(errors)
    }
}

impl Api {
    /// `POST /v1/keys`: a new key; its secret is in this answer only.
    pub(crate) async fn create_key(&self, tenant: &str, body: &[u8]) -> Result<Reply, AwsError> {
        let (name, scopes, expires_at) = match new_key(body) {
            Ok(k) => k,
            Err(e) => return Ok(invalid(e)),
        };
        let secret = pregon::auth::new_api_key();
        let record = KeyRecord {
            id: pregon::model::new_id("key"),
            name,
            scopes,
            created_at: pregon::clock::now_rfc3339(),
            expires_at,
            rotated_at: None,
            hash: pregon::auth::key_hash(&secret),
        };
        self.store.create_key(tenant, &record).await?;
        info!(tenant, key = %record.id, "API key created");
        Ok(reply(201, json!(KeyView::with_secret(&record, secret))))
    }

    /// `GET /v1/keys?limit=&cursor=`: oldest first; never a secret.
    pub(crate) async fn list_keys(
        &self,
        tenant: &str,
        query: &[(String, String)],
    ) -> Result<Reply, AwsError> {
        let known = ["limit", "cursor"];
        if let Err(e) = crate::list_query(query, &known, &[]) {
            return Ok(invalid(e));
        }
        let prefix = pregon::keys::API_KEY_PREFIX;
        self.list_plain(
            tenant,
            prefix,
            "key_",
            query,
            &[],
            |_| true,
            |k: &KeyRecord| KeyView::from(k),
        )
        .await
    }

    /// `POST /v1/keys/{id}/rotate`: the key gets a new secret (in this answer only) and
    /// keeps its id, name and scopes; the old secret is refused from now on.
    pub(crate) async fn rotate_key(&self, tenant: &str, id: &str) -> Result<Reply, AwsError> {
        let secret = pregon::auth::new_api_key();
        let hash = pregon::auth::key_hash(&secret);
        match self.store.rotate_key(tenant, id, &hash).await? {
            Some(record) => {
                info!(tenant, key = %record.id, "API key rotated");
                Ok(reply(200, json!(KeyView::with_secret(&record, secret))))
            }
            None => Ok(not_found("key")),
        }
    }

    /// `DELETE /v1/keys/{id}`: the key is refused from now on.
    pub(crate) async fn revoke_key(&self, tenant: &str, id: &str) -> Result<Reply, AwsError> {
        if self.store.revoke_key(tenant, id).await? {
            info!(tenant, key = id, "API key revoked");
            Ok(reply(204, Value::Null))
        } else {
            Ok(not_found("key"))
        }
    }
}

impl Api {
    /// `GET /v1/me`: the key's tenant, name and scopes (any key may ask: the console
    /// shows what the key allows and greys out the rest).
    pub(crate) async fn who_am_i(&self, caller: &crate::Caller) -> Result<Reply, AwsError> {
        let scopes: Vec<&str> = caller.scopes.iter().map(|s| s.as_str()).collect();
        Ok(reply(
            200,
            json!({"tenant_id": caller.tenant, "key_name": caller.key_name, "scopes": scopes}),
        ))
    }
}
