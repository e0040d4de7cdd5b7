//! The settings' unit tests: layering, defaults and the bounds each table enforces.

use std::time::Duration;

use super::*;

#[test]
fn grading_thresholds_come_from_the_file_and_must_descend() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fenghuo.toml");
    std::fs::write(&file, "[grading]\nmajor_bots = 50000\n").unwrap();
    let s = Settings::load(Some(&file), Overrides::default()).unwrap();
    assert_eq!(s.grading.major_bots, 50_000);
    assert_eq!(s.grading.serious_bots, 500_000);
    std::fs::write(&file, "[grading]\nmajor_bots = 900000\n").unwrap();
    let err = Settings::load(Some(&file), Overrides::default()).unwrap_err();
    assert!(format!("{err:#}").contains("must fall"), "{err:#}");
}

#[test]
fn the_console_is_served_only_where_configured_and_the_flag_wins() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fenghuo.toml");
    assert!(
        Settings::load(None, Overrides::default())
            .unwrap()
            .console_listen
            .is_none()
    );
    std::fs::write(&file, "console_listen = \"127.0.0.1:8443\"\n").unwrap();
    let s = Settings::load(Some(&file), Overrides::default()).unwrap();
    assert_eq!(s.console_listen.unwrap().port(), 8443);
    let flag = Overrides {
        console_listen: Some("127.0.0.1:9444".into()),
        ..Default::default()
    };
    assert_eq!(
        Settings::load(Some(&file), flag)
            .unwrap()
            .console_listen
            .unwrap()
            .port(),
        9444
    );
    std::fs::write(&file, "console_listen = \"everywhere\"\n").unwrap();
    let err = Settings::load(Some(&file), Overrides::default()).unwrap_err();
    assert!(format!("{err:#}").contains("console_listen"), "{err:#}");
}

#[test]
fn the_sqlite_page_cache_is_configured_within_its_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fenghuo.toml");
    assert_eq!(
        Settings::load(None, Overrides::default())
            .unwrap()
            .sqlite_cache_mib,
        crate::store::DEFAULT_SQLITE_CACHE_MIB
    );
    std::fs::write(&file, "sqlite_cache_mib = 256\n").unwrap();
    let s = Settings::load(Some(&file), Overrides::default()).unwrap();
    assert_eq!(s.sqlite_cache_mib, 256);
    std::fs::write(&file, "sqlite_cache_mib = 4\n").unwrap();
    let err = Settings::load(Some(&file), Overrides::default()).unwrap_err();
    assert!(
        format!("{err:#}").contains("sqlite_cache_mib = 4"),
        "{err:#}"
    );
}

#[test]
fn defaults_give_sqlite_in_the_data_dir() {
    let s = Settings::load(None, Overrides::default()).unwrap();
    assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(
        s.database_url.expose(),
        "sqlite://fenghuo-data/fenghuo.db?mode=rwc"
    );
    assert!(matches!(s.tls, TlsSource::Development));
}

#[test]
fn flags_win_over_the_file() {
    let dir = std::env::temp_dir().join(format!("fenghuo-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("fenghuo.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:6000\"\ndata_dir = \"/srv/f\"\n",
    )
    .unwrap();
    let s = Settings::load(
        Some(&file),
        Overrides {
            listen: Some("127.0.0.1:7000".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(s.listen.port(), 7000);
    assert_eq!(s.data_dir, PathBuf::from("/srv/f"));
}

#[test]
fn a_policy_file_overrides_the_shipped_deadlines_for_a_province() {
    use crate::domain::policy::{Level, TimeLimit};
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[provinces.\"440000\".platform.general]\nreceipt = \"2h\"\n",
    )
    .unwrap();
    let config = dir.path().join("fenghuo.toml");
    std::fs::write(
        &config,
        format!("policy_file = {:?}\n", policy.display().to_string()),
    )
    .unwrap();
    let s = Settings::load(Some(&config), Overrides::default()).unwrap();
    assert_eq!(
        s.policy.receipt_limit("440000", Level::General, false),
        Some(TimeLimit::Hours(2))
    );
    assert_eq!(
        s.policy.receipt_limit("110000", Level::General, false),
        Some(TimeLimit::WorkingDays(1))
    );
    std::fs::write(&policy, "[platform.general]\nreceipt = \"soon\"\n").unwrap();
    let err = Settings::load(Some(&config), Overrides::default()).unwrap_err();
    assert!(
        format!("{err:#}").contains("platform.general.receipt"),
        "{err:#}"
    );
}

#[test]
fn connection_limits_come_from_the_connections_table() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("fenghuo.toml");
    std::fs::write(
        &config,
        "[connections]\nhandshake_timeout = \"300ms\"\nmax = 100\nkeepalive_interval = \"2m\"\n",
    )
    .unwrap();
    let s = Settings::load(Some(&config), Overrides::default()).unwrap();
    assert_eq!(
        s.connections,
        ConnectionLimits {
            handshake_timeout: Duration::from_millis(300),
            max_connections: 100,
            keepalive_interval: Duration::from_secs(120),
            keepalive_timeout: Duration::from_secs(10),
        }
    );
    std::fs::write(&config, "[connections]\nhandshake_timeout = \"0s\"\n").unwrap();
    let err = Settings::load(Some(&config), Overrides::default()).unwrap_err();
    assert!(format!("{err:#}").contains("handshake_timeout"), "{err:#}");
}

#[test]
fn stream_limits_come_from_the_streams_table() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("fenghuo.toml");
    std::fs::write(&config, "[streams]\nslow_reader_stall = \"5s\"\n").unwrap();
    let s = Settings::load(Some(&config), Overrides::default()).unwrap();
    assert_eq!(
        s.streams,
        StreamLimits {
            slow_reader_stall: Duration::from_secs(5),
            ..StreamLimits::default()
        }
    );
    std::fs::write(
        &config,
        "[streams]\nbuffer = 2\nfeed_page = 7\nmax_unacknowledged = 64\n\n[limits]\nmax_message_bytes = 1048576\nhttp2_stream_window = 65535\n",
    )
    .unwrap();
    let s = Settings::load(Some(&config), Overrides::default()).unwrap();
    assert_eq!(
        (
            s.streams.buffer,
            s.streams.feed_page,
            s.streams.max_unacknowledged
        ),
        (2, 7, 64)
    );
    assert_eq!(
        s.limits,
        MessageLimits {
            max_message_bytes: 1 << 20,
            http2_stream_window: 65_535,
            ..MessageLimits::default()
        }
    );
    std::fs::write(&config, "[limits]\nhttp2_connection_window = 1000\n").unwrap();
    let err = Settings::load(Some(&config), Overrides::default()).unwrap_err();
    assert!(
        format!("{err:#}").contains("http2_connection_window"),
        "{err:#}"
    );
    std::fs::write(&config, "[streams]\nmax_per_organisation = 0\n").unwrap();
    let err = Settings::load(Some(&config), Overrides::default()).unwrap_err();
    assert!(
        format!("{err:#}").contains("max_per_organisation"),
        "{err:#}"
    );
}

#[test]
fn the_database_password_is_not_printed() {
    let s = Secret::new("postgres://fenghuo:hunter2@db/fenghuo");
    assert!(!format!("{s:?}").contains("hunter2"));
}
