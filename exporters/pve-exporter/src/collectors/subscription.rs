//! `subscription`: the local node's subscription from `/nodes/<local>/subscription`.

use portkey_kit::exposition::Encoder;

use super::{FamilySpec, ScrapeInputs, flag, ok};

const SUBSCRIPTION_INFO: FamilySpec = FamilySpec::gauge(
    "pve_subscription_info",
    "Proxmox VE subscription info (1 if present)",
    &["id", "level"],
);
const SUBSCRIPTION_STATUS: FamilySpec = FamilySpec::gauge(
    "pve_subscription_status",
    "Proxmox VE subscription status (1 if matches status)",
    &["id", "status"],
);
const SUBSCRIPTION_NEXT_DUE: FamilySpec = FamilySpec::gauge(
    "pve_subscription_next_due_timestamp_seconds",
    "Subscription next due date as Unix timestamp",
    &["id"],
);

pub(super) const FAMILIES: &[FamilySpec] = &[
    SUBSCRIPTION_INFO,
    SUBSCRIPTION_STATUS,
    SUBSCRIPTION_NEXT_DUE,
];

/// Subscription states, in print order.
const STATUSES: [&str; 6] = [
    "new",
    "notfound",
    "active",
    "invalid",
    "expired",
    "suspended",
];

pub(super) fn collect(inputs: &ScrapeInputs, encoder: &mut Encoder) -> bool {
    let (Some(status), Some(subscription)) = (ok(&inputs.cluster_status), ok(&inputs.subscription))
    else {
        return false;
    };
    let Some(node) = status.local_node_name() else {
        return false;
    };
    let id = format!("node/{node}");

    SUBSCRIPTION_INFO.start(encoder);
    let level = subscription.level.as_deref().unwrap_or("unknown");
    SUBSCRIPTION_INFO.sample(encoder, &[&id, level], 1.0);

    SUBSCRIPTION_STATUS.start(encoder);
    let current = subscription.status.as_deref();
    for state in STATUSES {
        SUBSCRIPTION_STATUS.sample(encoder, &[&id, state], flag(current == Some(state)));
    }

    SUBSCRIPTION_NEXT_DUE.start(encoder);
    if let Some(timestamp) = subscription
        .nextduedate
        .as_deref()
        .and_then(next_due_timestamp)
    {
        SUBSCRIPTION_NEXT_DUE.sample(encoder, &[&id], timestamp as f64);
    }
    true
}

/// Unix seconds of 00:00 UTC on a `YYYY-MM-DD` date (month and day may have one digit); `None`
/// for anything that is not a real calendar date.
pub fn next_due_timestamp(date: &str) -> Option<i64> {
    let mut parts = date.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || year.len() != 4
        || !(1..=2).contains(&month.len())
        || !(1..=2).contains(&day.len())
        || ![year, month, day]
            .iter()
            .all(|part| part.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let year: i64 = year.parse().ok()?;
    let month: u32 = month.parse().ok()?;
    let day: u32 = day.parse().ok()?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_since_epoch(year, month, day) * 86_400)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date, counting years from March so that the
/// leap day falls at the end of the counted year.
fn days_since_epoch(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}
