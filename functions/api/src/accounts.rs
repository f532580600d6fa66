//! `/v1/accounts`: provider accounts; credentials go to Secrets Manager (SPEC §9, §10).

use crate::{invalid, parse_body, reply, Api, Reply};
use pregon::keys;
use pregon::model::{new_id, now_rfc3339, Account, NewAccount};
use pregon_aws::store::StoreError;
use serde_json::Value;
use tracing::info;

impl Api {
    pub(crate) async fn create_account(
        &self,
        tenant: &str,
        body: &[u8],
    ) -> Result<Reply, StoreError> {
        let new = match parse_body(body).and_then(|b| NewAccount::parse(&b)) {
            Ok(n) => n,
            Err(e) => return Ok(invalid(e)),
        };
        let id = new_id("acc");
        let credentials_secret_arn = match &new.credentials {
            None => None,
            Some(c) => {
                let name = format!("{}{tenant}/accounts/{id}", self.aws.secret_prefix);
                let out = self
                    .aws
                    .secrets
                    .create_secret()
                    .name(&name)
                    .secret_string(Value::Object(c.clone()).to_string())
                    .send()
                    .await
                    .map_err(|e| StoreError::Dynamo(format!("Secrets Manager: {e:?}")))?;
                out.arn
            }
        };
        let account = Account {
            id: id.clone(),
            provider: new.provider,
            channel: new.channel,
            sender: new.sender,
            default_country: new.default_country,
            rate: new.rate,
            credentials_secret_arn,
            ports: Vec::new(),
            created_at: now_rfc3339(),
        };
        self.store
            .create(keys::account(tenant, &id), &account)
            .await?;
        info!(tenant, account = %id, "account created");
        Ok(reply(201, account.public()))
    }
}
