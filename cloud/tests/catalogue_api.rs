//! The read-only catalogue: sensor graphs, device templates, variable types (spec 3.18–3.20),
//! on both backends.

#![allow(clippy::unwrap_used)]

mod common;

use reqwest::{Method, StatusCode};

const SG: &str = "water-meter-v1-1-0";
const DT: &str = "internaltestingtemplate-v0-1-0";

backends!(catalogue_reads, |app: common::TestApp| async move {
    let user = app.user("joe@arch.io").await;
    let staff = app.staff("staff@arch.io").await;
    let sgs = app.ok("sg/", &user).await;
    assert_eq!(sgs["count"], 4);
    assert!(sgs["results"][0].get("active").is_none());
    let sg = app.ok(&format!("sg/{SG}/"), &user).await;
    assert_eq!(sg["app_tag"], 1027);
    assert_eq!(sg["variable_templates"][0]["lid_hex"], "5001");
    let dt = app.ok(&format!("dt/{DT}/"), &user).await;
    assert_eq!(dt["os_tag"], 0);
    assert!(dt.get("active").is_none());
    let vt = app.ok("vartype/water-meter-volume/", &user).await;
    assert_eq!(vt["stream_data_type"], "D0");
    assert_eq!(app.ok("vartype/", &user).await["count"], 4);
    for path in ["sg/nope/", "dt/nope/", "vartype/nope/"] {
        assert_eq!(
            app.get(path, &user).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let (status, _) = app.call(Method::GET, "sg/", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Inactive records: sensor graphs stay readable by slug, templates only for staff.
    for table in ["sensor_graphs", "device_templates"] {
        sqlx::query(&format!(
            "UPDATE {table} SET active = 0 WHERE slug = $1 OR slug = $2"
        ))
        .bind(SG)
        .bind(DT)
        .execute(&app.state.db.meta)
        .await
        .unwrap();
    }
    assert_eq!(app.ok("sg/", &user).await["count"], 3);
    assert_eq!(app.ok(&format!("sg/{SG}/"), &user).await["slug"], SG);
    assert_eq!(
        app.get(&format!("dt/{DT}/"), &user).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("dt/{DT}/"), &staff).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.ok(&format!("dt/{DT}/?staff=1"), &staff).await["slug"],
        DT
    );
    assert_eq!(app.ok("dt/", &user).await["count"], 2);
    assert_eq!(app.ok("dt/?staff=1", &staff).await["count"], 3);
});
