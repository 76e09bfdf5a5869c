//! The paused stages of SPEC §10 against the real PostgreSQL: what every
//! copy of a stage reads each second, and what the operator routes write.
#![allow(clippy::unwrap_used)] // in a test, a failed step is the failure

mod common;

use chrono::{TimeDelta, Utc};
use linebacker_domain::Stage;

#[tokio::test]
async fn a_paused_stage_is_listed_with_its_first_pause_until_it_is_resumed() {
    let database = common::migrated_database(2).await;
    assert!(database.paused_stages().await.unwrap().is_empty(), "every stage starts running");

    let first = Utc::now() - TimeDelta::seconds(30);
    let paused = database.pause_stage(Stage::SendToInterface, "ops", first).await.unwrap();
    assert_eq!(paused.paused_by, "ops");
    // Pausing again answers the pause as it stands: who paused it first, and when.
    let again = database.pause_stage(Stage::SendToInterface, "other", Utc::now()).await.unwrap();
    assert_eq!(again, paused);
    database.pause_stage(Stage::NotifyRequesters, "", Utc::now()).await.unwrap();

    let mut listed = database.paused_stages().await.unwrap();
    listed.sort_by_key(|(stage, _)| *stage);
    let stages: Vec<Stage> = listed.iter().map(|(stage, _)| *stage).collect();
    assert_eq!(stages, [Stage::SendToInterface, Stage::NotifyRequesters]);
    assert_eq!(listed[0].1, paused);
    assert!((listed[0].1.paused_at - first).num_milliseconds().abs() < 1, "{:?}", listed[0].1);

    database.resume_stage(Stage::SendToInterface).await.unwrap();
    database.resume_stage(Stage::SendToInterface).await.unwrap();
    database.resume_stage(Stage::CheckAllowed).await.unwrap();
    let left: Vec<Stage> = database.paused_stages().await.unwrap().into_iter().map(|(stage, _)| stage).collect();
    assert_eq!(left, [Stage::NotifyRequesters]);
}

#[tokio::test]
async fn a_row_naming_no_stage_of_this_version_is_left_out_of_the_list() {
    let database = common::migrated_database(2).await;
    sqlx::query("INSERT INTO stage_pauses (stage, paused_by, paused_at) VALUES ('archive', 'ops', now())")
        .execute(database.pool())
        .await
        .unwrap();
    database.pause_stage(Stage::CheckAllowed, "ops", Utc::now()).await.unwrap();
    let listed: Vec<Stage> = database.paused_stages().await.unwrap().into_iter().map(|(stage, _)| stage).collect();
    assert_eq!(listed, [Stage::CheckAllowed]);
}
