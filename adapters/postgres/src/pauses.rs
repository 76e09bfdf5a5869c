//! Which stages an operator paused (SPEC §10). A paused stage has a row; a
//! running one has none, so that resuming leaves nothing behind and the
//! stages' own list stays in the domain (`Stage::ALL`).

use chrono::{DateTime, Utc};
use linebacker_domain::{DomainError, Stage};

use crate::Database;
use crate::error::map_sqlx_error;

/// Who paused a stage, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagePause {
    pub paused_by: String,
    pub paused_at: DateTime<Utc>,
}

impl Database {
    /// Pauses `stage` for `by`; a stage already paused keeps who paused it
    /// first and when. Answers the pause as it stands.
    pub async fn pause_stage(&self, stage: Stage, by: &str, at: DateTime<Utc>) -> Result<StagePause, DomainError> {
        let (paused_by, paused_at) = sqlx::query_as(
            "INSERT INTO stage_pauses (stage, paused_by, paused_at) VALUES ($1, $2, $3) \
             ON CONFLICT (stage) DO UPDATE SET stage = EXCLUDED.stage \
             RETURNING paused_by, paused_at",
        )
        .bind(stage.name())
        .bind(by)
        .bind(at)
        .fetch_one(self.pool())
        .await
        .map_err(map_sqlx_error)?;
        Ok(StagePause { paused_by, paused_at })
    }

    /// Lets `stage` run again; nothing happens when it was running.
    pub async fn resume_stage(&self, stage: Stage) -> Result<(), DomainError> {
        sqlx::query("DELETE FROM stage_pauses WHERE stage = $1")
            .bind(stage.name())
            .execute(self.pool())
            .await
            .map_err(map_sqlx_error)?;
        Ok(())
    }

    /// Every paused stage with its pause. A row naming no stage of this
    /// version (written by a newer one) is left out.
    pub async fn paused_stages(&self) -> Result<Vec<(Stage, StagePause)>, DomainError> {
        let rows: Vec<(String, String, DateTime<Utc>)> =
            sqlx::query_as("SELECT stage, paused_by, paused_at FROM stage_pauses")
                .fetch_all(self.pool())
                .await
                .map_err(map_sqlx_error)?;
        Ok(rows
            .into_iter()
            .filter_map(|(stage, paused_by, paused_at)| {
                stage.parse().ok().map(|stage| (stage, StagePause { paused_by, paused_at }))
            })
            .collect())
    }
}
