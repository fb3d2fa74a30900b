//! A deployment's selection criteria against what the cloud knows of a device: the latest
//! OS and app version records its version streams made (spec 6.4), and the hardware tag of
//! its device template.
//!
//! The agent on site checks the criteria again against the POD's live versions before it
//! runs anything; the cloud's answer decides which devices a deployment targets at release.
//! A criterion about something the cloud has no record of does not hold: a device that never
//! reported its app version matches no `app_tag` or `app_version` criterion, and one without
//! any record matches only a deployment whose criteria look at neither (none at all, or only
//! `controller_hw_tag` when its template names the hardware). The original server's preview
//! looked app rules up under type `sg` and so never matched them; here they compare against
//! the `app` records.

use sync_protocol::ota::{Criteria, Criterion, LiveVersions};

/// A tag with its version, as a version record holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tagged {
    pub tag: u32,
    pub major: u8,
    pub minor: u8,
}

/// What the cloud knows of a device's versions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Known {
    pub os: Option<Tagged>,
    pub app: Option<Tagged>,
    pub controller_hw_tag: Option<u32>,
}

impl Known {
    fn live(&self) -> LiveVersions {
        let os = self.os.unwrap_or(Tagged {
            tag: 0,
            major: 0,
            minor: 0,
        });
        let app = self.app.unwrap_or(Tagged {
            tag: 0,
            major: 0,
            minor: 0,
        });
        LiveVersions {
            os_tag: os.tag,
            os_major: os.major,
            os_minor: os.minor,
            app_tag: app.tag,
            app_major: app.major,
            app_minor: app.minor,
            controller_hw_tag: self.controller_hw_tag,
        }
    }
}

/// Whether every criterion holds for what is known of the device.
pub fn matches(criteria: &Criteria, known: &Known) -> bool {
    let live = known.live();
    criteria.0.iter().all(|c| {
        let recorded = match c {
            Criterion::OsTag(_) | Criterion::OsVersion(..) => known.os.is_some(),
            Criterion::AppTag(_) | Criterion::AppVersion(..) => known.app.is_some(),
            Criterion::ControllerHwTag(_) => known.controller_hw_tag.is_some(),
        };
        recorded && c.holds(&live)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn criteria(texts: &[&str]) -> Criteria {
        Criteria::parse(texts).unwrap()
    }

    #[test]
    fn only_recorded_versions_can_match() {
        let app = Tagged {
            tag: 1027,
            major: 1,
            minor: 1,
        };
        let known = Known {
            os: None,
            app: Some(app),
            controller_hw_tag: None,
        };
        assert!(matches(&criteria(&[]), &known));
        assert!(matches(
            &criteria(&["app_tag:eq:1027", "app_version:gte:1.1"]),
            &known
        ));
        assert!(!matches(&criteria(&["app_version:lt:1.1"]), &known));
        // Nothing is known of the OS: an OS criterion does not hold, not even a "<" one.
        assert!(!matches(&criteria(&["os_version:lt:9.0"]), &known));
        assert!(!matches(&criteria(&["os_tag:eq:0"]), &Known::default()));
        assert!(!matches(&criteria(&["controller_hw_tag:eq:1"]), &known));
        let with_hw = Known {
            controller_hw_tag: Some(2050),
            ..Known::default()
        };
        assert!(matches(&criteria(&["controller_hw_tag:eq:2050"]), &with_hw));
    }
}
