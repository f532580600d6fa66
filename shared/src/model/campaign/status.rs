//! The campaign state machine of SPEC §5: the states, what each allows, the send
//! controls that move between them, and what made a campaign record.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A send control of the API (SPEC §2 step 3, §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Send {
        scheduled: bool,
    },
    Pause,
    Resume,
    Cancel,
    /// A scheduled campaign back to `loaded`.
    Unschedule,
}

impl Control {
    pub fn as_str(self) -> &'static str {
        match self {
            Control::Send { .. } => "send",
            Control::Pause => "pause",
            Control::Resume => "resume",
            Control::Cancel => "cancel",
            Control::Unschedule => "unschedule",
        }
    }
}

/// SPEC §5 campaign states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    AwaitingFile,
    Validating,
    Loaded,
    Invalid,
    Scheduled,
    Sending,
    Paused,
    Completed,
    CompletedWithErrors,
    Error,
    Cancelled,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::AwaitingFile => "awaiting_file",
            CampaignStatus::Validating => "validating",
            CampaignStatus::Loaded => "loaded",
            CampaignStatus::Invalid => "invalid",
            CampaignStatus::Scheduled => "scheduled",
            CampaignStatus::Sending => "sending",
            CampaignStatus::Paused => "paused",
            CampaignStatus::Completed => "completed",
            CampaignStatus::CompletedWithErrors => "completed_with_errors",
            CampaignStatus::Error => "error",
            CampaignStatus::Cancelled => "cancelled",
        }
    }

    /// The end state a campaign reaches once every message has an outcome (SPEC §5):
    /// messages, none of which could be sent (every one refused, failed or blocked) →
    /// `error` ("no message of the campaign could be sent", seed 001); else some
    /// failed → `completed_with_errors`; else `completed` (a do-not-contact block
    /// beside sent messages is not an error).
    pub fn end_of(sent: i64, failed: i64, blocked: i64) -> CampaignStatus {
        if sent == 0 && failed + blocked > 0 {
            CampaignStatus::Error
        } else if failed > 0 {
            CampaignStatus::CompletedWithErrors
        } else {
            CampaignStatus::Completed
        }
    }

    /// The end states: every message has an outcome, or the campaign was cancelled.
    pub fn is_end(self) -> bool {
        matches!(
            self,
            CampaignStatus::Completed
                | CampaignStatus::CompletedWithErrors
                | CampaignStatus::Error
                | CampaignStatus::Cancelled
        )
    }

    /// The states before sending starts: a spreadsheet may be (re)uploaded, and the
    /// campaign deleted, only in these.
    pub const BEFORE_SENDING: [CampaignStatus; 3] = [
        CampaignStatus::AwaitingFile,
        CampaignStatus::Loaded,
        CampaignStatus::Invalid,
    ];

    /// A spreadsheet may be (re)uploaded only before sending starts.
    pub fn accepts_upload(self) -> bool {
        Self::BEFORE_SENDING.contains(&self)
    }

    /// SPEC §7: results are offered once the campaign has ended ([`Self::is_end`]).
    pub fn offers_results(self) -> bool {
        self.is_end()
    }
}

impl std::str::FromStr for CampaignStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CampaignStatus::deserialize(Value::from(s))
            .map_err(|_| format!("'{s}' is not a campaign status"))
    }
}

/// What made a campaign record (see [`Campaign::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignKind {
    /// A campaign a supervisor created.
    #[default]
    Campaign,
    /// The hidden campaign of one `POST /v1/messages`.
    Message,
    /// The hidden campaign of an agent's free-form reply on a ticket.
    Reply,
}

impl CampaignKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignKind::Campaign => "campaign",
            CampaignKind::Message => "message",
            CampaignKind::Reply => "reply",
        }
    }

    pub fn is_campaign(&self) -> bool {
        *self == CampaignKind::Campaign
    }
}

impl std::str::FromStr for CampaignKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "campaign" => Ok(CampaignKind::Campaign),
            "message" => Ok(CampaignKind::Message),
            "reply" => Ok(CampaignKind::Reply),
            _ => Err("must be campaign, message, reply or all".into()),
        }
    }
}
