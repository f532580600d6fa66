//! The DynamoDB key scheme: one table, string keys `pk`/`sk`. Every tenant-owned item
//! lives under its tenant's partition, so no query can reach another tenant's data.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | API key (what a request is authenticated by) | `KEY#{sha256}` | `KEY` |
//! | API key record (what its tenant lists, rotates, revokes) | `TENANT#{t}` | `APIKEY#{key id}` |
//! | tenant | `TENANT#{t}` | `TENANT` |
//! | the operator's list of tenants | `TENANTS` | `TENANT#{t}` |
//! | account | `TENANT#{t}` | `ACCOUNT#{id}` |
//! | template | `TENANT#{t}` | `TEMPLATE#{id}` |
//! | campaign | `TENANT#{t}` | `CAMPAIGN#{id}` (ids are time-ordered: newest last) |
//! | recipient (a campaign's message) | `RCPT#{t}#{campaign}#{gen}#{shard}` | `{row:010}` |
//! | progress counters | `CNT#{t}#{campaign}` | `{shard:02}`; the tally function's own `K{shard:02}` |
//! | rate count | `RATE#{account}` | `{unix second}` |
//! | do-not-contact entry | `DNC#{t}` | `{phone}` (tenant-wide) or `{phone}#{campaign}` |
//! | tenant settings | `TENANT#{t}` | `SETTINGS` |
//! | ticket | `TICKETS#{t}#{shard}` | `{ticket id}` |
//! | ticket conversation line | `TKMSG#{t}#{ticket id}` | `{at}#{id}` |
//! | ticket due to close | `DUE#{yyyy-mm-ddThh}#{shard}` (hour of the due time; shard 0–15 of `{t}#{ticket id}`; the unsharded `DUE#{hour}` of older deployments is still read) | `{due at}#{t}#{ticket id}` |
//! | inbound message taken in | `INMSG#{account}#{provider message id}` | `MSG` |
//! | campaign waiting for its report email | `REPORTS` | `{t}#{campaign}` |
//! | a phone's open ticket / last inbound message / latest informative message | `CONTACT#{account}` | `{phone}#TICKET` / `{phone}#WINDOW` / `{phone}#SENT` |
//!
//! Recipients are spread over [`RECIPIENT_SHARDS`] partitions per campaign so a
//! million-row ingest is not held to one partition's write rate (1,000 WCU/s).

pub const RECIPIENT_SHARDS: u32 = 16;

pub fn api_key(hash: &str) -> (String, String) {
    (format!("KEY#{hash}"), "KEY".into())
}

/// A key's record under its tenant (`APIKEY#{id}`).
pub fn api_key_record(tenant: &str, id: &str) -> (String, String) {
    (tenant_pk(tenant), format!("{API_KEY_PREFIX}{id}"))
}

pub const API_KEY_PREFIX: &str = "APIKEY#";

/// The partition of the operator's list of tenants.
pub const TENANTS_PK: &str = "TENANTS";
pub const TENANT_PREFIX: &str = "TENANT#";

/// A tenant's entry in the operator's list.
pub fn tenant_index(t: &str) -> (String, String) {
    (TENANTS_PK.into(), format!("{TENANT_PREFIX}{t}"))
}

pub fn tenant(t: &str) -> (String, String) {
    (tenant_pk(t), "TENANT".into())
}

pub fn tenant_pk(t: &str) -> String {
    format!("TENANT#{t}")
}

pub fn account(t: &str, id: &str) -> (String, String) {
    (tenant_pk(t), format!("ACCOUNT#{id}"))
}

pub fn template(t: &str, id: &str) -> (String, String) {
    (tenant_pk(t), format!("TEMPLATE#{id}"))
}

pub fn campaign(t: &str, id: &str) -> (String, String) {
    (tenant_pk(t), format!("CAMPAIGN#{id}"))
}

pub const ACCOUNT_PREFIX: &str = "ACCOUNT#";
pub const TEMPLATE_PREFIX: &str = "TEMPLATE#";
pub const CAMPAIGN_PREFIX: &str = "CAMPAIGN#";

/// The shard a spreadsheet row's recipient is stored in.
pub fn recipient_shard(row: u64) -> u32 {
    (row % RECIPIENT_SHARDS as u64) as u32
}

pub fn recipient_pk(t: &str, campaign: &str, gen: u32, shard: u32) -> String {
    format!("RCPT#{t}#{campaign}#{gen}#{shard}")
}

