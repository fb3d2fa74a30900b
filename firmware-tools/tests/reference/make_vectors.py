"""Makes fresh golden vectors with the reference Python tools (iotile-core 5.2.0 and
iotile-sensorgraph 1.1.0), in the layout of shared/vectors/iotile/manifest.json, from a seed.

Every expected value is what the reference decoder says about the bytes, so the vectors test
our decoder against the reference on inputs it has never seen, including corrupted ones.

usage: make_vectors.py OUT_DIR SEED [COUNT]
"""

import hashlib
import json
import os
import random
import struct
import sys

from iotile.core.hw.auth.auth_provider import AuthProvider
from iotile.core.hw.auth.env_auth_provider import EnvAuthProvider
from iotile.core.hw.reports.broadcast import BroadcastReport
from iotile.core.hw.reports.flexible_dictionary import FlexibleDictionaryReport
from iotile.core.hw.reports.individual_format import IndividualReadingReport
from iotile.core.hw.reports.report import IOTileEvent, IOTileReading
from iotile.core.hw.reports.signed_list_format import SignedListReport
from iotile.core.hw.update import UpdateScript
from iotile.core.hw.update.records import (
    EnhancedReflashControllerRecord, ReflashControllerRecord, ReflashTileRecord, ResetDeviceRecord,
    SendErrorCheckingRPCRecord, SendRPCRecord, SetDeviceTagRecord, UnknownRecord)
from iotile.sg import DataStream, DataStreamSelector, SlotIdentifier
from iotile.sg.streamer import DataStreamer
from iotile.sg.update import (
    AddNodeRecord, AddStreamerRecord, ClearConfigVariablesRecord, ClearDataRecord, PersistGraphRecord,
    ResetGraphRecord, SetConfigRecord, SetConstantRecord, SetGraphOnlineRecord)

STREAMS = [0x5001, 0x5002, 0x5020, 0x5C00, 0x5C08, 0x5C09, 0x100B, 0x0E00, 0x3C01, 0x1000]


def u32(rng):
    return rng.randrange(0, 1 << 32)


def reading_time(rng):
    # Uptime or RTC-flagged, as real PODs mix them.
    return rng.choice([rng.randrange(0, 1 << 20), (1 << 31) | rng.randrange(0, 1 << 30)])


def readings(rng, count, with_ids=True):
    out, next_id = [], rng.randrange(1, 100000)
    for _ in range(count):
        reading_id = 0
        if with_ids:
            next_id += rng.randrange(1, 4)
            reading_id = next_id
        out.append(IOTileReading(reading_time(rng), rng.choice(STREAMS), u32(rng), reading_id=reading_id))
    return out


def reading_json(reading, with_id=True):
    out = {"stream": reading.stream, "stream_hex": "%04x" % reading.stream,
           "raw_time": reading.raw_time, "value": reading.value}
    if with_id:
        out["reading_id"] = reading.reading_id
    return out


