//! GATT discovery on a connected POD: 4/1 (primary services) and 4/3 (attributes).
//!
//! On the air a discovery ends when the POD answers "attribute not found" past its last
//! attribute. A BLED112 treats that as the normal end and closes the procedure with a 4/1
//! of result 0; coretools' driver refuses a service discovery that ends otherwise. The
//! ending result comes from [`DongleOptions::discovery_result`](super::super::DongleOptions).

use sync_protocol::bgapi::{codes, Event, Packet, Response};

use super::super::gatt_table::{self, Attribute};
use super::{push_event, Dongle};

impl Dongle {
    /// 4/1: one 4/2 per primary service in `start..=end`, then the end.
    pub(super) fn read_by_group_type(
        &mut self,
        connection: u8,
        start: u16,
        end: u16,
        out: &mut Vec<Packet>,
    ) {
        if !self.connected(connection) {
            let result = codes::NOT_CONNECTED;
            out.push(Response::ReadByGroupType { connection, result }.encode());
            return;
        }
        let result = codes::SUCCESS;
        out.push(Response::ReadByGroupType { connection, result }.encode());
        for (handle, attribute) in gatt_table::range(start, end) {
            if let Attribute::Service { uuid, end } = attribute {
                let uuid = uuid.le_bytes();
                let start = handle;
                push_event(
                    out,
                    Event::GroupFound {
                        connection,
                        start,
                        end,
                        uuid,
                    },
                );
            }
        }
        self.end_discovery(connection, end, out);
    }

    /// 4/3: one 4/4 per attribute in `start..=end` with its type UUID, then the end.
    pub(super) fn find_information(
        &mut self,
        connection: u8,
        start: u16,
        end: u16,
        out: &mut Vec<Packet>,
    ) {
        if !self.connected(connection) {
            let result = codes::NOT_CONNECTED;
            out.push(Response::FindInformation { connection, result }.encode());
            return;
        }
        let result = codes::SUCCESS;
        out.push(Response::FindInformation { connection, result }.encode());
        for (handle, attribute) in gatt_table::range(start, end) {
            let uuid = gatt_table::type_uuid(attribute).to_le_bytes().to_vec();
            push_event(
                out,
                Event::FindInformationFound {
                    connection,
                    handle,
                    uuid,
                },
            );
        }
        self.end_discovery(connection, end, out);
    }

    fn end_discovery(&self, connection: u8, handle: u16, out: &mut Vec<Packet>) {
        let result = self.options.discovery_result;
        push_event(
            out,
            Event::ProcedureCompleted {
                connection,
                result,
                handle,
            },
        );
    }
}
