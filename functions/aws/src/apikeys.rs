//! Tenants and their API keys as the store keeps them. A key is two items: its
//! SHA-256 (`KEY#{hash}`), what a request is authenticated by in one read, and its
//! record under the tenant (`TENANT#{t}` / `APIKEY#{id}`), what the tenant lists,
//! rotates and revokes. The secret itself is never stored.

use crate::store::{s, Store};
use crate::Error;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use pregon::auth::Scope;
use pregon::keys;
use serde::{Deserialize, Serialize};

/// What a request's key says: its tenant, and what it may do. Keys made before scopes
/// existed (no `scopes`) may do everything.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKeyItem {
    pub tenant_id: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<Scope>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Its tenant is disabled by the operator: refused until enabled.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

impl ApiKeyItem {
    /// Whether the key holds `scope`.
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.as_ref().is_none_or(|s| s.contains(&scope))
    }

    /// Whether the key has expired by `now` (RFC 3339, UTC).
    pub fn expired(&self, now: &str) -> bool {
        self.expires_at.as_deref().is_some_and(|e| e <= now)
    }
}

/// A key as its tenant sees it (never the secret; its hash stays in the store).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: String,
    pub expires_at: Option<String>,
    #[serde(default)]
    pub rotated_at: Option<String>,
    /// The SHA-256 of the key's current secret.
    pub hash: String,
}

/// A tenant as the operator sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantItem {
    pub tenant_id: String,
    pub name: String,
    pub created_at: String,
    /// When the operator disabled it (every key refused, its sending paused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
    /// The campaigns disabling paused, resumed when it is enabled again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paused_campaigns: Vec<String>,
}

impl Store {
    /// The key whose secret has SHA-256 `hash`, if any.
    pub async fn api_key(&self, hash: &str) -> Result<Option<ApiKeyItem>, Error> {
        let key = self.get::<ApiKeyItem>(keys::api_key(hash)).await?;
        Ok(key.filter(|k| {
            let ok = pregon::auth::valid_tenant_id(&k.tenant_id);
            if !ok {
                tracing::error!("an API key names a malformed tenant id; refused");
            }
            ok
        }))
    }

    /// A tenant, filed in the operator's list, and its first key (every scope), given as
    /// the SHA-256 of its secret. Refused (`Ok(false)`) when the id is taken.
    pub async fn create_tenant(
        &self,
        tenant_id: &str,
        name: &str,
        key_hash: &str,
    ) -> Result<bool, Error> {
        if !pregon::auth::valid_tenant_id(tenant_id) {
            return Err(Error::Shape(format!(
                "'{tenant_id}' is not a tenant id (1–64 of a-z, 0-9, _ and -)"
            )));
        }
        let now = pregon::clock::now_rfc3339();
        let tenant = TenantItem {
            tenant_id: tenant_id.into(),
            name: name.into(),
            created_at: now.clone(),
            disabled_at: None,
            paused_campaigns: Vec::new(),
        };
        let record = KeyRecord {
            id: pregon::model::new_id("key"),
            name: "first key".into(),
            scopes: Scope::ALL.to_vec(),
            created_at: now,
            expires_at: None,
            rotated_at: None,
            hash: key_hash.into(),
        };
        let items = vec![
            self.put_new(keys::tenant(tenant_id), &tenant)?,
            self.put_new(keys::tenant_index(tenant_id), &tenant)?,
            self.put_new(keys::api_key(key_hash), &key_item(tenant_id, &record))?,
            self.put_new(keys::api_key_record(tenant_id, &record.id), &record)?,
        ];
        self.transact(items).await
    }

    /// The operator's list of tenants, oldest first.
    pub async fn tenants(
        &self,
        limit: i32,
        after: Option<String>,
    ) -> Result<(Vec<TenantItem>, Option<String>), Error> {
        self.list(
            keys::TENANTS_PK.into(),
            keys::TENANT_PREFIX,
            false,
            limit,
            after,
            &[],
        )
        .await
    }

    /// A new key of `tenant` with its SHA-256 `hash`; refused (`Ok(false)`) only if the
    /// id is taken (never: ids are random).
    pub async fn create_key(&self, tenant: &str, record: &KeyRecord) -> Result<bool, Error> {
        let items = vec![
            self.put_new(keys::api_key(&record.hash), &key_item(tenant, record))?,
            self.put_new(keys::api_key_record(tenant, &record.id), record)?,
        ];
        self.transact(items).await
    }

    /// Revokes a key: both its items go, at once. Whether it existed.
    pub async fn revoke_key(&self, tenant: &str, id: &str) -> Result<bool, Error> {
        let Some(record) = self
            .get::<KeyRecord>(keys::api_key_record(tenant, id))
            .await?
        else {
            return Ok(false);
        };
        let items = vec![
            self.delete_existing(keys::api_key_record(tenant, id)),
            self.delete_existing(keys::api_key(&record.hash)),
        ];
        self.transact(items).await
    }

