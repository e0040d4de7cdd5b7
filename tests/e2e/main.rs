//! End-to-end tests: the real server on loopback over real mTLS, with the
//! generated client, on SQLite files and on PostgreSQL. One binary, one link.

mod support;

mod appeal_cli;
mod appeals;
mod audit;
mod authorization;
mod backup;
mod batches;
mod bootstrap;
mod calendar;
mod calendar_cli;
mod cli;
mod contacts;
mod disposal;
mod disposal_cli;
mod disposal_rules;
mod durability;
mod hostile;
mod identification;
mod identity;
mod institution_tasks;
mod jobs_cli;
mod metrics;
mod notice_cli;
mod onboard_cli;
mod otlp;
mod ownership;
mod ownership_cli;
mod protection;
mod readme_jobs;
mod registry;
mod report_rules;
mod reporting_deadlines;
mod resume;
mod retention;
mod routing_rules;
mod slow_readers;
mod statistics;
mod stix;
mod threat_cli;
mod threats;
mod timers;
mod tokens;
mod traceability;
