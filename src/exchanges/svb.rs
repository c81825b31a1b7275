//! SVB's exchange: `GET /api/v1/svb/uitkeringen?bsn=…` (`svb-uitkeringen`) — a person's SVB
//! benefits (`uitkeringen`: `soort` AOW, AKW or Anw, `datumIngang`, `datumEinde`) and the A1
//! statements registered for them (`a1Verklaringen`: `lidstaat` ISO 3166-1 alpha-2 of the
//! member state that issued it, `werkgever {naam}`, `datumIngang`, `datumEinde`), minimised to
//! the requester's fields: a gemeente gets no A1 statements, and they are not even read for
//! it. Source: the local SVB dataset. The person asked about is recorded as the subject, also
//! when the SVB knows nothing of them.

use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use serde_json::json;

use super::params::{self, BsnQuery};
use crate::policy::enforce::{Doelbinding, Exchange};
use crate::policy::Operation;
use crate::problem::Problem;
use crate::seed::uwv_svb::{A1Verklaring, SvbUitkering};
use crate::storage::schema::{svb_a1_verklaringen, svb_uitkeringen};
use crate::storage::Database;

pub struct Uitkeringen;
impl Exchange for Uitkeringen {
    const DATASET: &'static str = "svb-uitkeringen";
    const OPERATION: Operation = Operation::Read;
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/svb/uitkeringen")
            .get(uitkeringen)
            .default_service(web::to(crate::problem::method_not_allowed)),
    );
}

fn unavailable(e: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "SVB dataset unavailable");
    Problem::not_available()
}

/// SVB benefits (AOW, AKW, Anw) and A1 statements of one person
///
/// svb-uitkeringen; a gemeente receives no A1 statements.
#[utoipa::path(get, path = "/api/v1/svb/uitkeringen", tag = "uwv-svb", params(BsnQuery),
    responses((status = 200, description = "Benefits and A1 statements (possibly none), `bronGeraadpleegd: true`", body = Object)))]
pub(crate) async fn uitkeringen(
    d: Doelbinding<Uitkeringen>,
    q: web::Query<BsnQuery>,
    db: web::Data<Database>,
) -> Result<HttpResponse, Problem> {
    let bsn = params::bsn("bsn", &q.bsn)?;
    let fields = d.fields();
    let (want_uitkeringen, want_a1) = (
        fields.touches("uitkeringen"),
        fields.touches("a1Verklaringen"),
    );
    let b = bsn.as_str().to_owned();
    let (uitkeringen, a1) = db
        .run(move |c| {
            let uitkeringen: Vec<SvbUitkering> = if want_uitkeringen {
                svb_uitkeringen::table
                    .filter(svb_uitkeringen::burgerservicenummer.eq(&b))
                    .order((svb_uitkeringen::datum_ingang, svb_uitkeringen::soort))
                    .select(SvbUitkering::as_select())
                    .load(c)?
            } else {
                Vec::new()
            };
            let a1: Vec<A1Verklaring> = if want_a1 {
                svb_a1_verklaringen::table
                    .filter(svb_a1_verklaringen::burgerservicenummer.eq(&b))
                    .order(svb_a1_verklaringen::datum_ingang)
                    .select(A1Verklaring::as_select())
                    .load(c)?
            } else {
                Vec::new()
            };
            Ok((uitkeringen, a1))
        })
        .await
        .map_err(unavailable)?;
    let mut record = json!({ "burgerservicenummer": bsn });
    if want_uitkeringen {
        record["uitkeringen"] = uitkeringen
            .iter()
            .map(|u| json!({ "soort": u.soort, "datumIngang": u.datum_ingang, "datumEinde": u.datum_einde }))
            .collect();
    }
    if want_a1 {
        record["a1Verklaringen"] = a1
            .iter()
            .map(|a| {
                json!({
                    "lidstaat": a.lidstaat,
                    "werkgever": { "naam": a.werkgever_naam },
                    "datumIngang": a.datum_ingang,
                    "datumEinde": a.datum_einde,
                })
            })
            .collect();
    }
    d.minimise(&mut record);
    // A lookup without hits is the absence of data, not a finding: the source was asked.
    record["bronGeraadpleegd"] = json!(true);
    let fields: Vec<&str> = fields.paths().collect();
    d.respond(&record, &[bsn], &fields).await
}
