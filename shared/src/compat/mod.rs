//! The APIs of the services Linkgate replaces, spoken under `/compat/<name>` (see
//! `dialect`): each is a thin adapter over the same domain operations as our `/v1` routes,
//! served by the same functions. What each maps, and where it deviates, is in
//! docs/compat.md.

pub mod causeflow;
pub mod chift;
pub mod openint;