def describe_report(kind, data, key_hex=None):
    """The reference decoder's view of report bytes, in the manifest's field names."""
    if key_hex is not None:
        os.environ["USER_KEY_%08X" % struct.unpack_from("<L", data, 4)[0]] = key_hex
    entry = {"kind": kind, "length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if kind == "SignedListReport":
        report = SignedListReport(bytearray(data))
        entry.update(format=1, device_id=report.origin, report_id=report.report_id,
                     sent_timestamp=report.sent_timestamp, selector=report.streamer_selector,
                     streamer=report.origin_streamer, signature_flags=report.signature_flags,
                     verified=report.verified, lowest_id=report.lowest_id, highest_id=report.highest_id)
        if report.signature_flags != 0:
            entry["readings_encrypted"] = True
        if report.verified:
            entry["readings"] = [reading_json(r) for r in report.visible_readings]
    elif kind == "IndividualReadingReport":
        report = IndividualReadingReport(bytearray(data))
        entry.update(format=0, device_id=report.origin,
                     readings=[reading_json(r, with_id=False) for r in report.visible_readings])
    elif kind == "BroadcastReport":
        report = BroadcastReport(bytearray(data))
        entry.update(format=3, device_id=report.origin, sent_timestamp=report.sent_timestamp,
                     readings=[reading_json(r) for r in report.visible_readings])
    else:
        report = FlexibleDictionaryReport(bytes(data), signed=False, encrypted=False)
        entry.update(format="v100", device_id=report.origin,
                     readings=[reading_json(r) for r in report.visible_readings],
                     events=[{"stream": e.stream, "reading_id": e.reading_id, "raw_time": e.raw_time,
                              "summary_data": e.summary_data, "raw_data": e.raw_data}
                             for e in report.visible_events])
    if key_hex is not None:
        entry["user_key_hex"] = key_hex
    return entry


def make_report(rng):
    choice = rng.randrange(8)
    uuid = rng.randrange(1, 1 << 24)
    if choice <= 3:
        key_hex = None
        root_key, signer = AuthProvider.NoKey, None
        if choice >= 2:
            key_hex = "%064x" % rng.getrandbits(256)
            os.environ["USER_KEY_%08X" % uuid] = key_hex
            root_key, signer = AuthProvider.UserKey, EnvAuthProvider()
        items = readings(rng, rng.choice([0, 1, 3, 20, 200]))
        report_id = max([r.reading_id for r in items] + [0]) + 1
        data = bytearray(SignedListReport.FromReadings(
            uuid, items, root_key=root_key, signer=signer, report_id=report_id,
            selector=rng.choice([0xD7FF, 0x5FFF, 0x57FF, 0xFFFF, 0x0FFF]), streamer=rng.randrange(0, 8),
            sent_timestamp=u32(rng)).encode())
        if choice in (1, 3):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)   # tampered
        try:
            return describe_report("SignedListReport", data, key_hex), data
        except Exception as error:   # the reference refuses it outright
            return {"kind": "SignedListReport", "refused": str(error)}, data
    if choice == 4:
        data = IndividualReadingReport.FromReadings(uuid, readings(rng, 1, with_ids=False)).encode()
        return describe_report("IndividualReadingReport", data), data
    if choice == 5:
        data = BroadcastReport.FromReadings(uuid, readings(rng, rng.randrange(0, 4)), sent_timestamp=u32(rng)).encode()
        return describe_report("BroadcastReport", data), data
    events = [IOTileEvent(reading_time(rng), 0x5020, {"axis": rng.choice("xyz"), "peak": rng.random()},
                          {"samples": [rng.randrange(100) for _ in range(rng.randrange(5))]},
                          reading_id=1000 + i) for i in range(rng.randrange(0, 3))]
    data = FlexibleDictionaryReport.FromReadings(uuid, readings(rng, rng.randrange(0, 5)), events,
                                                 report_id=rng.randrange(0, 5000),
                                                 sent_timestamp=u32(rng)).encode()
    return describe_report("FlexibleDictionaryReport", bytes(data)), bytes(data)


