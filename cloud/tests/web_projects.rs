//! The project pages over real HTTP: the list (filters, sorting), creating, editing and
//! deleting a project, and its variables, each with the API's validation beside the fields,
//! the API's permissions (a lower role refused where the API refuses it), the 404 page for
//! other orgs by link and by form, and the CSRF guard. Both backends.

#![allow(clippy::unwrap_used)]

mod common;

use reqwest::StatusCode;
use serde_json::json;

use common::web::Browser;
use common::TestApp;

/// Olga owns "Acme Water" with Mia (member) and Ray (operator); Otto owns "Other Co".
/// Returns Olga's JWT.
async fn cast(app: &TestApp) -> String {
    let owner = app.user("olga@acme.io").await;
    app.create_user("mia@acme.io", false).await;
    app.create_user("ray@acme.io", false).await;
    app.create_user("sam@site.io", true).await;
    let (status, body) = app
        .post("org/", &owner, json!({"name": "Acme Water"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for (user, role) in [("mia", "m1"), ("ray", "r1")] {
        let (status, body) = app
            .post(
                "org/acme-water/register/",
                &owner,
                json!({"user": user, "role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let other = app.user("otto@other.io").await;
    let (status, _) = app.post("org/", &other, json!({"name": "Other Co"})).await;
    assert_eq!(status, StatusCode::CREATED);
    owner
}

/// A project made over the API; its id.
async fn project(app: &TestApp, jwt: &str, name: &str) -> String {
    let (status, body) = app
        .post("project/", jwt, json!({"name": name, "org": "acme-water"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

backends!(
    projects_are_created_listed_and_changed,
    |app: TestApp| async move {
        let owner_jwt = cast(&app).await;
        let mut owner = Browser::sign_in(&app, "olga@acme.io").await;

        let empty = owner.page("/projects").await;
        assert!(empty.has("No projects yet") && empty.has("href=\"/projects/new\""));

        let form = owner.page("/projects/new").await;
        assert_eq!(form.h1(), "New project");
        assert!(form.has("<option value=\"acme-water\""));
        assert!(
            !form.has("other-co"),
            "only orgs where projects may be created"
        );
        let refused = owner
            .post(
                "/projects/new",
                &[("name", " "), ("org", "acme-water"), ("about", "x")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            refused.field_error("name").as_deref(),
            Some("This field may not be blank.")
        );
        let refused = owner
            .post(
                "/projects/new",
                &[("name", "Plant 1"), ("org", "nope"), ("about", "")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            refused.field_error("org").as_deref(),
            Some("Object with slug=nope does not exist.")
        );
        assert!(refused.has("value=\"Plant 1\""), "the typed name stays");

        let created = owner
            .post(
                "/projects/new",
                &[
                    ("name", "Plant 1"),
                    ("org", "acme-water"),
                    ("about", "North"),
                ],
            )
            .await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let location = created.location.unwrap();
        let id = location.trim_start_matches("/project/").to_string();
        let page = owner.page(&location).await;
        assert_eq!(page.h1(), "Plant 1");
        assert!(page.has("Project created.") && page.has("p--0000-0001"));
        let api = app.ok(&format!("project/{id}/"), &owner_jwt).await;
        assert_eq!(
            (api["name"].as_str(), api["about"].as_str()),
            (Some("Plant 1"), Some("North"))
        );

        // Filters and sorting.
        project(&app, &owner_jwt, "Beta Site").await;
        let found = owner.page("/projects?q=plant").await;
        assert!(found.has("Plant 1") && !found.has("Beta Site"));
        let none = owner.page("/projects?q=zzz").await;
        assert!(none.has("No project matches these filters"));
        let other = owner.page("/projects?org=other-co").await;
        assert!(
            !other.has("Plant 1"),
            "another org's filter shows none of its projects"
        );
        let by_name = owner.page("/projects?sort=-name").await;
        assert!(by_name.body.find("Plant 1").unwrap() < by_name.body.find("Beta Site").unwrap());
        let by_name = owner.page("/projects?sort=name").await;
        assert!(by_name.body.find("Beta Site").unwrap() < by_name.body.find("Plant 1").unwrap());

        // Editing.
        let edit = format!("/project/{id}/edit");
        let refused = owner.post(&edit, &[("name", ""), ("about", "South")]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            refused.field_error("name").as_deref(),
            Some("This field may not be blank.")
        );
        let saved = owner
            .submit(&edit, &[("name", "Plant One"), ("about", "South")])
            .await;
        assert!(saved.has("The project was saved.") && saved.h1() == "Plant One");
        let api = app.ok(&format!("project/{id}/"), &owner_jwt).await;
        assert_eq!(api["name"], "Plant One");

        // A member sees projects but may not create or edit them, as on the API.
        let mut member = Browser::sign_in(&app, "mia@acme.io").await;
        assert!(member.page("/projects").await.has("Plant One"));
        assert!(member
            .page("/projects/new")
            .await
            .has("You cannot create projects"));
        let refused = member
            .post(
                "/projects/new",
                &[("name", "Mine"), ("org", "acme-water"), ("about", "")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(!member.page(&format!("/project/{id}")).await.has(&edit));
        assert_eq!(member.get(&edit).await.status, StatusCode::FORBIDDEN);
        let refused = member.post(&edit, &[("name", "Mine"), ("about", "")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(
            app.ok(&format!("project/{id}/"), &owner_jwt).await["name"],
            "Plant One"
        );

        // Deleting is staff only (the API answers others 400) and goes through a confirm page.
        let delete = format!("/project/{id}/delete");
        assert!(!owner.page(&format!("/project/{id}")).await.has(&delete));
        assert_eq!(owner.get(&delete).await.status, StatusCode::FORBIDDEN);
        let refused = owner.post(&delete, &[]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.has("Restricted Access"));
        let mut staff = Browser::sign_in(&app, "sam@site.io").await;
        let ask = staff.page(&delete).await;
        assert_eq!(ask.h1(), "Delete the project Plant One?");
        let done = staff.submit(&delete, &[]).await;
        assert!(done.has("The project Plant One was deleted."));
        let (status, _) = app.get(&format!("project/{id}/"), &owner_jwt).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // A form without its token is refused and creates nothing.
        let bare = owner
            .post_without_token(
                "/projects/new",
                &[("name", "Sneaky"), ("org", "acme-water")],
            )
            .await;
        assert_eq!(bare.status, StatusCode::FORBIDDEN);
        assert!(!owner.page("/projects").await.has("Sneaky"));
    }
);

backends!(
    other_orgs_projects_are_not_there,
    |app: TestApp| async move {
        let owner_jwt = cast(&app).await;
        let id = project(&app, &owner_jwt, "Plant 1").await;
        let fields = [
            ("name", "Flow"),
            ("lid", "5001"),
            ("raw_value_format", "<L"),
            ("multiplication_factor", "1"),
            ("division_factor", "1"),
            ("offset", "0"),
            ("decimal_places", "2"),
        ];
        let (status, body) = app
            .post(
                "variable/",
                &owner_jwt,
                json!({"name": "Flow", "lid": 0x5001, "project": id}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let variable = body["slug"].as_str().unwrap().to_string();

        let mut outsider = Browser::sign_in(&app, "otto@other.io").await;
        assert!(!outsider.page("/projects").await.has("Plant 1"));
        for path in [
            format!("/project/{id}"),
            format!("/project/{id}/edit"),
            format!("/project/{id}/delete"),
            format!("/project/{id}/variables/new"),
            format!("/project/{id}/variable/{variable}"),
            format!("/project/{id}/variable/{variable}/delete"),
        ] {
            let page = outsider.get(&path).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "GET {path}");
            assert!(!page.has("Plant 1") && !page.has("Flow"), "GET {path}");
        }
        for path in [
            format!("/project/{id}/edit"),
            format!("/project/{id}/delete"),
            format!("/project/{id}/variables/new"),
            format!("/project/{id}/variable/{variable}"),
            format!("/project/{id}/variable/{variable}/delete"),
        ] {
            let page = outsider.post(&path, &fields).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "POST {path}");
            assert!(!page.has("Plant 1"), "POST {path}");
        }
        // Creating in another org's name is refused as the API refuses it.
        let refused = outsider
            .post(
                "/projects/new",
                &[("name", "Mine"), ("org", "acme-water"), ("about", "")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let api = app.ok(&format!("project/{id}/"), &owner_jwt).await;
        assert_eq!(api["name"], "Plant 1");
        let listed = app.ok("project/?org=acme-water", &owner_jwt).await;
        assert_eq!(listed["count"], 1);
        assert_eq!(
            app.ok(&format!("variable/{variable}/"), &owner_jwt).await["name"],
            "Flow"
        );

        let bad = outsider.get("/project/not-a-uuid").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.has("Project ID must be a UUID"));
    }
);

/// The variable form's fields with `changes` over sensible values.
fn variable_form<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("name", "Flow"),
        ("lid", "5001"),
        ("var_type", "water-meter-volume"),
        ("input_unit", "in--water-meter-volume--gallons"),
        ("output_unit", "out--water-meter-volume--liters"),
        ("units", "l"),
        ("raw_value_format", "<L"),
        ("multiplication_factor", "1"),
        ("division_factor", "1"),
        ("offset", "0"),
        ("decimal_places", "3"),
        ("mdo_label", ""),
        ("web_only", "true"),
        ("about", "Main inlet"),
    ];
    for (key, value) in changes {
        match fields.iter_mut().find(|(k, _)| k == key) {
            Some(field) => field.1 = value,
            None => fields.push((key, value)),
        }
    }
    fields.retain(|(_, v)| *v != "<absent>");
    fields
}

backends!(
    variables_are_validated_by_the_api,
    |app: TestApp| async move {
        let owner_jwt = cast(&app).await;
        let id = project(&app, &owner_jwt, "Plant 1").await;
        let mut owner = Browser::sign_in(&app, "olga@acme.io").await;
        let new = format!("/project/{id}/variables/new");
        let form = owner.page(&new).await;
        assert_eq!(form.h1(), "New variable");

        for (changes, field, message) in [
            (
                vec![("lid", "zz")],
                "lid",
                "Enter the stream id in hex, such as 5001.",
            ),
            (
                vec![("lid", "10000")],
                "lid",
                "Ensure this value is between 0 and 65535.",
            ),
            (vec![("name", "  ")], "name", "This field may not be blank."),
            (
                vec![("decimal_places", "99")],
                "decimal_places",
                "Ensure this value is between 0 and 20.",
            ),
            (
                vec![("multiplication_factor", "abc")],
                "multiplication_factor",
                "A valid integer is required.",
            ),
            (
                vec![("division_factor", "0")],
                "division_factor",
                "Must not be zero.",
            ),
            (
                vec![("input_unit", "in--temp--celsius")],
                "input_unit",
                "Object with slug=in--temp--celsius does not exist.",
            ),
        ] {
            let refused = owner.post(&new, &variable_form(&changes)).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{changes:?}");
            assert_eq!(
                refused.field_error(field).as_deref(),
                Some(message),
                "{changes:?}"
            );
        }
        let listed = app.ok(&format!("variable/?project={id}"), &owner_jwt).await;
        assert_eq!(listed["count"], 0, "nothing stored by refused forms");

        let created = owner.submit(&new, &variable_form(&[])).await;
        assert!(created.has("Variable v--0000-0001--5001 created."));
        assert!(created.has("data-testid=\"variables\"") && created.has("Flow"));
        let api = app.ok("variable/v--0000-0001--5001/", &owner_jwt).await;
        assert_eq!(api["lid"], 0x5001);
        assert_eq!(api["decimal_places"], 3);
        assert_eq!(
            api["output_unit"]["slug"],
            "out--water-meter-volume--liters"
        );
        assert_eq!(
            (api["web_only"].as_bool(), api["app_only"].as_bool()),
            (Some(true), Some(false))
        );

        let again = owner.post(&new, &variable_form(&[("name", "Twin")])).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        assert!(again.has("The fields project, lid must make a unique set."));

        // Editing: the form shows the variable; the API's checks answer beside the fields.
        let edit = format!("/project/{id}/variable/v--0000-0001--5001");
        let form = owner.page(&edit).await;
        assert!(
            form.has("value=\"Flow\"")
                && form.has("value=\"out--water-meter-volume--liters\" selected")
        );
        let refused = owner
            .post(&edit, &variable_form(&[("decimal_places", "-1")]))
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            refused.field_error("decimal_places").as_deref(),
            Some("Ensure this value is between 0 and 20.")
        );
        let saved = owner
            .submit(
                &edit,
                &variable_form(&[
                    ("name", "Flow rate"),
                    ("web_only", "<absent>"),
                    ("output_unit", ""),
                ]),
            )
            .await;
        assert!(saved.has("Variable v--0000-0001--5001 saved."));
        let api = app.ok("variable/v--0000-0001--5001/", &owner_jwt).await;
        assert_eq!(api["name"], "Flow rate");
        assert_eq!(api["web_only"], false);
        assert!(api["output_unit"].is_null());

        // An operator may read stream ids but not change them, as on the API.
        let mut operator = Browser::sign_in(&app, "ray@acme.io").await;
        let page = operator.page(&format!("/project/{id}")).await;
        assert!(page.has("Flow rate") && !page.has(&new));
        assert_eq!(operator.get(&new).await.status, StatusCode::FORBIDDEN);
        let refused = operator
            .post(&edit, &variable_form(&[("name", "Mine")]))
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(
            app.ok("variable/v--0000-0001--5001/", &owner_jwt).await["name"],
            "Flow rate"
        );

        // A variable is only found under its own project.
        let elsewhere = project(&app, &owner_jwt, "Plant 2").await;
        let wrong = owner
            .get(&format!("/project/{elsewhere}/variable/v--0000-0001--5001"))
            .await;
        assert_eq!(wrong.status, StatusCode::NOT_FOUND);

        // Deleting is staff only, through a confirm page.
        let delete = format!("{edit}/delete");
        assert_eq!(owner.get(&delete).await.status, StatusCode::FORBIDDEN);
        assert_eq!(
            owner.post(&delete, &[]).await.status,
            StatusCode::BAD_REQUEST
        );
        let mut staff = Browser::sign_in(&app, "sam@site.io").await;
        assert!(staff.page(&edit).await.has(&delete));
        let ask = staff.page(&delete).await;
        assert!(ask.h1().starts_with("Delete the variable Flow rate"));
        let done = staff.submit(&delete, &[]).await;
        assert!(done.has("Variable v--0000-0001--5001 deleted."));
        let (status, _) = app.get("variable/v--0000-0001--5001/", &owner_jwt).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);
