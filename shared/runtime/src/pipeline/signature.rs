//! Stripe's webhook signatures (`Stripe-Signature`), as stripe-node's `Webhooks.ts` checks them.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Stripe's own default: a signature older than this is refused (replay protection).
pub const SIGNATURE_TOLERANCE_S: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("Stripe-Signature has no timestamp")]
    NoTimestamp,
    #[error("timestamp outside the tolerance zone")]
    Stale,
    #[error("no signature matches the payload")]
    Mismatch,
}

/// Verifies `t=<unix>,v1=<hex>[,v1=<hex>…]` over `"{t}.{payload}"` with HMAC-SHA256; any one
/// matching `v1` passes (Stripe sends several while a secret is being rolled).
pub fn verify_signature(
    payload: &[u8],
    header: &str,
    secret: &str,
    now_s: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", hex_sig)) => signatures.extend(hex::decode(hex_sig).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::NoTimestamp)?;
    // `abs_diff`: any i64 the header carries (`t=-9223372036854775808`) must not overflow.
    if now_s.abs_diff(timestamp) > SIGNATURE_TOLERANCE_S.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let matches = signatures.iter().any(|signature| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        // Constant-time comparison.
        mac.verify_slice(signature).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The `v1` signature Stripe computes for `payload` at time `t`, for tests that sign deliveries.
#[cfg(test)]
pub(crate) fn sign(payload: &[u8], secret: &str, t: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_secret_payload_and_time() {
        let payload = br#"{"id":"evt_1"}"#;
        let good = format!("t=1000,v1={}", sign(payload, "whsec_a", 1000));
        assert_eq!(verify_signature(payload, &good, "whsec_a", 1100), Ok(()));
        assert_eq!(
            verify_signature(payload, &good, "whsec_b", 1100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(br#"{"id":"evt_2"}"#, &good, "whsec_a", 1100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(payload, &good, "whsec_a", 1000 + SIGNATURE_TOLERANCE_S + 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature(payload, "v1=abcd", "whsec_a", 1000),
            Err(SignatureError::NoTimestamp)
        );
    }

    #[test]
    fn extreme_timestamps_are_stale_not_an_overflow() {
        let payload = b"{}";
        for t in [i64::MIN, i64::MAX, -1] {
            let header = format!("t={t},v1={}", sign(payload, "whsec_a", t));
            assert_eq!(
                verify_signature(payload, &header, "whsec_a", 1_700_000_000),
                Err(SignatureError::Stale),
                "{t}"
            );
        }
        assert_eq!(
            verify_signature(payload, "t=99999999999999999999,v1=00", "whsec_a", 0),
            Err(SignatureError::NoTimestamp)
        );
    }

    #[test]
    fn any_of_several_v1_signatures_may_match() {
        let payload = b"{}";
        let header = format!(
            "t=50,v1={},v0=zz,v1={}",
            sign(payload, "whsec_old", 50),
            sign(payload, "whsec_new", 50)
        );
        assert_eq!(verify_signature(payload, &header, "whsec_new", 60), Ok(()));
        assert_eq!(verify_signature(payload, &header, "whsec_old", 60), Ok(()));
    }
}
