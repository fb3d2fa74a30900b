//! The org page over real HTTP, signed in through the sign-in form: name, about and counts,
//! editing them, and the members: adding by email, changing roles, removing, with the
//! API's rules (can_manage_users, ownership only from an owner, at least one owner), the
//! 404 page for other orgs by link and by form, and the CSRF guard. Both backends.

#![allow(clippy::unwrap_used)]

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};

use common::web::Browser;
use common::TestApp;

/// An org made over the API by `jwt`, with members added with their roles; its slug.
async fn org_with(app: &TestApp, jwt: &str, name: &str, members: &[(&str, &str)]) -> String {
    let (status, body) = app.post("org/", jwt, json!({"name": name})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let slug = body["slug"].as_str().unwrap().to_string();
    for (user, role) in members {
        let (status, body) = app
            .post(
                &format!("org/{slug}/register/"),
                jwt,
                json!({"user": user, "role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {user}: {body}");
    }
    slug
}

/// The org's members as the API lists them: (user slug, role).
async fn roles(app: &TestApp, jwt: &str, org: &str) -> Vec<(String, String)> {
    let body: Value = app.ok(&format!("org/{org}/members/"), jwt).await;
    let mut out: Vec<(String, String)> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user"].as_str().unwrap().to_string(),
                m["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pair(user: &str, role: &str) -> (String, String) {
    (user.to_string(), role.to_string())
}

backends!(
    members_are_managed_by_the_api_rules,
    |app: TestApp| async move {
        let owner_jwt = app.user("olga@acme.io").await;
        for email in ["adam@acme.io", "mia@acme.io", "newt@acme.io"] {
            app.create_user(email, false).await;
        }
        let org = org_with(
            &app,
            &owner_jwt,
            "Acme Water",
            &[("adam", "a1"), ("mia", "m1")],
        )
        .await;

        let mut owner = Browser::sign_in(&app, "olga@acme.io").await;
        let page = owner.page(&format!("/org/{org}")).await;
        assert_eq!(page.h1(), "Acme Water");
        for email in ["olga@acme.io", "adam@acme.io", "mia@acme.io"] {
            assert!(page.has(email), "member {email} listed");
        }
        assert!(page.has("data-testid=\"members\""));

        // Adding by email: unknown account, a role that cannot be given, then the real thing.
        let path = format!("/org/{org}/members");
        let refused = owner
            .post(&path, &[("email", "nobody@acme.io"), ("role", "m1")])
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            refused.field_error("email").as_deref(),
            Some("No account with this email.")
        );
        let refused = owner
            .post(&path, &[("email", "newt@acme.io"), ("role", "a0")])
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused
            .field_error("role")
            .unwrap()
            .contains("not a valid choice"));
        assert!(
            refused.has("value=\"newt@acme.io\""),
            "the typed email stays"
        );
        let added = owner
            .submit(&path, &[("email", "newt@acme.io"), ("role", "r1")])
            .await;
        assert!(added.has("newt@acme.io was added as Operator."));
        let again = owner
            .post(&path, &[("email", "newt@acme.io"), ("role", "m1")])
            .await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        assert!(again.has("Member already exists"));
        // The message shows once.
        assert!(!owner.page(&format!("/org/{org}")).await.has("was added as"));

        // Changing a role.
        let role_path = format!("/org/{org}/members/newt/role");
        let form = owner.page(&role_path).await;
        assert!(form.h1().starts_with("Change the role of"));
        let changed = owner.submit(&role_path, &[("role", "d1")]).await;
        assert!(changed.has("newt@acme.io is now Developer."));
        assert!(roles(&app, &owner_jwt, &org)
            .await
            .contains(&pair("newt", "d1")));

        // The only owner cannot step down or leave.
        let own_path = format!("/org/{org}/members/olga/role");
        let refused = owner.post(&own_path, &[("role", "a1")]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused
            .field_error("role")
            .unwrap()
            .starts_with("An org must keep at least one owner"));
        let refused = owner
            .post(&format!("/org/{org}/members/olga/remove"), &[])
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.has("An org must keep at least one owner"));
        assert!(roles(&app, &owner_jwt, &org)
            .await
            .contains(&pair("olga", "a0")));

        // An admin manages members but cannot touch ownership.
        let mut admin = Browser::sign_in(&app, "adam@acme.io").await;
        let page = admin.page(&format!("/org/{org}")).await;
        assert!(page.has("mia@acme.io"));
        assert_eq!(admin.get(&own_path).await.status, StatusCode::FORBIDDEN);
        let refused = admin.post(&own_path, &[("role", "m1")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let refused = admin
            .post(&format!("/org/{org}/members/mia/role"), &[("role", "a0")])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let refused = admin
            .post(&format!("/org/{org}/members/olga/remove"), &[])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(roles(&app, &owner_jwt, &org)
            .await
            .contains(&pair("olga", "a0")));

        // The owner hands ownership on, then may step down.
        owner
            .submit(&format!("/org/{org}/members/adam/role"), &[("role", "a0")])
            .await;
        let stepped = owner.submit(&own_path, &[("role", "a1")]).await;
        assert!(stepped.has("olga@acme.io is now Admin."));
        let now = roles(&app, &owner_jwt, &org).await;
        assert!(now.contains(&pair("adam", "a0")) && now.contains(&pair("olga", "a1")));

        // Removing goes through a confirm page.
        let remove_path = format!("/org/{org}/members/newt/remove");
        let ask = owner.page(&remove_path).await;
        assert!(ask.h1().starts_with("Remove newt@acme.io from Acme Water?"));
        assert!(ask.has(&format!("action=\"{remove_path}\"")));
        let done = owner.submit(&remove_path, &[]).await;
        assert!(done.has("newt@acme.io was removed from Acme Water."));
        assert!(!roles(&app, &owner_jwt, &org)
            .await
            .iter()
            .any(|(u, _)| u == "newt"));

        // A member without can_manage_users sees the org but not its members, and is refused.
        let mut member = Browser::sign_in(&app, "mia@acme.io").await;
        let page = member.page(&format!("/org/{org}")).await;
        assert!(!page.has("adam@acme.io"));
        assert!(page.has("Only members who may manage users"));
        let refused = member
            .post(&path, &[("email", "newt@acme.io"), ("role", "m1")])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(
            member
                .get(&format!("/org/{org}/members/adam/role"))
                .await
                .status,
            StatusCode::FORBIDDEN
        );

        // A form without its token is refused before anything runs.
        let bare = owner
            .post_without_token(&path, &[("email", "newt@acme.io"), ("role", "m1")])
            .await;
        assert_eq!(bare.status, StatusCode::FORBIDDEN);
        assert!(!roles(&app, &owner_jwt, &org)
            .await
            .iter()
            .any(|(u, _)| u == "newt"));
    }
);

backends!(other_orgs_are_not_there, |app: TestApp| async move {
    let owner_jwt = app.user("olga@acme.io").await;
    app.create_user("mia@acme.io", false).await;
    let org = org_with(&app, &owner_jwt, "Acme Water", &[("mia", "m1")]).await;
    let other_jwt = app.user("otto@other.io").await;
    org_with(&app, &other_jwt, "Other Co", &[]).await;

    let mut outsider = Browser::sign_in(&app, "otto@other.io").await;
    for path in [
        format!("/org/{org}"),
        format!("/org/{org}/edit"),
        format!("/org/{org}/members/mia/role"),
        format!("/org/{org}/members/mia/remove"),
    ] {
        let page = outsider.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "GET {path}");
        assert!(
            !page.has("Acme Water") && !page.has("mia@acme.io"),
            "GET {path}"
        );
    }
    for (path, fields) in [
        (
            format!("/org/{org}/members"),
            vec![("email", "otto@other.io"), ("role", "a1")],
        ),
        (
            format!("/org/{org}/edit"),
            vec![("name", "Taken"), ("about", "")],
        ),
        (format!("/org/{org}/members/mia/role"), vec![("role", "a1")]),
        (format!("/org/{org}/members/mia/remove"), vec![]),
    ] {
        let page = outsider.post(&path, &fields).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "POST {path}");
        assert!(!page.has("Acme Water"), "POST {path}");
    }
    let body = app.ok(&format!("org/{org}/"), &owner_jwt).await;
    assert_eq!(body["name"], "Acme Water");
    assert_eq!(roles(&app, &owner_jwt, &org).await.len(), 2);
});

backends!(
    the_org_is_edited_by_those_who_manage_it,
    |app: TestApp| async move {
        let owner_jwt = app.user("olga@acme.io").await;
        app.create_user("mia@acme.io", false).await;
        let org = org_with(&app, &owner_jwt, "Acme Water", &[("mia", "m1")]).await;

        let mut owner = Browser::sign_in(&app, "olga@acme.io").await;
        let page = owner.page(&format!("/org/{org}")).await;
        assert!(page.has(&format!("href=\"/org/{org}/edit\"")));
        let form = owner.page(&format!("/org/{org}/edit")).await;
        assert!(form.has("value=\"Acme Water\""));

        let path = format!("/org/{org}/edit");
        let refused = owner
            .post(&path, &[("name", "  "), ("about", "Pumps")])
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            refused.field_error("name").as_deref(),
            Some("This field may not be blank.")
        );
        assert!(refused.has(">Pumps</textarea>"), "the typed about stays");
        let saved = owner
            .submit(&path, &[("name", "Acme Pumps"), ("about", "Water & pumps")])
            .await;
        assert!(saved.has("The org was saved."));
        assert_eq!(saved.h1(), "Acme Pumps");
        assert!(saved.has("Water &#38; pumps"), "the about, escaped");
        let body = app.ok(&format!("org/{org}/"), &owner_jwt).await;
        assert_eq!(
            (body["name"].as_str(), body["about"].as_str()),
            (Some("Acme Pumps"), Some("Water & pumps"))
        );

        let mut member = Browser::sign_in(&app, "mia@acme.io").await;
        let page = member.page(&format!("/org/{org}")).await;
        assert!(!page.has(&format!("href=\"/org/{org}/edit\"")));
        assert_eq!(member.get(&path).await.status, StatusCode::FORBIDDEN);
        let refused = member.post(&path, &[("name", "Mine"), ("about", "")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let body = app.ok(&format!("org/{org}/"), &owner_jwt).await;
        assert_eq!(body["name"], "Acme Pumps");
    }
);

backends!(the_member_list_pages_and_sorts, |app: TestApp| async move {
    let owner_jwt = app.user("aaron@acme.io").await;
    let mut members = Vec::new();
    for i in 0..26 {
        let email = format!("m{i:02}@acme.io");
        app.create_user(&email, false).await;
        members.push(format!("m{i:02}"));
    }
    let pairs: Vec<(&str, &str)> = members.iter().map(|m| (m.as_str(), "m1")).collect();
    let org = org_with(&app, &owner_jwt, "Acme Water", &pairs).await;

    let mut owner = Browser::sign_in(&app, "aaron@acme.io").await;
    let first = owner.page(&format!("/org/{org}?sort=email")).await;
    assert!(first.has("1–25 of 27"));
    assert!(first.has("aaron@acme.io") && !first.has("m25@acme.io"));
    assert!(first.has("aria-sort=\"ascending\""));
    let second = owner.page(&format!("/org/{org}?sort=email&page=2")).await;
    assert!(second.has("26–27 of 27"));
    assert!(second.has("m25@acme.io") && !second.has("aaron@acme.io"));
    let reversed = owner.page(&format!("/org/{org}?sort=-email")).await;
    let (m25, m24) = (
        reversed.body.find("m25@acme.io").unwrap(),
        reversed.body.find("m24@acme.io").unwrap(),
    );
    assert!(m25 < m24, "descending by email");
    assert!(reversed.has("aria-sort=\"descending\""));
});

backends!(
    owners_stepping_down_at_once_keep_one,
    |app: TestApp| async move {
        use cloud::store::orgs::{self, MemberChange};
        let owner_jwt = app.user("olga@acme.io").await;
        let adam = app.create_user("adam@acme.io", false).await;
        let olga = cloud::store::users::by_slug(&app.state.db.meta, "olga")
            .await
            .unwrap()
            .unwrap();
        let org = org_with(&app, &owner_jwt, "Acme Water", &[]).await;
        let org = orgs::by_slug(&app.state.db.meta, &org)
            .await
            .unwrap()
            .unwrap();
        let pool = &app.state.db.meta;
        orgs::add_member(pool, adam.id, &org.id, "a0", 0)
            .await
            .unwrap();
        for _ in 0..5 {
            // Each owner demotes the other at the same moment: one change must be refused.
            let (a, b) = tokio::join!(
                orgs::set_role(pool, olga.id, &org.id, "a1"),
                orgs::set_role(pool, adam.id, &org.id, "a1"),
            );
            let outcomes = [a.unwrap(), b.unwrap()];
            assert!(outcomes.contains(&MemberChange::LastOwner), "{outcomes:?}");
            let mut owners = 0;
            for id in [olga.id, adam.id] {
                let m = orgs::membership(pool, id, &org.id).await.unwrap().unwrap();
                owners += usize::from(m.role == "a0");
            }
            assert_eq!(owners, 1, "{outcomes:?}");
            // Make both owners again for the next round.
            for id in [olga.id, adam.id] {
                assert_eq!(
                    orgs::set_role(pool, id, &org.id, "a0").await.unwrap(),
                    MemberChange::Done
                );
            }
        }
        let outsider = app.create_user("otto@other.io", false).await;
        assert_eq!(
            orgs::remove_member(pool, outsider.id, &org.id)
                .await
                .unwrap(),
            MemberChange::NotMember
        );
    }
);
