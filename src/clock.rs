//! The hub's clock: real time, or an instant fixed by configuration so demos and tests never
//! depend on today's date.
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Fixed(DateTime<Utc>),
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => *t,
        }
    }
}