pub fn recipient(t: &str, campaign: &str, gen: u32, row: u64) -> (String, String) {
    (
        recipient_pk(t, campaign, gen, recipient_shard(row)),
        format!("{row:010}"),
    )
}

/// A recipient record's keys read back: (tenant, campaign, gen, row); `None` for any
/// other item.
pub fn parse_recipient<'a>(pk: &'a str, sk: &str) -> Option<(&'a str, &'a str, u32, u64)> {
    let mut p = pk.strip_prefix("RCPT#")?.split('#');
    let (t, c, g, shard) = (p.next()?, p.next()?, p.next()?, p.next()?);
    let row: u64 = sk.parse().ok()?;
    if p.next().is_some()
        || t.is_empty()
        || c.is_empty()
        || shard.parse::<u32>().ok()? != recipient_shard(row)
    {
        return None;
    }
    Some((t, c, g.parse().ok()?, row))
}

pub fn counters_pk(t: &str, campaign: &str) -> String {
    format!("CNT#{t}#{campaign}")
}

pub fn dnc_pk(t: &str) -> String {
    format!("DNC#{t}")
}

/// The scope of a do-not-contact entry that blocks MARKETING templates only (Meta's
/// 131050: the user stopped marketing messages); it is listed and removed like a
/// campaign's entry, with this in place of the campaign id.
pub const MARKETING_OPT_OUT: &str = "marketing";

/// A do-not-contact entry's sort key: the phone, or the phone for one campaign only.
pub fn dnc_sk(phone: &str, campaign: Option<&str>) -> String {
    match campaign {
        Some(c) => format!("{phone}#{c}"),
        None => phone.to_string(),
    }
}

/// A Meta account under its number (`kind` `number`: the `phone_number_id`) or its
/// business account (`waba`: the WABA id), for the webhook: Meta posts every number of
/// an app to one URL, and each change is routed by the number it names.
pub fn meta_route(kind: &str, id: &str, account: &str) -> (String, String) {
    (format!("METAROUTE#{kind}#{id}"), account.to_string())
}

/// Which tenant an account belongs to, for the webhook (its URL names only the account).
pub fn webhook_account(account: &str) -> (String, String) {
    (format!("WEBHOOK#{account}"), "ACCOUNT".to_string())
}

/// The message a provider's message id names, per account (written with the `sent`
/// record, so callbacks and replies find their message).
pub fn provider_message(account: &str, provider_message_id: &str) -> (String, String) {
    (
        format!("PMID#{account}#{provider_message_id}"),
        "MSG".to_string(),
    )
}

/// A status callback that arrived before its message's `sent` record: kept until the
/// sender records the message and applies it.
pub fn early_status(account: &str, provider_message_id: &str) -> (String, String) {
    (
        format!("EARLY#{account}#{provider_message_id}"),
        "STATUS".to_string(),
    )
}

/// Tickets are spread over this many partitions per tenant (a 1,000 msg/s campaign
/// with a reply wait opens 1,000 tickets a second).
pub const TICKET_SHARDS: u32 = 4;

pub fn settings(t: &str) -> (String, String) {
    (tenant_pk(t), "SETTINGS".into())
}

/// The counter buckets of an account's inbound tickets (taken after a reply): all time
/// (`acct_{account}`) and the UTC day `YYYY-MM-DD` (`acct_{account}_{day}`). Campaign
/// ids start `cmp_`, so these never meet a campaign's counters.
pub fn inbound_buckets(account: &str, day: &str) -> [String; 2] {
    [format!("acct_{account}"), format!("acct_{account}_{day}")]
}

/// A report sender address the operator approved for a tenant (lower case).
pub fn report_sender(t: &str, address: &str) -> (String, String) {
    (
        tenant_pk(t),
        format!("{REPORT_SENDER_PREFIX}{}", address.to_lowercase()),
    )
}

pub const REPORT_SENDER_PREFIX: &str = "REPORT_SENDER#";

/// The limits the operator set for a tenant (report emails a day, …).
pub fn limits(t: &str) -> (String, String) {
    (tenant_pk(t), "LIMITS".into())
}

/// A tenant's report emails of one UTC day (`YYYY-MM-DD`), counted against its quota.
pub fn email_quota(t: &str, day: &str) -> (String, String) {
    (tenant_pk(t), format!("EMAILS#{day}"))
}

