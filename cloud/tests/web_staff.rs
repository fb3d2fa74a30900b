//! The staff area over real HTTP: not there (404) for anyone but staff, by link or by form;
//! accounts searched, sorted, deactivated and given staff access through confirm pages
//! (never one's own); every org with its counts; the catalogue's lists and records.

#![allow(clippy::unwrap_used)]

mod common;

use reqwest::{Method, StatusCode};
use serde_json::json;

use common::web::Browser;
use common::{TestApp, PASSWORD};

/// Whether `email` can sign in on the API.
async fn can_log_in(app: &TestApp, email: &str) -> bool {
    let (status, _) = app
        .call(
            Method::POST,
            "auth/login/",
            None,
            Some(json!({"email": email, "password": PASSWORD})),
        )
        .await;
    status == StatusCode::OK
}

backends!(staff_pages_are_staff_only, |app: TestApp| async move {
    app.create_user("sam@site.io", true).await;
    app.create_user("bob@acme.io", false).await;
    let mut bob = Browser::sign_in(&app, "bob@acme.io").await;
    for path in [
        "/staff",
        "/staff/users",
        "/staff/orgs",
        "/staff/users/sam/deactivate",
        "/staff/catalogue/sensor-graphs",
        "/staff/catalogue/sensor-graphs/water-meter-v1-1-0",
    ] {
        let page = bob.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "GET {path}");
        assert!(
            !page.has("sam@site.io") && !page.has("Water Meter"),
            "GET {path}"
        );
    }
    for path in [
        "/staff/users/sam/deactivate",
        "/staff/users/sam/remove-staff",
    ] {
        assert_eq!(
            bob.post(path, &[]).await.status,
            StatusCode::NOT_FOUND,
            "POST {path}"
        );
    }
    assert!(
        !bob.page("/").await.body.contains("href=\"/staff\""),
        "no staff link"
    );
    assert!(can_log_in(&app, "sam@site.io").await);
    let sam = app.login("sam@site.io").await;
    let me = app.ok("account/sam/", &sam).await;
    assert_eq!(me["is_staff"], true);
});

