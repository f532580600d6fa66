//! Creating the resources `template.yaml` declares, on the local servers, in the order
//! they name each other: tables (with their streams), queues (dead-letter queues
//! first), buckets (with their notifications to the queues), event buses.

use crate::clients::Clients;
use crate::resources;
use crate::template::{self, prop, scalar, Names, Template, ACCOUNT, REGION};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use std::collections::HashMap;

/// What was created, as the later steps need it.
pub struct Stack {
    /// What each logical id resolves to (`Ref`, `GetAtt …Arn`).
    pub names: Names,
    /// Each queue's URL, by logical id.
    pub queue_urls: HashMap<String, String>,
    /// The URLs of the queues that live in fauxqs (the rest are in moto).
    pub fauxqs_urls: Vec<String>,
    /// The bucket's name (the last one, when there are several).
    pub bucket: String,
    /// The event bus's name (the last one, when there are several).
    pub event_bus: String,
    /// The main table's name (the one ending in `-main`).
    pub table: String,
}

/// Creates every table, queue, bucket and event bus of the template.
pub async fn create(tpl: &Template, stack_name: &str, clients: &Clients) -> Result<Stack> {
    let mut names = Names {
        stack: stack_name.to_string(),
        ..Default::default()
    };
    tables(tpl, &mut names, &clients.ddb).await?;
    let (queue_urls, fauxqs_urls) = queues(tpl, &mut names, clients).await?;
    let bucket = buckets(tpl, &mut names, &clients.s3).await?;
    let event_bus = event_buses(tpl, &mut names, &clients.events).await?;
    let table = names
        .refs
        .values()
        .find(|v| v.ends_with("-main"))
        .cloned()
        .unwrap_or_default();
    Ok(Stack {
        names,
        queue_urls,
        fauxqs_urls,
        bucket,
        event_bus,
        table,
    })
}

/// The tables, with their ARNs and their streams' ARNs.
async fn tables(tpl: &Template, names: &mut Names, ddb: &aws_sdk_dynamodb::Client) -> Result<()> {
    for (id, r) in tpl.of_type("AWS::DynamoDB::Table") {
        let name = tpl.resolve(
            prop(r, "TableName").ok_or_else(|| anyhow!("{id}: no TableName"))?,
            names,
        )?;
        let stream = resources::create_table(ddb, &name, r)
            .await
            .with_context(|| format!("creating table {name}"))?;
        if let Some(arn) = stream {
            names.arns.insert(format!("{id}.StreamArn"), arn);
        }
        names.arns.insert(
            id.into(),
            format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"),
        );
        names.refs.insert(id.into(), name);
    }
    Ok(())
}

/// The template's queues, each after the queue its redrive policy names (DLQs first,
/// then chains).
fn redrive_order(tpl: &Template) -> Result<Vec<(&str, &serde_yaml::Value)>> {
    let mut queues: Vec<(&str, &serde_yaml::Value)> = Vec::new();
    let mut pending: Vec<(&str, &serde_yaml::Value)> = tpl.of_type("AWS::SQS::Queue").collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|(id, r)| {
            let target = prop(r, "RedrivePolicy")
                .and_then(|rp| rp.get("deadLetterTargetArn"))
                .and_then(template::getatt_resource);
            let ready = target.is_none_or(|t| queues.iter().any(|(q, _)| *q == t.as_str()));
            if ready {
                queues.push((id, r));
            }
            !ready
        });
        if pending.len() == before {
            bail!(
                "queues whose redrive policies form a cycle or name no queue: {:?}",
                pending.iter().map(|(id, _)| *id).collect::<Vec<_>>()
            );
        }
    }
    Ok(queues)
}

