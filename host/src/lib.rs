//! wagate: a WhatsApp gateway whose per-tenant behaviour is extended by WebAssembly plugins.
//!
//! Data flows one way: `connector` (WhatsApp side) -> `sessions` (state machine) -> `store`
//! (SQLite) -> `events` (canonical events) -> `realtime` (Socket.IO) and `api` (REST).
//! See docs/ARCHITECTURE.md.

pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod connector;
pub mod data_dir;
pub mod egress;
pub mod events;
pub mod media;
pub mod metrics;
pub mod model;
pub mod plugins;
pub mod quotas;
pub mod realtime;
pub mod scaffold;
pub mod sessions;
pub mod store;
pub mod ui;
pub mod webhooks;