backends!(staff_manage_accounts, |app: TestApp| async move {
    app.create_user("sam@site.io", true).await;
    for email in ["alice@acme.io", "bob@acme.io", "carol@other.io"] {
        app.create_user(email, false).await;
    }
    let mut staff = Browser::sign_in(&app, "sam@site.io").await;
    let index = staff.page("/staff").await;
    assert_eq!(index.h1(), "Staff");
    assert!(index.has("href=\"/staff/users\"") && index.has("href=\"/staff/orgs\""));

    let all = staff.page("/staff/users").await;
    for email in [
        "alice@acme.io",
        "bob@acme.io",
        "carol@other.io",
        "sam@site.io",
    ] {
        assert!(all.has(email), "{email} listed");
    }
    let found = staff.page("/staff/users?q=ACME").await;
    assert!(found.has("alice@acme.io") && found.has("bob@acme.io") && !found.has("carol@other.io"));
    let none = staff.page("/staff/users?q=zzz").await;
    assert!(none.has("No account matches"));
    let sorted = staff.page("/staff/users?sort=-email").await;
    assert!(
        sorted.body.find("carol@other.io").unwrap() < sorted.body.find("alice@acme.io").unwrap()
    );

    // Deactivating goes through a confirm page and ends the person's session at once.
    let mut bob = Browser::sign_in(&app, "bob@acme.io").await;
    let ask = staff.page("/staff/users/bob/deactivate").await;
    assert_eq!(ask.h1(), "Deactivate the account of bob@acme.io?");
    let done = staff.submit("/staff/users/bob/deactivate", &[]).await;
    assert!(done.has("bob@acme.io was deactivated."));
    assert!(done.has("deactivated</span>"));
    assert!(!can_log_in(&app, "bob@acme.io").await);
    let after = bob.get("/").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(after.location.unwrap().starts_with("/login"));
    let done = staff.submit("/staff/users/bob/activate", &[]).await;
    assert!(done.has("bob@acme.io was activated."));
    assert!(can_log_in(&app, "bob@acme.io").await);

    // The staff flag.
    let done = staff.submit("/staff/users/alice/make-staff", &[]).await;
    assert!(done.has("alice@acme.io is now staff."));
    let sam_jwt = app.login("sam@site.io").await;
    assert_eq!(
        app.ok("account/alice/?staff=1", &sam_jwt).await["is_staff"],
        true
    );
    let mut alice = Browser::sign_in(&app, "alice@acme.io").await;
    assert_eq!(alice.page("/staff").await.h1(), "Staff");
    staff.submit("/staff/users/alice/remove-staff", &[]).await;
    assert_eq!(
        app.ok("account/alice/?staff=1", &sam_jwt).await["is_staff"],
        false
    );
    assert_eq!(alice.get("/staff").await.status, StatusCode::NOT_FOUND);

    // Never on one's own account.
    assert_eq!(
        staff.get("/staff/users/sam/deactivate").await.status,
        StatusCode::FORBIDDEN
    );
    let refused = staff.post("/staff/users/sam/remove-staff", &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(app.ok("account/sam/", &sam_jwt).await["is_staff"], true);
    // Unknown actions and accounts are not there.
    assert_eq!(
        staff.get("/staff/users/bob/delete").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        staff
            .post("/staff/users/nobody/deactivate", &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // And a form without its token does nothing.
    let bare = staff
        .post_without_token("/staff/users/bob/deactivate", &[])
        .await;
    assert_eq!(bare.status, StatusCode::FORBIDDEN);
    assert!(can_log_in(&app, "bob@acme.io").await);
});

backends!(
    staff_see_every_org_and_the_catalogue,
    |app: TestApp| async move {
        app.create_user("sam@site.io", true).await;
        let owner = app.user("olga@acme.io").await;
        for name in ["Acme Water", "Zeta Farms"] {
            let (status, _) = app.post("org/", &owner, json!({"name": name})).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let (status, _) = app
            .post(
                "project/",
                &owner,
                json!({"name": "Plant 1", "org": "acme-water"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);

        let mut staff = Browser::sign_in(&app, "sam@site.io").await;
        let orgs = staff.page("/staff/orgs").await;
        assert!(orgs.has("href=\"/org/acme-water\"") && orgs.has("href=\"/org/zeta-farms\""));
        assert!(orgs.body.find("Acme Water").unwrap() < orgs.body.find("Zeta Farms").unwrap());
        assert!(
            orgs.has("<td class=\"num\">1</td>"),
            "Acme's project is counted"
        );
        let reversed = staff.page("/staff/orgs?sort=-name").await;
        assert!(
            reversed.body.find("Zeta Farms").unwrap() < reversed.body.find("Acme Water").unwrap()
        );
        let found = staff.page("/staff/orgs?q=zeta").await;
        assert!(found.has("Zeta Farms") && !found.has("Acme Water"));
        // Staff open any org's page, members included, as the API lets staff see any org.
        let org = staff.page("/org/acme-water").await;
        assert_eq!(org.h1(), "Acme Water");
        assert!(org.has("olga@acme.io"));

        let graphs = staff.page("/staff/catalogue/sensor-graphs").await;
        assert_eq!(graphs.h1(), "Sensor graphs");
        assert!(graphs.has("href=\"/staff/catalogue/sensor-graphs/water-meter-v1-1-0\""));
        let by_slug = staff
            .page("/staff/catalogue/sensor-graphs?sort=-slug")
            .await;
        assert!(
            by_slug.body.find("water-meter-v1-1-1").unwrap()
                < by_slug.body.find("water-meter-v1-1-0").unwrap()
        );
        let graph = staff
            .page("/staff/catalogue/sensor-graphs/water-meter-v1-1-0")
            .await;
        assert_eq!(graph.h1(), "Water Meter");
        assert!(graph.has("<td>5001</td>") && graph.has("Variable templates"));
        let templates = staff.page("/staff/catalogue/device-templates").await;
        assert!(templates.has("pod-1gg1-v3-0-0"));
        let template = staff
            .page("/staff/catalogue/device-templates/pod-1gg1-v3-0-0")
            .await;
        assert!(template.has("POD-1"));
        let var_type = staff
            .page("/staff/catalogue/var-types/water-meter-volume")
            .await;
        assert_eq!(var_type.h1(), "Water Meter Volume");
        assert!(var_type.has("Gallons") && var_type.has("Input units"));
        assert_eq!(
            staff.get("/staff/catalogue/widgets").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            staff
                .get("/staff/catalogue/var-types/no-such-type")
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
);