/// The messages a tenant sent to providers in one UTC day (`2026-12-07`): its daily
/// quota's counter.
pub fn message_quota(t: &str, day: &str) -> (String, String) {
    (tenant_pk(t), format!("MESSAGES#{day}"))
}

/// A stable spread of a string over `u32` (which shard a message's or ticket's writes
/// go to).
pub fn spread(s: &str) -> u32 {
    s.bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
}

pub fn ticket_shard(id: &str) -> u32 {
    spread(id) % TICKET_SHARDS
}

pub fn tickets_pk(t: &str, shard: u32) -> String {
    format!("TICKETS#{t}#{shard}")
}

pub fn ticket(t: &str, id: &str) -> (String, String) {
    (tickets_pk(t, ticket_shard(id)), id.to_string())
}

pub fn ticket_entries_pk(t: &str, id: &str) -> String {
    format!("TKMSG#{t}#{id}")
}

/// The partition of tickets due to close within one UTC hour (`2026-12-01T18`).
/// A campaign whose report email the closer is to send once it has ended and its last
/// ticket has closed (few at a time: written when such a campaign starts sending).
pub fn report_wanted(t: &str, campaign: &str) -> (String, String) {
    (REPORTS_PK.into(), format!("{t}#{campaign}"))
}

pub const REPORTS_PK: &str = "REPORTS";

/// Due items of one hour are spread over this many partitions (DynamoDB's per-partition
/// write limit: about 1,000 tickets a second can be opened into one hour).
pub const DUE_SHARDS: u32 = 16;

/// The partition of an hour's (`YYYY-MM-DDTHH`) due items, shard `shard`.
pub fn due_pk(hour: &str, shard: u32) -> String {
    format!("DUE#{hour}#{shard}")
}

/// An hour's unsharded partition of due items, as written before due items were
/// sharded: the closer still reads it, so tickets scheduled before an upgrade close.
pub fn due_pk_unsharded(hour: &str) -> String {
    format!("DUE#{hour}")
}

/// The shard of a ticket's due items.
pub fn due_shard(t: &str, id: &str) -> u32 {
    spread(&format!("{t}#{id}")) % DUE_SHARDS
}

pub fn due(due_at: &str, t: &str, id: &str) -> (String, String) {
    (
        due_pk(due_at.get(..13).unwrap_or(due_at), due_shard(t, id)),
        format!("{due_at}#{t}#{id}"),
    )
}

/// The closer's watermark: every hour before it has no due item left.
pub fn closer_watermark() -> (String, String) {
    ("CLOSER".into(), "WATERMARK".into())
}

/// A phone's latest open ticket with an account.
pub fn contact_ticket(account: &str, phone: &str) -> (String, String) {
    (format!("CONTACT#{account}"), format!("{phone}#TICKET"))
}

/// The latest message an informative campaign sent a phone from an account (a reply
/// that quotes nothing is counted on it, within a day).
pub fn contact_sent(account: &str, phone: &str) -> (String, String) {
    (format!("CONTACT#{account}"), format!("{phone}#SENT"))
}

/// When a phone last wrote to an account (the 24-hour window, SPEC §9).
pub fn contact_window(account: &str, phone: &str) -> (String, String) {
    (format!("CONTACT#{account}"), format!("{phone}#WINDOW"))
}

/// An inbound message already taken in (a provider's repeated callback changes nothing).
pub fn inbound_message(account: &str, provider_message_id: &str) -> (String, String) {
    (
        format!("INMSG#{account}#{provider_message_id}"),
        "MSG".to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hours_due_items_spread_over_its_shards_and_sort_by_time_in_each() {
        let due_at = "2026-12-07T10:15:00Z";
        let mut per_shard = [0u32; DUE_SHARDS as usize];
        for i in 0..16_000 {
            let (pk, sk) = due(due_at, "ten_a", &format!("tk_{i:06}"));
            let shard: u32 = pk.rsplit('#').next().unwrap().parse().unwrap();
            assert!(pk.starts_with("DUE#2026-12-07T10#"), "{pk}");
            assert!(sk.starts_with(due_at), "{sk}");
            per_shard[shard as usize] += 1;
        }
        // No partition takes much more than its share (about 1,000 each).
        assert!(
            per_shard.iter().all(|n| (800..1200).contains(n)),
            "{per_shard:?}"
        );
        // A ticket's due items always land in the same shard.
        assert_eq!(
            due(due_at, "t", "x").0,
            due("2026-12-07T10:59:00Z", "t", "x").0
        );
    }
}
