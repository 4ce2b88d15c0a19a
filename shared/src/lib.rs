//! Linkgate's domain crate. Functions under `functions/` only wire an [`App`] and call a
//! handler from the module named for the resource they serve.

// Request paths must never panic: a panic aborts the process (panic = "abort").
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod access_token;
pub mod api_key;
pub mod app;
pub mod aws;
pub mod branding;
pub mod cache;
pub mod compat;
pub mod config;
pub mod connect;
pub mod connection;
pub mod console;
pub mod consumer;
pub mod credential;
pub mod cursor;
pub mod custom_provider;
pub mod dialect;
pub mod direct_connect;
pub mod email;
pub mod error;
pub mod event;
pub mod fields;
pub mod http;
pub mod id;
pub mod idempotency;
pub mod integration;
pub mod lang;
pub mod link;
pub mod metadata;
pub mod oauth;
pub mod outbound;
pub mod portal;
pub mod provider;
pub mod quota;
pub mod redirect_url;
pub mod relay;
pub mod reminder;
pub mod route;
pub mod run;
pub mod seal;
pub mod secret;
pub mod settings;
pub mod stats;
pub mod store;
pub mod telemetry;
pub mod tenant;
pub mod time;
pub mod webhook;

pub use app::App;
pub use error::ApiError;