    /// Gives a key a new secret (SHA-256 `new_hash`): the old one stops working in the
    /// same write. The key's new record, or `None` when there is no such key.
    pub async fn rotate_key(
        &self,
        tenant: &str,
        id: &str,
        new_hash: &str,
    ) -> Result<Option<KeyRecord>, Error> {
        let Some(old) = self
            .get::<KeyRecord>(keys::api_key_record(tenant, id))
            .await?
        else {
            return Ok(None);
        };
        let record = KeyRecord {
            hash: new_hash.into(),
            rotated_at: Some(pregon::clock::now_rfc3339()),
            ..old.clone()
        };
        let replace = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.keyed(keys::api_key_record(tenant, id), &record)?))
            .condition_expression("#h = :old")
            .expression_attribute_names("#h", "hash")
            .expression_attribute_values(":old", s(old.hash.clone()))
            .build()
            .map_err(Error::dynamo)?;
        let items = vec![
            TransactWriteItem::builder().put(replace).build(),
            self.delete_existing(keys::api_key(&old.hash)),
            self.put_new(keys::api_key(new_hash), &key_item(tenant, &record))?,
        ];
        Ok(self.transact(items).await?.then_some(record))
    }

    /// Adds campaigns to the ones a disabled tenant paused (dispatch adds a scheduled
    /// one that came due meanwhile), on its item and its entry in the operator's list.
    /// `false` when the tenant is not disabled (any more).
    pub async fn add_tenant_paused(
        &self,
        tenant: &str,
        campaigns: &[String],
    ) -> Result<bool, Error> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let list = AttributeValue::L(
            campaigns
                .iter()
                .map(|c| crate::store::s(c.as_str()))
                .collect(),
        );
        let mut added = true;
        for key in [keys::tenant(tenant), keys::tenant_index(tenant)] {
            let res = self
                .update_at(key)
                .update_expression(
                    "SET paused_campaigns = list_append(if_not_exists(paused_campaigns, :none), :ids)",
                )
                .condition_expression("attribute_exists(disabled_at)")
                .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
                .expression_attribute_values(":ids", list.clone())
                .send()
                .await;
            added &= crate::store::conditional(res)?;
        }
        Ok(added)
    }

    /// Disables (`Some(when)`, with the campaigns that were paused for it) or enables
    /// (`None`) a tenant: its item, its entry in the operator's list, and every one of
    /// its keys, so a request is refused by the one read that authenticates it.
    pub async fn set_tenant_disabled(
        &self,
        t: &TenantItem,
        disabled_at: Option<&str>,
        paused: &[String],
    ) -> Result<(), Error> {
        let item = TenantItem {
            disabled_at: disabled_at.map(str::to_string),
            paused_campaigns: paused.to_vec(),
            ..t.clone()
        };
        self.put(keys::tenant(&t.tenant_id), &item).await?;
        self.put(keys::tenant_index(&t.tenant_id), &item).await?;
        let mut after = None;
        loop {
            let (page, next) = self
                .list::<KeyRecord>(
                    keys::tenant_pk(&t.tenant_id),
                    keys::API_KEY_PREFIX,
                    false,
                    100,
                    after.take(),
                    &[],
                )
                .await?;
            for k in page {
                let update = self.update_at(keys::api_key(&k.hash));
                let update = if disabled_at.is_some() {
                    update
                        .update_expression("SET disabled = :t")
                        .expression_attribute_values(
                            ":t",
                            aws_sdk_dynamodb::types::AttributeValue::Bool(true),
                        )
                } else {
                    update.update_expression("REMOVE disabled")
                };
                // A key revoked or rotated meanwhile has nothing to mark (`false`).
                crate::store::conditional(
                    update
                        .condition_expression("attribute_exists(pk)")
                        .send()
                        .await,
                )?;
            }
            match next {
                Some(n) => after = Some(n),
                None => return Ok(()),
            }
        }
    }

    /// A `Put` that only creates.
    fn put_new<T: Serialize>(
        &self,
        key: (String, String),
        value: &T,
    ) -> Result<TransactWriteItem, Error> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.keyed(key, value)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(Error::dynamo)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A `Delete` of an item that must exist.
    fn delete_existing(&self, (pk, sk): (String, String)) -> TransactWriteItem {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .condition_expression("attribute_exists(pk)")
            .build()
            .expect("table, key and condition are set");
        TransactWriteItem::builder().delete(delete).build()
    }

    /// The writes, all or none: `false` when a condition did not hold.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, Error> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_transaction_canceled_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(Error::dynamo(e)),
        }
    }
}

/// The item a request is authenticated by, for a key's record.
fn key_item(tenant: &str, r: &KeyRecord) -> ApiKeyItem {
    ApiKeyItem {
        tenant_id: tenant.into(),
        created_at: r.created_at.clone(),
        key_id: Some(r.id.clone()),
        name: Some(r.name.clone()),
        scopes: Some(r.scopes.clone()),
        expires_at: r.expires_at.clone(),
        disabled: false,
    }
}
