//! `GET /api/v1/signalen/{id}`: one signal, to its sender or its recipient, with its current
//! status and the whole status history (every status with its reason, when and by whom).

use actix_web::{web, HttpResponse};

use super::weergave::weergave;
use super::{betrokkenen, binnen_werkgebied, werkgebied, zoek, Inzien, Kanaal};
use crate::organisations::Organisations;
use crate::policy::enforce::Doelbinding;
use crate::problem::Problem;
use crate::storage::Database;

/// One signal, with its status and the history of statuses with their reasons
#[utoipa::path(get, path = "/api/v1/signalen/{id}", tag = "signalen",
    params(("id" = String, Path, description = "The signal's id (UUID)")),
    responses((status = 200, description = "The signal", body = Object)))]
pub async fn inzien<K: Kanaal>(
    d: Doelbinding<Inzien<K>>,
    path: web::Path<String>,
    db: web::Data<Database>,
    organisations: web::Data<Organisations>,
) -> Result<HttpResponse, Problem> {
    let (signaal, rol) = zoek(&d, &db, &path).await?;
    let one = std::slice::from_ref(&signaal);
    binnen_werkgebied(&d, &signaal, rol, &werkgebied(&d, &db, one).await?)?;
    let registry = arc_swap::Guard::into_inner(organisations.current());
    let mut body = weergave(&signaal, &registry);
    d.minimise(&mut body);
    let fields: Vec<&str> = d.fields().paths().collect();
    d.respond_provided(
        &body,
        Some(&signaal.rij.afzender_oin),
        &betrokkenen(one),
        &fields,
    )
    .await
}
