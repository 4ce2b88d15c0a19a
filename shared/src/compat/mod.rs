//! The APIs of the services Linkgate replaces, spoken under `/compat/<name>` (see
//! `dialect`): each is a thin adapter over the same domain operations as our `/v1` routes,
//! served by the same functions. What each maps, and where it deviates, is in
//! docs/compat.md.

pub mod albato;
pub mod causeflow;
pub mod chift;
pub mod openint;

use crate::error::ApiError;
use crate::provider::{catalog, Provider};

/// The number Chift and Albato name one of our providers by (their ids for apps are
/// integers): a 32-bit FNV-1a of its id folded into six
/// digits. Stable (it depends on the id alone, so adding a provider renumbers none) and
/// unique over the catalog (a unit test holds it; a provider whose number collided would
/// need a different id).
pub fn provider_number(provider_id: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in provider_id.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    100_000 + hash % 900_000
}

/// The provider of the catalog Chift's `number` names, if any (and if offered on this stage).
pub fn provider_numbered(
    number: u64,
    stage: crate::config::Stage,
) -> Result<Option<&'static Provider>, ApiError> {
    let c = catalog()?;
    // by id, so only the provider named is parsed
    Ok(c.ids()
        .find(|id| u64::from(provider_number(id)) == number)
        .and_then(|id| c.available(id, stage)))
}
