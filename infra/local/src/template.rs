//! Reads `template.yaml` — the one list of tables, buckets, queues, functions and their
//! wiring — and resolves what the local stack needs from it (`!Ref`, `!Sub`, `!GetAtt`).

use anyhow::{anyhow, bail, Context, Result};
use serde_yaml::Value;
use std::collections::{BTreeMap, HashMap};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

pub struct Template {
    pub resources: BTreeMap<String, Value>,
    globals_env: Option<Value>,
    parameters: HashMap<String, String>,
}

/// The logical id an `!GetAtt Id.Attribute` names.
pub fn getatt_resource(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag == "!GetAtt" => {
            scalar(&t.value).and_then(|s| s.split_once('.').map(|(id, _)| id.to_string()))
        }
        _ => None,
    }
}

/// The queues S3 notifies (a bucket's `QueueConfigurations`) and every queue reachable
/// from them by redrive: they must live where S3 sends its events (moto).
pub fn s3_fed_queues(tpl: &Template) -> std::collections::HashSet<String> {
    let mut fed: std::collections::HashSet<String> = tpl
        .of_type("AWS::S3::Bucket")
        .filter_map(|(_, b)| prop(b, "NotificationConfiguration"))
        .filter_map(|n| n.get("QueueConfigurations")?.as_sequence().cloned())
        .flatten()
        .filter_map(|q| q.get("Queue").and_then(getatt_resource))
        .collect();
    loop {
        let more: Vec<String> = tpl
            .of_type("AWS::SQS::Queue")
            .filter(|(id, _)| fed.contains(*id))
            .filter_map(|(_, q)| {
                prop(q, "RedrivePolicy")?
                    .get("deadLetterTargetArn")
                    .and_then(getatt_resource)
            })
            .filter(|t| !fed.contains(t))
            .collect();
        if more.is_empty() {
            return fed;
        }
        fed.extend(more);
    }
}

/// What a logical id resolves to: `Ref` and `GetAtt …Arn`.
#[derive(Default)]
pub struct Names {
    pub stack: String,
    pub refs: HashMap<String, String>,
    pub arns: HashMap<String, String>,
}

