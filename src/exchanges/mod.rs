//! The exchanges: one module per family. Every route takes `Doelbinding` and answers through
//! `Doelbinding::respond` (records committed first, then the answer).

pub mod rni;
pub mod svb;
pub mod uwv;

mod params;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    rni::routes(cfg);
    uwv::routes(cfg);
    svb::routes(cfg);
}