def random_record(rng):
    kind = rng.randrange(17)
    if kind == 0:
        tag = lambda: (rng.randrange(0, 1 << 20), "%d.%d" % (rng.randrange(64), rng.randrange(64)))
        which = rng.randrange(3)
        args = {}
        if which in (0, 2):
            args["app_tag"], args["app_version"] = tag()
        if which in (1, 2):
            args["os_tag"], args["os_version"] = tag()
        return SetDeviceTagRecord(**args)
    if kind == 1:
        return SendRPCRecord(rng.randrange(256), rng.randrange(0x10000), bytearray(rng.randbytes(rng.randrange(21))),
                             rng.choice([None, rng.randrange(0, 21)]))
    if kind == 2:
        return SendErrorCheckingRPCRecord(rng.randrange(256), rng.choice([0x8000, 0x1234, 0x2A08, rng.randrange(0x10000)]),
                                          bytearray(rng.randbytes(rng.randrange(21))), 4)
    if kind == 3:
        return ReflashTileRecord(rng.randrange(1, 32), bytearray(rng.randbytes(rng.randrange(0, 400))),
                                 rng.randrange(1 << 32), rng.randrange(256))
    if kind == 4:
        return ReflashControllerRecord(bytearray(rng.randbytes(rng.randrange(0, 300))), rng.randrange(1 << 32))
    if kind == 5:
        return EnhancedReflashControllerRecord(bytearray(rng.randbytes(rng.randrange(0, 300))), rng.randrange(1 << 32))
    if kind == 6:
        return ResetDeviceRecord()
    if kind == 7:
        ops = ["always", "when value > %d", "when count >= %d", "when value == %d", "when count < %d", "when value <= %d"]

        def trigger():
            op = rng.choice(ops)
            return op % rng.randrange(1 << 32) if "%" in op else op

        def stream():
            return str(DataStream(rng.randrange(6), rng.randrange(2048), rng.random() < 0.3))
        funcs = ["copy_latest_a", "average_a", "copy_all_a", "sum_a", "copy_count_a", "trigger_streamer",
                 "call_rpc", "subtract_afromb"]
        if rng.random() < 0.5:
            desc = "(%s %s) => %s using %s" % (stream(), trigger(), stream(), rng.choice(funcs))
        else:
            desc = "(%s %s %s %s %s) => %s using %s" % (stream(), trigger(), rng.choice(["&&", "||"]), stream(),
                                                       trigger(), stream(), rng.choice(funcs))
        return AddNodeRecord(desc, rng.choice([8, 8, 11]))
    if kind == 8:
        spec = rng.choice([1, 2, 3, 4])
        selector = DataStreamSelector(rng.choice([0, 5, 5, 1]), rng.choice([None, rng.randrange(2047)]), spec)
        dest = SlotIdentifier(controller=True) if rng.random() < 0.7 else SlotIdentifier(slot=rng.randrange(1, 32))
        fmt = rng.choice(["individual", "hashedlist", "signedlist_userkey", "signedlist_devicekey"])
        rtype = rng.choice(["telegram", "broadcast", "synchronous"])
        auto = rng.random() < 0.5
        with_other = rng.randrange(8) if (not auto and rng.random() < 0.4) else None
        return AddStreamerRecord(DataStreamer(selector, dest, fmt, auto, rtype, with_other=with_other), rng.choice([8, 8, 12]))
    if kind == 9:
        target = SlotIdentifier(controller=True) if rng.random() < 0.5 else SlotIdentifier(slot=rng.randrange(1, 32))
        return SetConfigRecord(target, rng.randrange(0x10000), bytearray(rng.randbytes(rng.randrange(0, 61))))
    if kind == 10:
        return SetConstantRecord(DataStream(rng.randrange(6), rng.randrange(2048), rng.random() < 0.3),
                                 rng.randrange(1 << 32), address=rng.choice([8, 8, 13]))
    if kind == 11:
        return PersistGraphRecord(address=8)
    if kind == 12:
        return ClearDataRecord(address=8)
    if kind == 13:
        return ClearConfigVariablesRecord()
    if kind == 14:
        return SetGraphOnlineRecord(rng.random() < 0.5, address=8)
    if kind == 15:
        return ResetGraphRecord(address=8)
    return UnknownRecord(rng.choice([7, 9, 42, 200]), bytearray(rng.randbytes(rng.randrange(0, 40))))


def describe_script(data):
    entry = {"kind": "UpdateScript", "length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    try:
        UpdateScript.ParseHeader(data)
    except Exception as error:
        if "hash" not in str(error):
            entry["refused"] = str(error)
            return entry
        entry.update(valid=False, why=str(error))
        return entry
    try:
        script = UpdateScript.FromBinary(data)
        records = [str(r) for r in script.records]
    except Exception as error:
        entry["refused"] = "%s: %s" % (type(error).__name__, error)
        return entry
    entry.update(valid=True, record_count=len(script.records),
                 record_classes=[type(r).__name__ for r in script.records], records=records)
    return entry


def make_script(rng):
    records = [random_record(rng) for _ in range(rng.randrange(1, 8))]
    data = bytearray(UpdateScript(records).encode())
    if rng.random() < 0.1:
        data[rng.randrange(16)] ^= 1   # bad hash
    return describe_script(bytes(data)), bytes(data)


def main():
    out_dir, seed = sys.argv[1], int(sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    rng = random.Random(seed)
    os.makedirs(out_dir, exist_ok=True)
    vectors = []
    for index in range(count):
        maker = make_report if index % 2 == 0 else make_script
        try:
            entry, data = maker(rng)
        except Exception:
            continue   # the reference cannot build this combination (e.g. a bad sensor-graph text)
        entry["name"] = "v%04d" % index
        entry["file"] = entry["name"] + ".bin"
        with open(os.path.join(out_dir, entry["file"]), "wb") as out:
            out.write(data)
        vectors.append(entry)
    with open(os.path.join(out_dir, "manifest.json"), "w") as out:
        json.dump({"generator": "iotile-core 5.2.0 + iotile-sensorgraph 1.1.0", "seed": seed, "vectors": vectors},
                  out, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
