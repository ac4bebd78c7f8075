//! How long sessions and their holds live.

use crate::claims::now_ms;
use cart_domain::SessionSnapshot;

/// Holds outlive their session by this much, so the sweeper never races Stripe's own expiry
/// (and the event it records).
pub(crate) const HOLD_MARGIN_S: i64 = 600;
/// Stripe's default session lifetime, for sessions that do not say.
pub(super) const DEFAULT_SESSION_LIFETIME_S: i64 = 24 * 3_600;

/// Stripe takes `expires_at` 30 min to 24 h after creation, checked by its clock when the
/// request arrives: a minute of slack at each end keeps a configured 30 or 1440 valid then.
pub(super) fn session_lifetime_s(configured: std::time::Duration) -> i64 {
    let configured = i64::try_from(configured.as_secs()).unwrap_or(i64::MAX);
    configured.clamp(30 * 60 + 60, 24 * 3_600 - 60)
}

/// When a session's holds expire: an hour after the session (or a default lifetime from now).
pub(super) fn hold_expiry(session: &SessionSnapshot) -> u64 {
    let expires_at = session.expires_at.unwrap_or_else(|| {
        i64::try_from(now_ms() / 1000).unwrap_or_default() + DEFAULT_SESSION_LIFETIME_S
    }) + HOLD_MARGIN_S;
    u64::try_from(expires_at).unwrap_or_default()
}