/// The queues, in redrive order, each on the server it belongs to: their URLs by
/// logical id, and the URLs of those in fauxqs.
async fn queues(
    tpl: &Template,
    names: &mut Names,
    clients: &Clients,
) -> Result<(HashMap<String, String>, Vec<String>)> {
    let queues = redrive_order(tpl)?;
    let mut queue_urls = HashMap::new();
    // S3 notifies moto's own SQS: the queues S3 notifies, and those they redrive to,
    // live in moto; every other queue (send jobs: volume) in fauxqs.
    let in_moto = template::s3_fed_queues(tpl);
    let mut fauxqs_urls: Vec<String> = Vec::new();
    for (id, r) in queues {
        let on_moto = in_moto.contains(id);
        let sqs = if on_moto {
            &clients.sqs
        } else {
            &clients.jobs_sqs
        };
        let name = tpl.resolve(
            prop(r, "QueueName").ok_or_else(|| anyhow!("{id}: no QueueName"))?,
            names,
        )?;
        let url = create_queue(tpl, names, sqs, id, r, &name).await?;
        // Each server names its queues' ARNs its own way: ask it.
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .ok()
            .and_then(|a| a.attributes)
            .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .unwrap_or_else(|| format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"));
        names.arns.insert(id.into(), arn);
        if !on_moto {
            fauxqs_urls.push(url.clone());
        }
        names.refs.insert(id.into(), url.clone());
        queue_urls.insert(id.to_string(), url);
    }
    Ok((queue_urls, fauxqs_urls))
}

/// Creates one queue `name` with the template's attributes (visibility timeout,
/// retention, redrive policy); its URL.
async fn create_queue(
    tpl: &Template,
    names: &Names,
    sqs: &aws_sdk_sqs::Client,
    id: &str,
    r: &serde_yaml::Value,
    name: &str,
) -> Result<String> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let mut req = sqs.create_queue().queue_name(name);
    if let Some(v) = prop(r, "VisibilityTimeout").and_then(scalar) {
        req = req.attributes(QueueAttributeName::VisibilityTimeout, v);
    }
    if let Some(v) = prop(r, "MessageRetentionPeriod").and_then(scalar) {
        req = req.attributes(QueueAttributeName::MessageRetentionPeriod, v);
    }
    if let Some(rp) = prop(r, "RedrivePolicy") {
        let dlq = tpl.resolve(
            rp.get("deadLetterTargetArn")
                .ok_or_else(|| anyhow!("{id}: redrive without DLQ"))?,
            names,
        )?;
        let max = rp
            .get("maxReceiveCount")
            .and_then(scalar)
            .unwrap_or_else(|| "3".into());
        let policy = json!({"deadLetterTargetArn": dlq, "maxReceiveCount": max}).to_string();
        req = req.attributes(QueueAttributeName::RedrivePolicy, policy);
    }
    Ok(req
        .send()
        .await
        .with_context(|| format!("creating queue {name}"))?
        .queue_url
        .unwrap_or_default())
}

/// The buckets, with their notifications; the last bucket's name.
async fn buckets(tpl: &Template, names: &mut Names, s3: &aws_sdk_s3::Client) -> Result<String> {
    let mut bucket_name = String::new();
    for (id, r) in tpl.of_type("AWS::S3::Bucket") {
        let name = tpl.resolve(
            prop(r, "BucketName").ok_or_else(|| anyhow!("{id}: no BucketName"))?,
            names,
        )?;
        s3.create_bucket()
            .bucket(&name)
            .send()
            .await
            .with_context(|| format!("creating bucket {name}"))?;
        if let Some(n) = prop(r, "NotificationConfiguration") {
            resources::notify(s3, tpl, names, &name, n)
                .await
                .with_context(|| format!("bucket {name} notifications"))?;
        }
        names.arns.insert(id.into(), format!("arn:aws:s3:::{name}"));
        names.refs.insert(id.into(), name.clone());
        bucket_name = name;
    }
    Ok(bucket_name)
}

/// EventBridge (moto): the template's buses; the last bus's name. What is published
/// stays readable the way a tenant reads it: a rule on the bus to a queue
/// (tests/webhooks.rs does).
async fn event_buses(
    tpl: &Template,
    names: &mut Names,
    events: &aws_sdk_eventbridge::Client,
) -> Result<String> {
    let mut event_bus = String::new();
    for (id, r) in tpl.of_type("AWS::Events::EventBus") {
        let name = tpl.resolve(
            prop(r, "Name").ok_or_else(|| anyhow!("{id}: no Name"))?,
            names,
        )?;
        let arn = events
            .create_event_bus()
            .name(&name)
            .send()
            .await
            .with_context(|| format!("creating event bus {name}"))?
            .event_bus_arn
            .unwrap_or_else(|| format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"));
        names.arns.insert(id.into(), arn);
        names.refs.insert(id.into(), name.clone());
        event_bus = name;
    }
    Ok(event_bus)
}
