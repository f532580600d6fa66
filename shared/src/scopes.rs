//! What an API key may do (issue "operate it"): each key carries scopes, each route
//! needs one. Reading is `read`; writing is split by who does it in the seed
//! systems' teams: supervisors shape campaigns (`campaigns:write`), someone presses
//! send (`send`), agents answer (`tickets:write`), an administrator configures
//! accounts, templates and settings (`settings:write`) and hands out keys
//! (`keys:admin`).

use serde::{Deserialize, Serialize};

/// One permission of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// Every `GET` but the key list.
    #[serde(rename = "read")]
    Read,
    /// Create, upload to, rename and delete campaigns; the do-not-contact list.
    #[serde(rename = "campaigns:write")]
    CampaignsWrite,
    /// Send, pause, resume, cancel and unschedule campaigns; single messages.
    #[serde(rename = "send")]
    Send,
    /// Reply to, attend and close tickets.
    #[serde(rename = "tickets:write")]
    TicketsWrite,
    /// Provider accounts, templates and the tenant's settings.
    #[serde(rename = "settings:write")]
    SettingsWrite,
    /// Create, list, rotate and revoke API keys.
    #[serde(rename = "keys:admin")]
    KeysAdmin,
}

impl Scope {
    /// Every scope, in the order the API lists them.
    pub const ALL: [Scope; 6] = [
        Scope::Read,
        Scope::CampaignsWrite,
        Scope::Send,
        Scope::TicketsWrite,
        Scope::SettingsWrite,
        Scope::KeysAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::CampaignsWrite => "campaigns:write",
            Scope::Send => "send",
            Scope::TicketsWrite => "tickets:write",
            Scope::SettingsWrite => "settings:write",
            Scope::KeysAdmin => "keys:admin",
        }
    }

    /// The scope a tenant route needs: `method` and the path's segments after `v1`.
    /// `None` for a path under no resource this API has (it answers 404): a new
    /// resource must be named here before any key reaches it.
    pub fn for_route(method: &str, rest: &[&str]) -> Option<Scope> {
        let resource = *rest.first()?;
        Some(match (method, rest) {
            (_, ["keys", ..]) => Scope::KeysAdmin,
            _ if !RESOURCES.contains(&resource) => return None,
            ("GET", _) => Scope::Read,
            (_, ["campaigns", _, "send" | "pause" | "resume" | "cancel" | "unschedule"]) => {
                Scope::Send
            }
            ("POST", ["messages"]) => Scope::Send,
            (_, ["campaigns" | "dnc", ..]) => Scope::CampaignsWrite,
            (_, ["tickets", ..]) => Scope::TicketsWrite,
            (_, ["accounts" | "templates" | "settings", ..]) => Scope::SettingsWrite,
            // Any other write (none today) is the narrowest grant's.
            _ => Scope::KeysAdmin,
        })
    }
}

/// The tenant API's resources (the first path segment after `v1`) that need a scope.
const RESOURCES: [&str; 9] = [
    "accounts",
    "templates",
    "campaigns",
    "messages",
    "dnc",
    "tickets",
    "settings",
    "analytics",
    "keys",
];

impl std::str::FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Scope::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                format!("'{s}' is not a scope ({})", all.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_needs_the_scope_of_who_does_it() {
        let cases: [(&str, &[&str], Scope); 14] = [
            ("GET", &["campaigns"], Scope::Read),
            ("GET", &["campaigns", "c", "results"], Scope::Read),
            ("GET", &["keys"], Scope::KeysAdmin),
            ("POST", &["keys"], Scope::KeysAdmin),
            ("DELETE", &["keys", "key_1"], Scope::KeysAdmin),
            ("POST", &["campaigns"], Scope::CampaignsWrite),
            ("POST", &["campaigns", "c", "upload"], Scope::CampaignsWrite),
            ("POST", &["campaigns", "c", "send"], Scope::Send),
            ("POST", &["campaigns", "c", "cancel"], Scope::Send),
            ("POST", &["messages"], Scope::Send),
            ("POST", &["dnc"], Scope::CampaignsWrite),
            ("POST", &["tickets", "t", "reply"], Scope::TicketsWrite),
            ("PATCH", &["settings"], Scope::SettingsWrite),
            ("POST", &["accounts"], Scope::SettingsWrite),
        ];
        for (method, rest, want) in cases {
            assert_eq!(
                Scope::for_route(method, rest),
                Some(want),
                "{method} {rest:?}"
            );
        }
        // A path under no resource needs none: it is a 404 for every key.
        assert_eq!(Scope::for_route("POST", &["new-thing"]), None);
        assert_eq!(Scope::for_route("GET", &[]), None);
    }

    #[test]
    fn scopes_read_and_write_as_the_api_names_them() {
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>(), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!("write".parse::<Scope>().unwrap_err().contains("keys:admin"));
    }
}
