//! Circuit breakers, one per dependency a worker needs (the database, the
//! backup job service, the interface's queue). A dependency that keeps
//! answering `Unavailable` opens its breaker; while a breaker is open the
//! worker takes no messages (they wait on the broker instead of burning
//! attempts). When the open period ends the breaker is half-open: the next
//! message is the probe. Success closes it; failure opens it again for twice
//! as long, up to a cap.

use std::sync::Mutex;
use std::time::Duration;

use linebacker_domain::DomainError;
use tokio::time::Instant;

/// Made from `breaker.*` by `BreakerSettings::config`.
pub use linebacker_runtime::settings::BreakerConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant, open_for: Duration },
    HalfOpen { open_for: Duration },
}

/// What a breaker lets through now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Work as usual.
    Closed,
    /// Take one message to find out whether the dependency is back.
    Probe,
    /// Take nothing until then.
    OpenUntil(Instant),
}

#[derive(Debug)]
pub struct Breaker {
    pub name: &'static str,
    config: BreakerConfig,
    state: Mutex<State>,
}

impl Breaker {
    pub fn new(name: &'static str, config: BreakerConfig) -> Self {
        Self { name, config, state: Mutex::new(State::Closed { failures: 0 }) }
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut state)
    }

    /// Records the outcome of one call to the dependency: `Unavailable` is a
    /// failure, anything else (an answer, even a refusal) a success.
    pub fn record<T>(&self, outcome: &Result<T, DomainError>) {
        let failed = matches!(outcome, Err(DomainError::Unavailable(_)));
        let config = self.config;
        let opened = self.with_state(|state| {
            let next = match (*state, failed) {
                (_, false) => State::Closed { failures: 0 },
                (State::Closed { failures }, true) if failures + 1 < config.failure_threshold => {
                    State::Closed { failures: failures + 1 }
                }
                (State::Closed { .. }, true) => {
                    State::Open { until: Instant::now() + config.open_for, open_for: config.open_for }
                }
                (State::HalfOpen { open_for }, true) => {
                    let open_for = (open_for * 2).min(config.max_open_for);
                    State::Open { until: Instant::now() + open_for, open_for }
                }
                // Calls already under way when it opened: no news.
                (open @ State::Open { .. }, true) => open,
            };
            let opened = matches!(next, State::Open { .. }) && !matches!(*state, State::Open { .. });
            let closed = matches!(next, State::Closed { .. }) && !matches!(*state, State::Closed { .. });
            *state = next;
            (opened, closed)
        });
        match opened {
            (true, _) => tracing::warn!(dependency = self.name, "circuit breaker opened: pausing consumption"),
            (_, true) => tracing::info!(dependency = self.name, "circuit breaker closed: dependency answers again"),
            _ => {}
        }
    }

    /// What may pass now; an open breaker whose time is up becomes half-open.
    pub fn gate(&self) -> Gate {
        self.with_state(|state| match *state {
            State::Closed { .. } => Gate::Closed,
            State::HalfOpen { .. } => Gate::Probe,
            State::Open { until, open_for } if Instant::now() >= until => {
                *state = State::HalfOpen { open_for };
                Gate::Probe
            }
            State::Open { until, .. } => Gate::OpenUntil(until),
        })
    }

    /// Whether it keeps its dependency's work back now: the process is not
    /// ready.
    pub fn is_open(&self) -> bool {
        self.with_state(|state| matches!(state, State::Open { .. }))
    }

    /// The state as a metric: 0 closed, 1 half-open, 2 open.
    pub fn level(&self) -> i64 {
        self.with_state(|state| match state {
            State::Closed { .. } => 0,
            State::HalfOpen { .. } => 1,
            State::Open { .. } => 2,
        })
    }

    /// `closed`, `open` or `half-open`, for health pages.
    pub fn state_name(&self) -> &'static str {
        self.with_state(|state| match state {
            State::Closed { .. } => "closed",
            State::Open { .. } => "open",
            State::HalfOpen { .. } => "half-open",
        })
    }
}

/// The gate of several breakers together: the most closed of them wins.
pub fn combined_gate(breakers: &[std::sync::Arc<Breaker>]) -> Gate {
    breakers.iter().map(|b| b.gate()).fold(Gate::Closed, |acc, gate| match (acc, gate) {
        (Gate::OpenUntil(a), Gate::OpenUntil(b)) => Gate::OpenUntil(a.max(b)),
        (open @ Gate::OpenUntil(_), _) | (_, open @ Gate::OpenUntil(_)) => open,
        (Gate::Probe, _) | (_, Gate::Probe) => Gate::Probe,
        (Gate::Closed, Gate::Closed) => Gate::Closed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(
            "job-service",
            BreakerConfig { failure_threshold: 3, open_for: Duration::from_secs(2), max_open_for: Duration::from_secs(5) },
        )
    }

    fn down() -> Result<(), DomainError> {
        Err(DomainError::unavailable(anyhow::anyhow!("down")))
    }

    #[tokio::test(start_paused = true)]
    async fn consecutive_failures_open_the_breaker_for_its_open_period() {
        let breaker = breaker();
        breaker.record(&down());
        breaker.record(&down());
        assert_eq!(breaker.gate(), Gate::Closed);
        breaker.record(&down());
        assert!(matches!(breaker.gate(), Gate::OpenUntil(_)));
        assert_eq!(breaker.state_name(), "open");
        tokio::time::advance(Duration::from_millis(1999)).await;
        assert!(matches!(breaker.gate(), Gate::OpenUntil(_)));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(breaker.gate(), Gate::Probe);
        assert_eq!(breaker.state_name(), "half-open");
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_in_between_resets_the_count() {
        let breaker = breaker();
        breaker.record(&down());
        breaker.record(&down());
        breaker.record::<()>(&Err(DomainError::NotFound("r".into())));
        breaker.record(&down());
        breaker.record(&down());
        assert_eq!(breaker.gate(), Gate::Closed, "a refusal is an answer: the dependency is up");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_opens_again_for_twice_as_long_up_to_the_cap_and_a_good_one_closes() {
        let breaker = breaker();
        for _ in 0..3 {
            breaker.record(&down());
        }
        for expected in [4, 5, 5] {
            let Gate::OpenUntil(_) = breaker.gate() else { panic!("expected open") };
            tokio::time::advance(Duration::from_secs(5)).await;
            assert_eq!(breaker.gate(), Gate::Probe);
            breaker.record(&down());
            let Gate::OpenUntil(until) = breaker.gate() else { panic!("expected open") };
            assert_eq!(until - Instant::now(), Duration::from_secs(expected));
        }
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(breaker.gate(), Gate::Probe);
        breaker.record(&Ok(()));
        assert_eq!(breaker.gate(), Gate::Closed);
        assert_eq!(breaker.state_name(), "closed");
    }

    #[tokio::test(start_paused = true)]
    async fn several_breakers_pass_only_what_all_of_them_pass() {
        use std::sync::Arc;
        let a = Arc::new(breaker());
        let b = Arc::new(breaker());
        assert_eq!(combined_gate(&[a.clone(), b.clone()]), Gate::Closed);
        for _ in 0..3 {
            b.record(&down());
        }
        assert!(matches!(combined_gate(&[a.clone(), b.clone()]), Gate::OpenUntil(_)));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(combined_gate(&[a, b]), Gate::Probe);
    }
}
