//! Opaque list cursors. A cursor carries only the sort key of the last item served; the
//! partition always comes from the caller's tenant, so a forged cursor can never reach
//! another tenant's data, and one that does not decode is a 400.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CursorV1 {
    v: u8,
    after: String,
}

pub fn encode(after_sk: &str) -> String {
    let json = serde_json::to_vec(&CursorV1 {
        v: 1,
        after: after_sk.to_owned(),
    })
    .unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// The sort key to resume after, if `raw` is a cursor we issued for a list whose sort keys
/// satisfy `valid_sk`.
pub fn decode(raw: &str, valid_sk: impl Fn(&str) -> bool) -> Option<String> {
    if raw.len() > 512 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
    let c: CursorV1 = serde_json::from_slice(&bytes).ok()?;
    (c.v == 1 && valid_sk(&c.after)).then_some(c.after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consumer_sk(s: &str) -> bool {
        s.strip_prefix("CONSUMER#")
            .and_then(crate::id::ConsumerId::parse)
            .is_some()
    }

    #[test]
    fn round_trip() {
        let sk = format!("CONSUMER#{}", crate::id::ConsumerId::generate());
        assert_eq!(decode(&encode(&sk), consumer_sk), Some(sk));
    }

    #[test]
    fn tampered_cursors_are_refused() {
        let sk = format!("CONSUMER#{}", crate::id::ConsumerId::generate());
        let good = encode(&sk);
        let mut flipped = good.clone().into_bytes();
        flipped[3] ^= 0x01;
        let flipped = String::from_utf8(flipped).unwrap();
        for bad in [
            "",
            "!!!",
            "eyJ2IjoxfQ",
            &flipped,
            &encode("TENANT"),
            &encode("CONSUMER#csm_nope"),
            &URL_SAFE_NO_PAD.encode(br#"{"v":2,"after":"x"}"#),
        ] {
            assert_eq!(decode(bad, consumer_sk), None, "{bad} accepted");
        }
    }
}
