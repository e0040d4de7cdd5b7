//! Pure domain types and rules: no tonic, no sqlx.

pub mod appeal;
pub mod bulletin;
pub mod calendar;
#[cfg(test)]
mod calendar_crosscheck;
pub mod clock;
pub mod contacts;
pub mod echo;
pub mod grading;
pub mod measure;
pub mod notice;
pub mod organisation;
pub mod policy;
pub mod protection;
pub mod reporting;
pub mod routing;
pub mod threat;
