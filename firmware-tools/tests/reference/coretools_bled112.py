"""Drive a BLED112 dongle with coretools' own driver (iotile-transport-bled112), as field
tools do, and print what coretools saw as one JSON object on stdout.

Usage: coretools_bled112.py PORT DEVICE_ID [OTHER_DEVICE_ID ...]

Scans until every device id is seen, then visits the first one twice. First visit: RPC
0x1008 (controller info) and 0x0004 (tile name), push readings 111, 222, 333 on output 1,
stream streamer 0's report, acknowledge its highest id (0x200F) and read the stored ack
back (0x200A). Second visit, after a disconnect: read the ack, push 444 and stream again.

On failure the JSON holds what was seen so far and "error"; the exit status is 1.
"""

import json
import sys
import time

from iotile.core.hw import HardwareManager

OUTPUT_1 = 0x5001
SCAN_DEADLINE = 30.0
REPORT_TIMEOUT = 10.0


def main():
    port = sys.argv[1]
    wanted = [int(arg, 0) for arg in sys.argv[2:]]
    out = {}
    hw = None
    try:
        hw = HardwareManager(port="bled112:" + port)
        out["scan"] = scan_until(hw, wanted)
        target = wanted[0]
        out["first_visit"] = first_visit(hw, target)
        out["second_visit"] = second_visit(hw, target)
    except Exception as error:  # report whatever failed, with what came before
        out["error"] = "%s: %s" % (type(error).__name__, error)
        print(json.dumps(out))
        return 1
    finally:
        if hw is not None:
            hw.close()
    print(json.dumps(out))
    return 0


def scan_until(hw, wanted):
    """The scan results once every wanted device has been seen."""
    deadline = time.monotonic() + SCAN_DEADLINE
    while True:
        devices = hw.scan()
        seen = {device["uuid"] for device in devices}
        if all(uuid in seen for uuid in wanted) or time.monotonic() > deadline:
            return [
                {
                    "uuid": device["uuid"],
                    "connection_string": device["connection_string"],
                    "signal_strength": device.get("signal_strength"),
                }
                for device in devices
            ]
        time.sleep(0.5)


def first_visit(hw, uuid):
    hw.connect(uuid)
    controller = hw.get(8, basic=True)
    device_id, os_info, app_info = controller.rpc_v2(0x1008, "", "L8xLL")
    visit = {
        "device_id": device_id,
        "os_info": os_info,
        "app_info": app_info,
        "tile_name": controller.tile_name(),
    }
    for value in (111, 222, 333):
        push(controller, value)
    report = stream_one(hw, controller)
    visit["report"] = report
    (visit["ack_error"],) = controller.rpc_v2(0x200F, "HHL", "L", 0, 0, report["highest_id"])
    visit["stored_ack"] = stored_ack(controller)
    hw.disconnect()
    return visit


def second_visit(hw, uuid):
    hw.connect(uuid)
    controller = hw.get(8, basic=True)
    visit = {"stored_ack": stored_ack(controller)}
    push(controller, 444)
    visit["report"] = stream_one(hw, controller)
    hw.disconnect()
    return visit


def push(controller, value):
    (error,) = controller.rpc_v2(0x2000, "LH", "L", value, OUTPUT_1)
    if error != 0:
        raise RuntimeError("pushing %d failed with %#x" % (value, error))


def stored_ack(controller):
    """Streamer 0's highest acknowledged id, from its 20-byte status (0x200A)."""
    status = controller.rpc_v2(0x200A, "H", "LLLLBBBx", 0)
    return status[3]


def stream_one(hw, controller):
    """Opens streaming, triggers streamer 0 and returns its report as coretools decoded it."""
    hw.enable_streaming()
    (trigger_error,) = controller.rpc_v2(0x2010, "H", "L", 0)
    while True:
        (report,) = hw.wait_reports(1, timeout=REPORT_TIMEOUT)
        if getattr(report, "origin_streamer", None) == 0:
            break
    return {
        "kind": type(report).__name__,
        "trigger_error": trigger_error,
        "origin": report.origin,
        "verified": bool(report.verified),
        "report_id": report.report_id,
        "lowest_id": report.lowest_id,
        "highest_id": report.highest_id,
        "readings": [
            {"stream": r.stream, "value": r.value, "reading_id": r.reading_id}
            for r in report.visible_readings
        ],
    }


if __name__ == "__main__":
    sys.exit(main())
