//! Attribute reads and writes on a connected POD: the GATT side of 4/4, 4/5 and 4/6.

use sync_protocol::bgapi::{attribute_value_type, codes, Event};

use super::super::gatt_table::{self, Attribute};
use super::{Dongle, GAP_APPEARANCE_TAG};
use crate::radio::AttError;

impl Dongle {
    /// 4/4: the value at a handle, as a 4/5 read event or a 4/1 error.
    pub(super) fn read(&mut self, connection: u8, handle: u16) -> Event {
        let Some(link) = self
            .slots
            .get_mut(usize::from(connection))
            .and_then(Option::as_mut)
        else {
            return Event::ProcedureCompleted {
                connection,
                result: codes::NOT_CONNECTED,
                handle,
            };
        };
        let value = match gatt_table::attribute(handle) {
            None => Err(codes::ATT_INVALID_HANDLE),
            Some(Attribute::Service { uuid, .. }) => Ok(uuid.le_bytes()),
            Some(Attribute::Declaration {
                properties,
                value,
                uuid,
            }) => Ok(gatt_table::declaration_value(properties, value, uuid)),
            Some(Attribute::Cccd { characteristic }) => {
                Ok(vec![u8::from(link.notifying.contains(&characteristic)), 0])
            }
            Some(Attribute::Value {
                uuid: gatt_table::DEVICE_NAME,
            }) => Ok(link.peripheral.name().into_bytes()),
            Some(Attribute::Value {
                uuid: gatt_table::APPEARANCE,
            }) => Ok(GAP_APPEARANCE_TAG.to_le_bytes().to_vec()),
            Some(Attribute::Value { uuid }) => link.link.read(uuid).map_err(att_result),
        };
        match value {
            Ok(value) => Event::AttributeValue {
                connection,
                handle,
                kind: attribute_value_type::READ,
                value,
            },
            Err(result) => Event::ProcedureCompleted {
                connection,
                result,
                handle,
            },
        }
    }

    /// A write to a value or a CCCD; returns the BGAPI result.
    pub(super) fn write(
        &mut self,
        connection: u8,
        handle: u16,
        value: &[u8],
        acknowledged: bool,
    ) -> u16 {
        let Some(link) = self
            .slots
            .get_mut(usize::from(connection))
            .and_then(Option::as_mut)
        else {
            return codes::NOT_CONNECTED;
        };
        match gatt_table::attribute(handle) {
            Some(Attribute::Cccd { characteristic }) => {
                let on = value.first().is_some_and(|b| b & 0x01 != 0);
                link.notifying.retain(|uuid| *uuid != characteristic);
                if on {
                    link.notifying.push(characteristic);
                }
                link.link
                    .set_notify(characteristic, on)
                    .map_or_else(att_result, |()| codes::SUCCESS)
            }
            Some(Attribute::Value { uuid }) => link
                .link
                .write(uuid, value, acknowledged)
                .map_or_else(att_result, |()| codes::SUCCESS),
            Some(_) => codes::ATT_WRITE_NOT_PERMITTED,
            None => codes::ATT_INVALID_HANDLE,
        }
    }
}

fn att_result(error: AttError) -> u16 {
    match error {
        AttError::InvalidHandle => codes::ATT_INVALID_HANDLE,
        AttError::NotPermitted => codes::ATT_WRITE_NOT_PERMITTED,
        AttError::InvalidLength => codes::ATT_INVALID_ATTRIBUTE_VALUE_LENGTH,
        AttError::Busy => codes::OUT_OF_MEMORY,
        AttError::Disconnected => codes::NOT_CONNECTED,
    }
}
