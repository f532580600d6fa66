//! The messages the functions hand each other on SQS, one type for the producer and
//! the consumer: a dispatch request (the API's send, resume and delete, dispatch's own
//! next slice and watch) and a results request (the API's download, the closer's
//! report email). Send jobs are [`crate::sending::SendJob`].

use serde::{Deserialize, Serialize};

/// What the API (send, resume, a schedule, a delete) and dispatch itself (the next
/// slice, a watch) put on the dispatch queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchRequest {
    pub tenant: String,
    pub campaign: String,
    /// A watch over a dispatched campaign until it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<Watch>,
    /// A deleted campaign's recipients to remove: generations `from..=to` (the API
    /// deleted the campaign item; a large list takes longer than an API call may).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge: Option<(u32, u32)>,
}

impl DispatchRequest {
    /// Dispatch (or go on dispatching) the campaign.
    pub fn send(tenant: &str, campaign: &str) -> Self {
        DispatchRequest {
            tenant: tenant.to_string(),
            campaign: campaign.to_string(),
            watch: None,
            purge: None,
        }
    }

    /// Remove a deleted campaign's recipients, generations `from..=to`.
    pub fn purge(tenant: &str, campaign: &str, from: u32, to: u32) -> Self {
        DispatchRequest {
            purge: Some((from, to)),
            ..Self::send(tenant, campaign)
        }
    }
}

/// What a watch saw last time: how many messages had an outcome, and how long it waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    pub done: i64,
    pub wait: i32,
}

/// What the API (a download) or the closer (a report email) puts on the results queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultsRequest {
    pub tenant: String,
    pub campaign: String,
    /// `csv` or `xlsx`.
    pub format: String,
    pub request_id: String,
    /// The closer's request: build the file and send the report email (the campaign's
    /// `report_email_state` names this request while it is pending).
    #[serde(default)]
    pub report: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_reads_back_as_written_and_older_bodies_still_read() {
        let d = DispatchRequest::purge("t", "c", 1, 3);
        let text = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<DispatchRequest>(&text).unwrap(), d);
        assert_eq!(
            serde_json::to_value(DispatchRequest::send("t", "c")).unwrap(),
            json!({"tenant": "t", "campaign": "c"})
        );
        // The body the API wrote by hand before this type was shared.
        let r: ResultsRequest = serde_json::from_value(
            json!({"tenant": "t", "campaign": "c", "format": "csv", "request_id": "r"}),
        )
        .unwrap();
        assert!(!r.report);
    }
}
