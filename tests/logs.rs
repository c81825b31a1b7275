//! No BSN reaches the logs: requests carrying BSNs in the path, the query, headers and the
//! body, allowed and refused, with every log line of the gateway captured at TRACE level.

mod common;

use common::routes::{routes, SUBJECTS};
use common::{spawn_app_with_routes, Backend};

#[tokio::test]
async fn no_bsn_in_the_logs() {
    common::logs::capture("trace");

    let app = spawn_app_with_routes(Backend::Sqlite, |_| {}, routes).await;
    let [bsn, other] = SUBJECTS;
    let nla = app.client("nla");
    let act = "x-processing-activity";
    // Allowed: the route discloses both test persons.
    let res = nla
        .get(app.data_url(&format!("/test/dienstverbanden?bsn={bsn}")))
        .header(act, "uwv-dienstverbanden")
        .header("x-case-reference", "NLA-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Refused in various ways, with BSNs wherever a caller can put them.
    let attempts = [
        nla.get(app.data_url(&format!("/api/v1/personen/{bsn}/verblijfsadres"))),
        nla.get(app.data_url(&format!("/test/dienstverbanden?bsn={other}")))
            .header(act, "uwv-dienstverbanden"),
        nla.get(app.data_url("/test/tellingen"))
            .header(act, format!("rni-{bsn}")),
        nla.post(app.data_url("/test/tellingen"))
            .header("content-type", "application/json")
            .body(format!("{{\"burgerservicenummer\": \"{bsn}\"}}")),
        nla.get(app.data_url("/test/dienstverbanden"))
            .header(act, "uwv-dienstverbanden")
            .header("traceparent", format!("00-{bsn}-b7ad6b7169203331-01")),
    ];
    for request in attempts {
        let status = request.send().await.unwrap().status();
        assert!(status.is_client_error(), "{status}");
    }
    app.stop().await;

    let text = common::logs::text();
    assert!(
        text.lines().count() > 20,
        "too little was logged to judge:\n{text}"
    );
    assert!(text.contains("request refused"), "refusals are logged");
    for bsn in SUBJECTS {
        assert!(
            !text.contains(bsn),
            "{bsn} in the logs:\n{}",
            text.lines()
                .filter(|l| l.contains(bsn))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
