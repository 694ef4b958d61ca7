//! Unsigned JWTs (`alg: none`): kelp reads the claims and never checks a signature.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// A constant third segment: some JWT parsers reject an empty signature.
const SIGNATURE: &str = "ZmFrZS1zaWduYXR1cmU";

/// Encodes `claims` as `base64url(header).base64url(payload).signature`.
pub fn encode(claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT"});
    format!(
        "{}.{}.{SIGNATURE}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// The payload of a JWT, or `None` when it is not one.
pub fn decode_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}
