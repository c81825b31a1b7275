//! doelpoort: an mTLS REST gateway through which Dutch public agencies exchange personal data
//! only within a legal basis and for a registered purpose (doelbinding), recording every
//! disclosure.
//!
//! Where to find things: `app` is the request pipeline, top to bottom; `startup` builds the
//! running gateway from `config`; each other module owns one concept.

pub mod app;
pub mod audit;
pub mod cli;
pub mod config;
pub mod disclosure;
pub mod domain;
pub mod exchanges;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
pub mod json;
pub mod limits;
pub mod metrics;
pub mod minimise;
pub mod openapi;
pub mod ops;
pub mod organisations;
pub mod pki;
pub mod policy;
pub mod problem;
pub mod reload;
pub mod seed;
pub mod sources;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod trace_context;
