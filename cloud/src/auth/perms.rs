//! Org roles and their permissions (spec 2.7). A role fills a member's permission map when the
//! member is added; after that the map is what counts.

use std::collections::BTreeMap;

/// The permission names checked by the API.
pub mod perm {
    pub const DELETE_ORG: &str = "can_delete_org";
    pub const MANAGE_USERS: &str = "can_manage_users";
    pub const MANAGE_OTA: &str = "can_manage_ota";
    pub const MANAGE_ORG_AND_PROJECTS: &str = "can_manage_org_and_projects";
    pub const CLAIM_DEVICES: &str = "can_claim_devices";
    pub const MODIFY_DEVICE: &str = "can_modify_device";
    pub const MODIFY_STREAM_IDS: &str = "can_modify_stream_ids";
    pub const READ_DEVICE_PROPERTIES: &str = "can_read_device_properties";
    pub const MODIFY_DEVICE_PROPERTIES: &str = "can_modify_device_properties";
    pub const READ_NOTES: &str = "can_read_notes";
    pub const READ_DEVICE_LOCATIONS: &str = "can_read_device_locations";
    pub const READ_STREAM_DATA: &str = "can_read_stream_data";
    pub const READ_STREAM_IDS: &str = "can_read_stream_ids";
    pub const CREATE_STREAM_DATA: &str = "can_create_stream_data";
    pub const ACCESS_COMPANION: &str = "can_access_companion";
    pub const CREATE_DATABLOCK: &str = "can_create_datablock";
    pub const RESET_DEVICE: &str = "can_reset_device";
    pub const CREATE_REPORTS: &str = "can_create_reports";
    pub const MANAGE_STREAM_ALIASES: &str = "can_manage_stream_aliases";
    pub const ACCESS_DATABLOCK: &str = "can_access_datablock";
    pub const ACCESS_REPORTS: &str = "can_access_reports";
    pub const ACCESS_WEBAPP: &str = "can_access_webapp";
    pub const DELETE_DATABLOCK: &str = "can_delete_datablock";
    pub const CREATE_STREAM_IDS: &str = "can_create_stream_ids";
    pub const ACCESS_CLASSIC: &str = "can_access_classic";
}

use perm::*;

/// Who grants what: owner a0, admin a1, member m1, operator r1, developer d1.
const GRANTS: &[(&str, &[&str])] = &[
    (DELETE_ORG, &["a0"]),
    (MANAGE_USERS, &["a0", "a1", "d1"]),
    (MANAGE_OTA, &["d1"]),
    (MANAGE_ORG_AND_PROJECTS, &["a0", "a1", "d1"]),
    (CLAIM_DEVICES, &["a0", "a1", "d1"]),
    (MODIFY_DEVICE, &["a0", "a1", "m1", "d1"]),
    (MODIFY_STREAM_IDS, &["a0", "a1", "m1", "d1"]),
    (READ_DEVICE_PROPERTIES, &["a0", "a1", "m1", "d1"]),
    (MODIFY_DEVICE_PROPERTIES, &["a0", "a1", "m1", "d1"]),
    (READ_NOTES, &["a0", "a1", "m1", "d1"]),
    (READ_DEVICE_LOCATIONS, &["a0", "a1", "m1", "d1"]),
    (READ_STREAM_DATA, &["a0", "a1", "m1", "d1"]),
    (READ_STREAM_IDS, &["a0", "a1", "m1", "r1", "d1"]),
    (CREATE_STREAM_DATA, &["a0", "a1", "m1", "r1", "d1"]),
    (ACCESS_COMPANION, &["a0", "a1", "m1", "r1", "d1"]),
    (CREATE_DATABLOCK, &["a0", "a1", "d1"]),
    (RESET_DEVICE, &["a0", "a1", "d1"]),
    (CREATE_REPORTS, &["a0", "a1", "d1"]),
    (MANAGE_STREAM_ALIASES, &["a0", "a1", "d1"]),
    (ACCESS_DATABLOCK, &["a0", "a1", "m1", "d1"]),
    (ACCESS_REPORTS, &["a0", "a1", "m1", "d1"]),
    (ACCESS_WEBAPP, &["a0", "a1", "m1", "d1"]),
    (DELETE_DATABLOCK, &["a0"]),
    (CREATE_STREAM_IDS, &["d1"]),
    (ACCESS_CLASSIC, &["a0", "a1", "d1"]),
];

/// The roles a member can have.
pub const ROLES: &[(&str, &str)] = &[
    ("a0", "Owner"),
    ("a1", "Admin"),
    ("m1", "Member"),
    ("r1", "Operator"),
    ("d1", "Developer"),
];

pub fn role_name(role: &str) -> Option<&'static str> {
    ROLES
        .iter()
        .find(|(r, _)| *r == role)
        .map(|(_, name)| *name)
}

/// The permission map a role grants: every permission, true or false.
pub fn for_role(role: &str) -> BTreeMap<String, bool> {
    GRANTS
        .iter()
        .map(|(name, roles)| (name.to_string(), roles.contains(&role)))
        .collect()
}

/// Whether a role is an org admin (owner or admin).
pub fn is_admin_role(role: &str) -> bool {
    matches!(role, "a0" | "a1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_as_the_table_says() {
        let owner = for_role("a0");
        assert!(owner[DELETE_ORG] && owner[CLAIM_DEVICES] && !owner[MANAGE_OTA]);
        let operator = for_role("r1");
        assert!(operator[READ_STREAM_IDS] && !operator[READ_STREAM_DATA]);
        let member = for_role("m1");
        assert!(member[READ_STREAM_DATA] && !member[CLAIM_DEVICES]);
        assert!(for_role("d1")[MANAGE_OTA]);
        assert!(for_role("zz").values().all(|granted| !granted));
    }
}
