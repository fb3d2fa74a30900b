//! Bad input never gets a 500: every documented operation, called by a staff user (who passes
//! every permission check) with odd ids, odd query values and malformed bodies, answers 4xx.

#![allow(clippy::unwrap_used)]

mod common;

use cloud::http::openapi::operations;
use reqwest::Method;

const ODD_IDS: &[&str] = &[
    "zzzz",
    "d--",
    "s--1--2--3",
    "p--0000-0001--0000",
    "b--ffff-ffff-ffff-ffff",
    "t--0000-0000-0000-0001--10000",
    "-1",
    "99999999999999999999999",
    "%E2%9C%93",
    "00000000-0000-0000-0000-000000000000",
];

const ODD_QUERIES: &[&str] = &[
    "?page=-1",
    "?page_size=abc",
    "?filter=zz&lastn=abc",
    "?filter=s--0000-0001--0000-0000-0000-0001--5001&start=never&end=2026-13-45",
    "?project=p--zz&device=d--zz&org=%00&staff=1",
    "?target=a--0000&type=&device=b--1",
];

const ODD_BODIES: &[&str] = &[
    "{",
    "[]",
    "null",
    "\"text\"",
    "{\"name\": 5, \"id\": \"x\", \"org\": []}",
    "[{\"stream\": 1}]",
];

backends!(
    odd_input_is_a_client_error,
    |app: common::TestApp| async move {
        let staff = app.staff("staff@arch.io").await;
        for op in operations() {
            let method = Method::from_bytes(op.method.as_bytes()).unwrap();
            let templated = op.path.trim_start_matches("/api/v1/");
            let ids: &[&str] = if templated.contains('{') {
                ODD_IDS
            } else {
                &[""]
            };
            for id in ids {
                let path = templated.replace("{slug}", id).replace("{id}", id);
                for query in ODD_QUERIES {
                    let url = format!("{}{query}", app.url(&path));
                    let status = app
                        .client
                        .request(method.clone(), &url)
                        .header("Authorization", format!("jwt {staff}"))
                        .send()
                        .await
                        .unwrap()
                        .status();
                    assert!(
                        status.as_u16() < 500,
                        "{} {url} answered {status}",
                        op.method
                    );
                }
                if method != Method::GET {
                    for body in ODD_BODIES {
                        let response = app
                            .client
                            .request(method.clone(), app.url(&format!("{path}?staff=1")))
                            .header("Authorization", format!("jwt {staff}"))
                            .header("Content-Type", "application/json")
                            .body(*body)
                            .send()
                            .await
                            .unwrap();
                        let status = response.status();
                        let text = response.text().await.unwrap();
                        assert!(
                            status.as_u16() < 500,
                            "{} {path} with {body} answered {status}: {text}",
                            op.method
                        );
                    }
                }
            }
        }
    }
);
