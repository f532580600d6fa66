//! Creating what template.yaml declares, on the local servers: the table, the bucket's
//! notifications, and reading the functions' SQS concurrency.

use crate::template::{prop, scalar, Names, Template};
use anyhow::{anyhow, Result};

/// Creates the table; its stream's ARN when the template gives it one.
pub async fn create_table(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
    r: &serde_yaml::Value,
) -> Result<Option<String>> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let mut req = ddb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for a in prop(r, "AttributeDefinitions")
        .and_then(|v| v.as_sequence())
        .ok_or_else(|| anyhow!("no AttributeDefinitions"))?
    {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(a.get("AttributeName").and_then(scalar).unwrap_or_default())
                .attribute_type(ScalarAttributeType::from(
                    a.get("AttributeType")
                        .and_then(scalar)
                        .unwrap_or_default()
                        .as_str(),
                ))
                .build()?,
        );
    }
    for k in prop(r, "KeySchema")
        .and_then(|v| v.as_sequence())
        .ok_or_else(|| anyhow!("no KeySchema"))?
    {
        req = req.key_schema(
            KeySchemaElement::builder()
                .attribute_name(k.get("AttributeName").and_then(scalar).unwrap_or_default())
                .key_type(KeyType::from(
                    k.get("KeyType")
                        .and_then(scalar)
                        .unwrap_or_default()
                        .as_str(),
                ))
                .build()?,
        );
    }
    if let Some(view) = prop(r, "StreamSpecification")
        .and_then(|v| v.get("StreamViewType"))
        .and_then(scalar)
    {
        req = req.stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::from(view.as_str()))
                .build()?,
        );
    }
    let out = req.send().await?;
    Ok(out.table_description.and_then(|d| d.latest_stream_arn))
}

pub async fn notify(
    s3: &aws_sdk_s3::Client,
    tpl: &Template,
    names: &Names,
    bucket: &str,
    n: &serde_yaml::Value,
) -> Result<()> {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration,
        NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    };
    let mut cfg = NotificationConfiguration::builder();
    for q in n
        .get("QueueConfigurations")
        .and_then(|v| v.as_sequence())
        .cloned()
        .unwrap_or_default()
    {
        let arn = tpl.resolve(
            q.get("Queue")
                .ok_or_else(|| anyhow!("queue configuration without Queue"))?,
            names,
        )?;
        let mut qc = QueueConfiguration::builder()
            .queue_arn(arn)
            .events(Event::from(
                q.get("Event").and_then(scalar).unwrap_or_default().as_str(),
            ));
        if let Some(rules) = q
            .get("Filter")
            .and_then(|f| f.get("S3Key"))
            .and_then(|k| k.get("Rules"))
            .and_then(|r| r.as_sequence())
        {
            let mut key = S3KeyFilter::builder();
            for rule in rules {
                key = key.filter_rules(
                    FilterRule::builder()
                        .name(FilterRuleName::from(
                            rule.get("Name")
                                .and_then(scalar)
                                .unwrap_or_default()
                                .as_str(),
                        ))
                        .value(rule.get("Value").and_then(scalar).unwrap_or_default())
                        .build(),
                );
            }
            qc = qc.filter(
                NotificationConfigurationFilter::builder()
                    .key(key.build())
                    .build(),
            );
        }
        cfg = cfg.queue_configurations(qc.build()?);
    }
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(cfg.build())
        .send()
        .await?;
    Ok(())
}

/// An SQS event's `ScalingConfig.MaximumConcurrency` (1 when absent).
pub fn event_concurrency(props: &serde_yaml::Value) -> usize {
    props
        .get("ScalingConfig")
        .and_then(|c| c.get("MaximumConcurrency"))
        .and_then(scalar)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// How many instances of a function run at once: the largest concurrency of its SQS
/// sources, or for an HTTP function its reserved concurrency (at most 20); never more
/// than its reserved concurrency.
pub fn max_concurrency(function: &serde_yaml::Value) -> usize {
    let reserved = prop(function, "ReservedConcurrentExecutions")
        .and_then(|v| v.as_u64())
        .map(|n| n as usize);
    let events: Vec<serde_yaml::Value> = prop(function, "Events")
        .and_then(|e| e.as_mapping())
        .map(|m| m.values().cloned().collect())
        .unwrap_or_default();
    let kind = |ev: &serde_yaml::Value, k: &str| ev.get("Type").and_then(|t| t.as_str()) == Some(k);
    let from_queues = events
        .iter()
        .filter(|ev| kind(ev, "SQS"))
        .filter_map(|ev| ev.get("Properties"))
        .map(event_concurrency)
        .max()
        .unwrap_or(1);
    // An HTTP function takes as many requests at once as its reserved concurrency
    // allows (API Gateway starts an instance per concurrent request), here at most 20.
    let from_http = if events.iter().any(|ev| kind(ev, "HttpApi")) {
        reserved.unwrap_or(4).min(20)
    } else {
        1
    };
    let n = from_queues.max(from_http);
    reserved.map_or(n, |r| n.min(r.max(1)))
}
