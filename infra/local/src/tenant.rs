//! The demo tenant the local stack starts with, and the operator's key.

use anyhow::Result;

/// The demo tenant's id.
pub const DEMO_TENANT: &str = "ten_demo";

/// The keys the stack prints and writes to stack.json.
pub struct Keys {
    /// The demo tenant's API key.
    pub demo: String,
    /// The operator's key for the `/v1/admin` routes (deployed: the AdminKeySha256
    /// parameter); printed and written to stack.json, never a tenant's.
    pub admin: String,
}

/// Creates the demo tenant in `table` with a new API key; a new operator key with it.
pub async fn create(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Result<Keys> {
    let store = pregon_aws::store::Store::new(ddb.clone(), table.to_string());
    let demo = pregon::auth::new_api_key();
    let admin = pregon::auth::new_operator_key();
    store
        .create_tenant(DEMO_TENANT, "Demo tenant", &pregon::auth::key_hash(&demo))
        .await?;
    Ok(Keys { demo, admin })
}