impl Template {
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let doc: Value = serde_yaml::from_str(&text).context("template.yaml is not YAML")?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| anyhow!("template.yaml has no Resources"))?
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.clone())))
            .collect();
        let globals_env = doc
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .and_then(|f| f.get("Environment"))
            .cloned();
        let parameters = doc
            .get("Parameters")
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| {
                        let name = k.as_str()?.to_string();
                        // As `sam deploy --parameter-overrides`: PREGON_PARAMETER_<Name>.
                        let value = std::env::var(format!("PREGON_PARAMETER_{name}"))
                            .ok()
                            .or_else(|| scalar(v.get("Default")?))?;
                        Some((name, value))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Template {
            resources,
            globals_env,
            parameters,
        })
    }

    pub fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.resources
            .iter()
            .filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
            .map(|(k, v)| (k.as_str(), v))
    }

    /// A function's environment: `Globals` then its own, resolved.
    pub fn function_env(
        &self,
        function: &Value,
        names: &Names,
    ) -> Result<BTreeMap<String, String>> {
        let mut env = BTreeMap::new();
        let own = function
            .get("Properties")
            .and_then(|p| p.get("Environment"))
            .cloned();
        for block in [self.globals_env.clone(), own].into_iter().flatten() {
            if let Some(vars) = block.get("Variables").and_then(Value::as_mapping) {
                for (k, v) in vars {
                    let k = k
                        .as_str()
                        .ok_or_else(|| anyhow!("environment variable name is not a string"))?;
                    env.insert(
                        k.to_string(),
                        self.resolve(v, names)
                            .with_context(|| format!("resolving {k}"))?,
                    );
                }
            }
        }
        Ok(env)
    }

    /// Resolves a property value to a string.
    pub fn resolve(&self, v: &Value, names: &Names) -> Result<String> {
        match v {
            Value::Tagged(t) => match t.tag.to_string().as_str() {
                "!Ref" => self.reference(
                    scalar(&t.value)
                        .ok_or_else(|| anyhow!("!Ref needs a name"))?
                        .as_str(),
                    names,
                ),
                "!Sub" => self.sub(&t.value, names),
                "!GetAtt" => {
                    let s =
                        scalar(&t.value).ok_or_else(|| anyhow!("!GetAtt needs Name.Attribute"))?;
                    let (name, attr) = s
                        .split_once('.')
                        .ok_or_else(|| anyhow!("!GetAtt {s}: no attribute"))?;
                    // `.Arn` by the resource's name; other attributes (a table's
                    // `StreamArn`) as `Name.Attribute`.
                    let key = if attr == "Arn" {
                        name.to_string()
                    } else {
                        s.clone()
                    };
                    names
                        .arns
                        .get(&key)
                        .cloned()
                        .ok_or_else(|| anyhow!("!GetAtt {s}: unknown locally"))
                }
                other => bail!("intrinsic {other} is not supported by the local stack"),
            },
            Value::Mapping(m) if m.len() == 1 => {
                let (k, inner) = m.iter().next().expect("one entry");
                match k.as_str() {
                    Some("Ref") => self.reference(&scalar(inner).unwrap_or_default(), names),
                    Some("Fn::Sub") => self.sub(inner, names),
                    _ => bail!("unsupported value {v:?}"),
                }
            }
            other => scalar(other).ok_or_else(|| anyhow!("not a scalar: {other:?}")),
        }
    }

    fn reference(&self, name: &str, names: &Names) -> Result<String> {
        match name {
            "AWS::StackName" => Ok(names.stack.clone()),
            "AWS::AccountId" => Ok(ACCOUNT.into()),
            "AWS::Region" => Ok(REGION.into()),
            "AWS::Partition" => Ok("aws".into()),
            "AWS::URLSuffix" => Ok("amazonaws.com".into()),
            _ => names
                .refs
                .get(name)
                .or_else(|| self.parameters.get(name))
                .cloned()
                .ok_or_else(|| anyhow!("!Ref {name}: not known locally")),
        }
    }

    fn sub(&self, v: &Value, names: &Names) -> Result<String> {
        let s = scalar(v).ok_or_else(|| anyhow!("!Sub needs a string"))?;
        let mut out = String::new();
        let mut rest = s.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| anyhow!("unclosed ${{ in {s}"))?
                + start;
            let var = &rest[start + 2..end];
            let value = match var.split_once('.') {
                Some((name, "Arn")) => names
                    .arns
                    .get(name)
                    .cloned()
                    .ok_or_else(|| anyhow!("${{{var}}} unknown"))?,
                _ => self.reference(var, names)?,
            };
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `Properties.<name>` of a resource.
pub fn prop<'a>(r: &'a Value, name: &str) -> Option<&'a Value> {
    r.get("Properties").and_then(|p| p.get(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Template {
        Template::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
        )
        .unwrap()
    }

    /// Every string a value holds, through YAML tags (`!Sub "…"`) and lists.
    fn strings(v: &Value) -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Tagged(t) => strings(&t.value),
            Value::Sequence(seq) => seq.iter().flat_map(strings).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn the_upload_queues_stay_where_s3_notifies_and_send_jobs_go_elsewhere() {
        let fed = s3_fed_queues(&template());
        for q in [
            "UploadEventsQueue",
            "UploadFailuresQueue",
            "UploadEventsDLQ",
        ] {
            assert!(fed.contains(q), "{q}");
        }
        for q in ["SendMetaQueue", "DispatchQueue", "SendDLQ"] {
            assert!(!fed.contains(q), "{q}");
        }
    }

    #[test]
    fn every_function_has_least_privilege_iam() {
        let tpl = template();
        for (id, f) in tpl.of_type("AWS::Serverless::Function") {
            // A function with its own role: that role's inline policies, the same rules.
            let own_role = f
                .get("Properties")
                .and_then(|p| p.get("Role"))
                .map(strings)
                .and_then(|r| r.first().cloned());
            let role_policies: Vec<Value>;
            let policies = match own_role {
                Some(r) => {
                    let role = r.split('.').next().unwrap();
                    let docs = tpl.resources[role]["Properties"]["Policies"]
                        .as_sequence()
                        .unwrap_or_else(|| panic!("{id}: role {role} has no Policies"));
                    role_policies = docs
                        .iter()
                        .map(|d| {
                            let mut m = serde_yaml::Mapping::new();
                            m.insert("Statement".into(), d["PolicyDocument"]["Statement"].clone());
                            Value::Mapping(m)
                        })
                        .collect();
                    &role_policies
                }
                None => f
                    .get("Properties")
                    .and_then(|p| p.get("Policies"))
                    .and_then(Value::as_sequence)
                    .unwrap_or_else(|| panic!("{id}: no Policies")),
            };
            for p in policies {
                if let Some(name) = p.as_str() {
                    panic!("{id}: managed policy {name}: list the actions it needs instead");
                }
                let map = p.as_mapping().expect("policy is a mapping");
                for (k, body) in map {
                    let k = k.as_str().unwrap();
                    assert!(
                        !k.ends_with("CrudPolicy") && !k.ends_with("FullAccessPolicy"),
                        "{id}: SAM policy template {k} grants more than the function uses"
                    );
                    if k != "Statement" {
                        continue;
                    }
                    for st in body.as_sequence().unwrap() {
                        let resources = st.get("Resource").map(strings).unwrap_or_default();
                        assert!(
                            !resources.is_empty() || st.get("Resource").is_some(),
                            "{id}: a statement without Resource"
                        );
                        for r in resources {
                            assert_ne!(r, "*", "{id}: a statement on every resource");
                            assert!(
                                !r.ends_with("${AWS::AccountId}/*"),
                                "{id}: {r} is the whole bucket; name the prefix (uploads/, reports/)"
                            );
                        }
                        let actions = st.get("Action").map(strings).unwrap_or_default();
                        for a in actions {
                            assert!(
                                !a.ends_with(":*") && a != "*",
                                "{id}: action {a} is every action"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_stream_reader_has_its_own_role_on_this_tables_stream_only() {
        let tpl = template();
        let f = &tpl.resources["TallyFunction"]["Properties"];
        assert!(
            f.get("Policies").is_none(),
            "SAM would add AWSLambdaDynamoDBExecutionRole"
        );
        let role = &tpl.resources["TallyRole"]["Properties"];
        assert!(role.get("ManagedPolicyArns").is_none());
        let stmts = role["Policies"][0]["PolicyDocument"]["Statement"]
            .as_sequence()
            .unwrap();
        let stream = stmts
            .iter()
            .find(|s| {
                strings(&s["Action"])
                    .iter()
                    .any(|a| a == "dynamodb:GetRecords")
            })
            .expect("a statement for the stream");
        assert_eq!(strings(&stream["Resource"]), ["${Table.Arn}/stream/*"]);
    }

    #[test]
    fn logs_are_kept_a_while_queues_are_encrypted_and_cors_names_one_origin() {
        let tpl = template();
        for (id, f) in tpl.of_type("AWS::Serverless::Function") {
            let group = strings(&f["Properties"]["LoggingConfig"]["LogGroup"]);
            assert!(!group.is_empty(), "{id}: no LoggingConfig.LogGroup");
            let g = &tpl.resources[&group[0]];
            assert_eq!(g["Type"], "AWS::Logs::LogGroup", "{id}");
            assert!(
                g["Properties"].get("RetentionInDays").is_some(),
                "{id}: its logs are kept for ever"
            );
        }
        for (id, q) in tpl.of_type("AWS::SQS::Queue") {
            assert_eq!(
                q["Properties"]["SqsManagedSseEnabled"],
                Value::Bool(true),
                "{id}: not encrypted"
            );
        }
        let api = &tpl.resources["HttpApi"]["Properties"]["AccessLogSettings"];
        assert!(api.get("DestinationArn").is_some() && api.get("Format").is_some());
        let fmt = api["Format"].as_str().unwrap();
        assert!(
            !fmt.contains("queryString") && !fmt.contains("authorization"),
            "access logs must not carry keys"
        );
        let doc: Value = serde_yaml::from_str(
            &std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
            )
            .unwrap(),
        )
        .unwrap();
        let cors = &doc["Parameters"]["UploadCorsOrigin"];
        assert!(
            cors.get("Default").is_none(),
            "the upload origin must be given"
        );
        // The report emails: only with an allowed From address.
        let results = &tpl.resources["ResultsFunction"]["Properties"]["Policies"][0]["Statement"];
        let ses = results
            .as_sequence()
            .unwrap()
            .iter()
            .find(|s| strings(&s["Action"]).iter().any(|a| a == "ses:SendEmail"))
            .unwrap();
        assert!(
            ses["Condition"]["StringEquals"]
                .get("ses:FromAddress")
                .is_some(),
            "SendEmail from any verified identity"
        );
    }
}
