//! Inline recipients (SPEC §2: "a campaign created with an inline `recipients` list (up to
//! 10,000 rows)"): the list becomes the spreadsheet a tenant would have uploaded — phone,
//! the template's parameters (or `message` for SMS without a template), the campaign's
//! metadata columns — so ingest validates it with exactly the rules of a file, and a
//! problem names the row as `recipients[i]` would be row i + 2.

use crate::model::FieldError;
use crate::validate::MetadataField;
use serde_json::Value;

/// The most recipients a campaign may carry inline.
pub const MAX_INLINE_RECIPIENTS: usize = 10_000;

fn err(field: String, message: &str) -> FieldError {
    FieldError {
        field,
        message: message.to_string(),
    }
}

/// The CSV for an inline list. `template_params` is the template's parameter count, or
/// `None` for an SMS without a template (each recipient then has a `message`).
pub fn recipients_csv(
    list: &Value,
    template_params: Option<usize>,
    metadata: &[MetadataField],
) -> Result<String, Vec<FieldError>> {
    let Some(items) = list.as_array() else {
        return Err(vec![err(
            "recipients".into(),
            "must be a list of {\"phone\", \"params\"…}",
        )]);
    };
    if items.is_empty() || items.len() > MAX_INLINE_RECIPIENTS {
        return Err(vec![err(
            "recipients".into(),
            "must hold 1 to 10,000 recipients (upload a spreadsheet for more)",
        )]);
    }
    let mut header: Vec<String> = vec!["phone".into()];
    match template_params {
        Some(n) => header.extend((1..=n).map(|i| format!("param_{i}"))),
        None => header.push("message".into()),
    }
    header.extend(metadata.iter().map(|m| m.name.clone()));
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&header).expect("in memory");
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |k: &str| format!("recipients[{i}].{k}");
        let Some(o) = item.as_object() else {
            errors.push(err(format!("recipients[{i}]"), "must be an object"));
            continue;
        };
        for k in o.keys() {
            if !["phone", "params", "message", "metadata"].contains(&k.as_str()) {
                errors.push(err(at(k), "is not a known field"));
            }
        }
        let text = |v: Option<&Value>, name: &str, errors: &mut Vec<FieldError>| -> String {
            match v {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(_) => {
                    errors.push(err(name.to_string(), "must be a string"));
                    String::new()
                }
            }
        };
        let mut row = vec![text(o.get("phone"), &at("phone"), &mut errors)];
        match template_params {
            Some(n) => {
                let params = match o.get("params") {
                    None => Vec::new(),
                    Some(Value::Array(p)) => p.clone(),
                    Some(_) => {
                        errors.push(err(at("params"), "must be a list of strings"));
                        Vec::new()
                    }
                };
                if params.len() > n {
                    errors.push(err(
                        at("params"),
                        &format!("has {} values; the template takes {n}", params.len()),
                    ));
                }
                for j in 0..n {
                    row.push(text(
                        params.get(j),
                        &format!("recipients[{i}].params[{j}]"),
                        &mut errors,
                    ));
                }
            }
            None => row.push(text(o.get("message"), &at("message"), &mut errors)),
        }
        let meta = o.get("metadata").and_then(Value::as_object);
        if o.get("metadata")
            .is_some_and(|m| !m.is_object() && !m.is_null())
        {
            errors.push(err(at("metadata"), "must be an object of field → value"));
        }
        if let Some(m) = meta {
            for k in m.keys() {
                if !metadata.iter().any(|f| &f.name == k) {
                    errors.push(err(
                        format!("recipients[{i}].metadata.{k}"),
                        "is not one of the campaign's metadata fields",
                    ));
                }
            }
        }
        for f in metadata {
            let v = meta.and_then(|m| m.get(&f.name));
            let cell = match v {
                Some(Value::Bool(b)) => if *b { "1" } else { "0" }.to_string(),
                other => text(
                    other,
                    &format!("recipients[{i}].metadata.{}", f.name),
                    &mut errors,
                ),
            };
            row.push(cell);
        }
        out.write_record(&row).expect("in memory");
    }
    if !errors.is_empty() {
        errors.truncate(100);
        return Err(errors);
    }
    Ok(String::from_utf8(out.into_inner().expect("in memory")).expect("utf-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_inline_list_becomes_the_spreadsheet_of_the_template() {
        let list = json!([{"phone":"+56962000001","params":["Ana","$1"]},{"phone":"56962000002","params":["Eva","$2"]}]);
        let csv = recipients_csv(&list, Some(2), &[]).unwrap();
        assert_eq!(
            csv,
            "phone,param_1,param_2\n+56962000001,Ana,$1\n56962000002,Eva,$2\n"
        );
        let sms = recipients_csv(
            &json!([{"phone":"+56962000001","message":"Hola, Ana"}]),
            None,
            &[],
        )
        .unwrap();
        assert_eq!(sms, "phone,message\n+56962000001,\"Hola, Ana\"\n");
    }

    #[test]
    fn bad_inline_fields_are_named_by_path() {
        let list = json!([{"phone":"+56962000001","params":["Ana"],"colour":"red"},{"phone":5,"params":"x"}]);
        let e = recipients_csv(&list, Some(1), &[]).unwrap_err();
        let fields: Vec<&str> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["recipients[0].colour", "recipients[1].params"]);
        assert!(recipients_csv(&json!([]), Some(1), &[]).is_err());
    }
}
