//! Device time to UTC: the one conversion the gateway, the desktop app and the cloud share.
//!
//! A device timestamp is a `u32` of seconds:
//! - bit 31 set: UTC from the device's clock, seconds since 2000-01-01T00:00:00Z;
//! - bit 31 clear: uptime, seconds since the device last booted;
//! - `0xFFFFFFFF`: unknown.
//!
//! An uptime is placed with the report's anchor: the report says the device's uptime when it
//! was sent (`sent_timestamp`), and the receiver knows when it received it, so
//! `utc = received − sent_timestamp + uptime`. This is exact while the device did not reboot
//! between the reading and the report.

use chrono::{DateTime, Duration, TimeZone, Utc};

/// Bit 31 of a device timestamp: the value is UTC since 2000, not uptime.
pub const RTC_FLAG: u32 = 0x8000_0000;
/// The device timestamp that means "time unknown".
pub const UNKNOWN_TIME: u32 = 0xFFFF_FFFF;
/// 2000-01-01T00:00:00Z in Unix seconds.
pub const DEVICE_EPOCH_UNIX: i64 = 946_684_800;

/// What a raw device timestamp says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceTime {
    /// Seconds since 2000-01-01 UTC, from a synchronised device clock.
    Rtc(u32),
    /// Seconds since the device booted.
    Uptime(u32),
    /// `0xFFFFFFFF`.
    Unknown,
}

impl DeviceTime {
    pub fn from_raw(raw: u32) -> Self {
        if raw == UNKNOWN_TIME {
            DeviceTime::Unknown
        } else if raw & RTC_FLAG != 0 {
            DeviceTime::Rtc(raw & !RTC_FLAG)
        } else {
            DeviceTime::Uptime(raw)
        }
    }
}

/// A device timestamp placed in UTC, with how it was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UtcTime {
    /// The device's own clock said so: exact.
    Rtc(DateTime<Utc>),
    /// Placed from uptime and the report's sent-timestamp anchor.
    FromUptime(DateTime<Utc>),
    /// The time cannot be placed: the device did not know it, or the report's anchor is
    /// itself clock time so an uptime in it cannot be related to it.
    Unknown,
}

impl UtcTime {
    /// The instant, if one could be placed.
    pub fn instant(self) -> Option<DateTime<Utc>> {
        match self {
            UtcTime::Rtc(t) | UtcTime::FromUptime(t) => Some(t),
            UtcTime::Unknown => None,
        }
    }
}

/// Places a device timestamp in UTC.
///
/// `sent_timestamp` is the report's device time when it was sent and `received` the UTC
/// instant it reached the first host (the gateway keeps it with the report, so a report that
/// waits for days is still placed right). Reports with no sent time (individual reports built
/// by coretools) pass 0, so uptimes are placed relative to `received`.
pub fn device_time_to_utc(raw_time: u32, sent_timestamp: u32, received: DateTime<Utc>) -> UtcTime {
    match DeviceTime::from_raw(raw_time) {
        DeviceTime::Rtc(seconds) => rtc_to_utc(seconds).map_or(UtcTime::Unknown, UtcTime::Rtc),
        DeviceTime::Unknown => UtcTime::Unknown,
        DeviceTime::Uptime(uptime) => boot_time(sent_timestamp, received)
            .and_then(|base| base.checked_add_signed(Duration::seconds(i64::from(uptime))))
            .map_or(UtcTime::Unknown, UtcTime::FromUptime),
    }
}

/// When the device booted, by a report's anchor: `received − sent_timestamp`. `None` when the
/// sent timestamp is not an uptime (RTC-flagged or unknown), so no boot can be placed.
///
/// Uptimes of the boot segment that sent the report are placed at `boot_time + uptime`; the
/// cloud's reboot fix-up places earlier segments relative to the segment after them.
pub fn boot_time(sent_timestamp: u32, received: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match DeviceTime::from_raw(sent_timestamp) {
        DeviceTime::Uptime(sent) => received.checked_sub_signed(Duration::seconds(i64::from(sent))),
        DeviceTime::Rtc(_) | DeviceTime::Unknown => None,
    }
}

/// Seconds since 2000-01-01 to UTC.
pub fn rtc_to_utc(seconds_since_2000: u32) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(DEVICE_EPOCH_UNIX + i64::from(seconds_since_2000), 0)
        .single()
}

/// A UTC instant as an RTC-flagged device timestamp, if it falls in the device clock's range
/// (2000-01-01 to 2068-01-19).
pub fn utc_to_rtc(instant: DateTime<Utc>) -> Option<u32> {
    let seconds = instant.timestamp().checked_sub(DEVICE_EPOCH_UNIX)?;
    u32::try_from(seconds)
        .ok()
        .filter(|s| *s < RTC_FLAG)
        .map(|s| s | RTC_FLAG)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("valid RFC 3339")
    }

    #[test]
    fn rtc_readings_count_from_2000() {
        let received = at("2017-01-10T10:00:00Z");
        assert_eq!(
            device_time_to_utc(RTC_FLAG, 0, received),
            UtcTime::Rtc(at("2000-01-01T00:00:00Z"))
        );
        assert_eq!(
            device_time_to_utc(RTC_FLAG | 86_400, 12345, received),
            UtcTime::Rtc(at("2000-01-02T00:00:00Z"))
        );
    }

    #[test]
    fn uptime_readings_hang_from_the_sent_anchor() {
        // The cloud contract's example: received 10:00:00, sent at uptime S, reading at t.
        let received = at("2017-01-10T10:00:00Z");
        assert_eq!(
            device_time_to_utc(1000, 4600, received),
            UtcTime::FromUptime(at("2017-01-10T09:00:00Z"))
        );
        assert_eq!(
            device_time_to_utc(50, 0, received),
            UtcTime::FromUptime(at("2017-01-10T10:00:50Z"))
        );
    }

    #[test]
    fn unknown_times_stay_unknown() {
        let received = at("2017-01-10T10:00:00Z");
        assert_eq!(
            device_time_to_utc(UNKNOWN_TIME, 10, received),
            UtcTime::Unknown
        );
        assert_eq!(
            device_time_to_utc(10, RTC_FLAG | 5, received),
            UtcTime::Unknown
        );
        assert_eq!(UtcTime::Unknown.instant(), None);
    }

    #[test]
    fn boot_time_is_received_minus_sent_uptime() {
        let received = at("2016-09-28T10:00:00Z");
        assert_eq!(boot_time(240, received), Some(at("2016-09-28T09:56:00Z")));
        assert_eq!(boot_time(0, received), Some(received));
        assert_eq!(boot_time(RTC_FLAG | 5, received), None);
        assert_eq!(boot_time(UNKNOWN_TIME, received), None);
    }

    #[test]
    fn rtc_round_trips() {
        let instant = at("2026-11-25T12:34:56Z");
        let raw = utc_to_rtc(instant).expect("in range");
        assert_eq!(raw & RTC_FLAG, RTC_FLAG);
        assert_eq!(device_time_to_utc(raw, 0, instant).instant(), Some(instant));
        assert_eq!(utc_to_rtc(at("1999-12-31T23:59:59Z")), None);
        assert_eq!(utc_to_rtc(at("2070-01-01T00:00:00Z")), None);
    }
}
