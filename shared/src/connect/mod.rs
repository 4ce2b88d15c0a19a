//! The hosted pages a customer's browser sees: the connect page, its form, the OAuth start
//! and callback. All boundary (`api.rs` and `api/`): the rules they apply live in `link`,
//! `connection::activation` and `oauth`.

pub mod api;
