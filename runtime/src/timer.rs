//! The domain's `Timer` port on tokio's clock, so that a test that pauses
//! tokio's time also pauses the use cases that wait.

use std::time::Duration;

use async_trait::async_trait;
use linebacker_domain::ports::Timer;

pub struct TokioTimer;

#[async_trait]
impl Timer for TokioTimer {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    fn now(&self) -> std::time::Instant {
        tokio::time::Instant::now().into_std()
    }
}
