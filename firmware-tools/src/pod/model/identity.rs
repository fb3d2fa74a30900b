//! Identity and tags, and what advertisements say about the POD.

use sync_protocol::auth::RootKey;
use sync_protocol::version::TagVersion;
use sync_protocol::Reading;

use super::{AdvertisementData, InstalledImage, PeripheralTile, PodModel};

impl PodModel {
    // ----- identity -----------------------------------------------------------------

    /// The device id (up to 48 bits).
    pub fn device_id(&self) -> u64 {
        self.flash.identity.device_id
    }

    /// The device id as reports and RPC `0x1008` carry it.
    pub fn device_id_u32(&self) -> u32 {
        self.flash.identity.device_id as u32
    }

    pub fn os_tag(&self) -> TagVersion {
        self.flash.identity.os
    }

    pub fn app_tag(&self) -> TagVersion {
        self.flash.identity.app
    }

    /// The controller name RPC `0x0004` returns.
    pub fn controller_name(&self) -> String {
        String::from_utf8_lossy(&self.flash.identity.name).into_owned()
    }

    pub fn hardware(&self) -> &str {
        &self.flash.identity.hardware
    }

    /// Controller firmware version `(major, minor, patch)` (RPC `0x0004`).
    pub fn firmware_version(&self) -> (u8, u8, u8) {
        self.flash.identity.firmware
    }

    /// The last controller image a script installed.
    pub fn controller_image(&self) -> Option<&InstalledImage> {
        self.flash.identity.controller_image.as_ref()
    }

    /// Peripheral tiles (registered or installed by ReflashTile records).
    pub fn tiles(&self) -> &[PeripheralTile] {
        &self.flash.tiles
    }

    /// The user key, if the POD has one.
    pub fn user_key(&self) -> Option<&RootKey> {
        self.ram.key.as_ref()
    }

    // ----- advertisement data -------------------------------------------------------

    /// Some streamer has stored data above its acknowledgement.
    pub fn has_data(&self) -> bool {
        (0..self.ram.streaming.streamers.len()).any(|i| self.unacknowledged_data(i as u8))
    }

    pub fn low_voltage(&self) -> bool {
        self.flash.env.battery_mv < self.flash.env.low_voltage_mv
    }

    pub fn battery_mv(&self) -> u32 {
        self.flash.env.battery_mv
    }

    pub fn set_battery_mv(&mut self, millivolts: u32) {
        self.flash.env.battery_mv = millivolts;
    }

    pub fn user_connected(&self) -> bool {
        self.ram.user_connected
    }

    /// The radio says whether a host is connected.
    pub fn set_user_connected(&mut self, connected: bool) {
        self.ram.user_connected = connected;
    }

    pub fn safe_mode(&self) -> bool {
        self.ram.safe_mode
    }

    /// The broadcast reading: the latest reading of the configured broadcast stream, else
    /// the last reading a broadcast streamer sent.
    pub fn broadcast_reading(&self) -> Option<Reading> {
        match self.flash.env.broadcast_stream {
            Some(stream) => self.latest(stream),
            None => self.ram.broadcast,
        }
    }

    pub fn advertisement_data(&self) -> AdvertisementData {
        AdvertisementData {
            device_id: self.device_id(),
            has_data: self.has_data(),
            low_voltage: self.low_voltage(),
            user_connected: self.user_connected(),
            battery_mv: self.battery_mv(),
            current_time: self.current_time(),
            reboot_count: self.reboot_count(),
            broadcast: self.broadcast_reading(),
            safe_mode: self.safe_mode(),
            time_synchronised: self.time_synchronised(),
        }
    }
}
