//! Prefixed, time-ordered identifiers (`csm_0193…`): a kind prefix and a UUIDv7 in lower-case
//! hex, so ids sort by creation time as plain strings and cannot be mistaken across kinds.

use std::fmt;

/// Length of the hex part: 128 bits.
const HEX_LEN: usize = 32;

fn generate_hex() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

fn valid_hex(s: &str) -> bool {
    s.len() == HEX_LEN
        && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        // version nibble of a UUIDv7
        && s.as_bytes()[12] == b'7'
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, generate_hex()))
            }

            /// Only well-formed ids of this kind parse.
            pub fn parse(s: &str) -> Option<Self> {
                let hex = s.strip_prefix($prefix)?;
                valid_hex(hex).then(|| Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Where the ids made at `ms` start among sorted ids of this kind: every id of
            /// that millisecond or later sorts after it, every earlier one before.
            pub fn bound(ms: i64) -> String {
                let ms = u64::try_from(ms.max(0)).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
                format!("{}{ms:012x}", $prefix)
            }

            /// When it was made: the UUIDv7's millisecond since the epoch.
            pub fn millis(&self) -> i64 {
                let hex = &self.0[$prefix.len()..];
                i64::from_str_radix(&hex[..12], 16).unwrap_or(0)
            }

            /// The id as a UUID (`0193a1b2-c3d4-7000-8000-00000000000a`): the same 128 bits,
            /// for APIs that name things by UUID (see `compat`).
            pub fn to_uuid(&self) -> String {
                let hex = &self.0[$prefix.len()..];
                format!(
                    "{}-{}-{}-{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..]
                )
            }

            /// The id a UUID stands for (hyphenated, either case); only a UUIDv7 can be one.
            pub fn from_uuid(s: &str) -> Option<Self> {
                if s.len() != 36 {
                    return None;
                }
                let u = uuid::Uuid::try_parse(s).ok()?;
                Self::parse(&format!("{}{}", $prefix, u.simple()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s).ok_or_else(|| format!("not a valid {} id", $prefix))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(
    /// A platform using Linkgate.
    TenantId, "ten_");
prefixed_id!(
    /// The public identifier of an API key (never the secret).
    ApiKeyId, "key_");
prefixed_id!(
    /// A tenant's end customer.
    ConsumerId, "csm_");
prefixed_id!(
    /// A provider enabled by a tenant.
    IntegrationId, "int_");
prefixed_id!(
    /// A consumer's account at one integration.
    ConnectionId, "conn_");
prefixed_id!(
    /// A single-use activation link.
    LinkId, "lnk_");
prefixed_id!(
    /// Stored credentials awaiting a direct connect (`POST /v1/credentials`).
    CredentialId, "crd_");
prefixed_id!(
    /// Something that happened, published to EventBridge.
    EventId, "evt_");

prefixed_id!(
    /// A tenant's webhook endpoint.
    WebhookId, "wh_");
prefixed_id!(
    /// One event's delivery to one endpoint; shares its hex with the event id.
    DeliveryId, "dlv_");
prefixed_id!(
    /// A background re-send of an endpoint's failed deliveries since a time.
    RecoveryId, "rcv_");
prefixed_id!(
    /// A single-use link to a consumer's portal (their own connections).
    PortalLinkId, "ptl_");
prefixed_id!(
    /// A one-time sign-in link to the operator console, issued by `linkgate-admin`.
    ConsoleLinkId, "csl_");

impl DeliveryId {
    /// The delivery of `event`: one per event and endpoint, so a repeated fan-out finds it.
    pub fn of(event: &EventId) -> DeliveryId {
        DeliveryId(format!(
            "{}{}",
            DeliveryId::PREFIX,
            event.as_str().trim_start_matches(EventId::PREFIX)
        ))
    }

    pub fn event_id(&self) -> Option<EventId> {
        EventId::parse(&format!(
            "{}{}",
            EventId::PREFIX,
            self.as_str().trim_start_matches(DeliveryId::PREFIX)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_and_its_uuid_form_are_the_same_bits() {
        let id = ConsumerId::generate();
        let u = id.to_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(ConsumerId::from_uuid(&u), Some(id.clone()));
        assert_eq!(ConsumerId::from_uuid(&u.to_uppercase()), Some(id.clone()));
        assert_eq!(u.replace('-', ""), id.as_str()["csm_".len()..]);
        // Not a UUID, not hyphenated, or not a v7 (ours never are anything else).
        assert!(ConsumerId::from_uuid(id.as_str()).is_none());
        assert!(ConsumerId::from_uuid(&u.replace('-', "")).is_none());
        assert!(ConsumerId::from_uuid("6fa459ea-ee8a-3ca4-894e-db77e160355e").is_none());
        assert!(ConsumerId::from_uuid(&format!("{{{u}}}")).is_none());
    }

    #[test]
    fn delivery_bounds_sort_around_the_ids_of_their_millisecond() {
        let e = EventId::generate();
        let d = DeliveryId::of(&e);
        let ms = e.millis();
        assert!(DeliveryId::bound(ms).as_str() < d.as_str());
        assert!(DeliveryId::bound(ms + 1).as_str() > d.as_str());
        assert_eq!(
            DeliveryId::bound(-5),
            "dlv_000000000000",
            "before the epoch is the start"
        );
    }

    #[test]
    fn generated_ids_parse_and_sort_by_time() {
        let a = ConsumerId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = ConsumerId::generate();
        assert!(a < b, "{a} should sort before {b}");
        assert_eq!(ConsumerId::parse(a.as_str()), Some(a.clone()));
        assert!(a.as_str().starts_with("csm_"));
        assert_eq!(a.as_str().len(), 4 + 32);
    }

    #[test]
    fn rejects_other_kinds_and_malformed_ids() {
        let t = TenantId::generate();
        assert!(ConsumerId::parse(t.as_str()).is_none());
        assert!(ConsumerId::parse("csm_").is_none());
        assert!(ConsumerId::parse("csm_0193A1B2C3D47000800000000000000").is_none());
        assert!(ConsumerId::parse("csm_0193a1b2c3d4a000800000000000000z").is_none());
        // not a v7 uuid
        assert!(ConsumerId::parse("csm_0193a1b2c3d44000800000000000000a").is_none());
        assert!(ConsumerId::parse("csm_0193a1b2c3d47000800000000000000a").is_some());
        assert!(ConsumerId::parse("csm_0193a1b2c3d47000800000000000000a\n").is_none());
    }

    #[test]
    fn serde_refuses_malformed_ids() {
        let ok: Result<ConsumerId, _> =
            serde_json::from_str("\"csm_0193a1b2c3d47000800000000000000a\"");
        assert!(ok.is_ok());
        let bad: Result<ConsumerId, _> = serde_json::from_str("\"csm_nope\"");
        assert!(bad.is_err());
    }
}
