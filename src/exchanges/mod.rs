//! The exchanges: one module per family. Every route takes `Doelbinding` and answers through
//! `Doelbinding::respond` (records committed first, then the answer).

pub mod abo;
pub mod haalcentraal;
pub mod persoon;
pub mod rni;
pub mod signalen;
pub mod svb;
pub mod territory;
pub mod uwv;

pub(crate) mod params;
mod rni_pg;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    rni::routes(cfg);
    haalcentraal::routes(cfg);
    abo::routes(cfg);
    signalen::routes(cfg);
    uwv::routes(cfg);
    svb::routes(cfg);
}
