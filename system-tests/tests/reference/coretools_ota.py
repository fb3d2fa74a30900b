"""Run coretools' own OTA agent (iotile-ext-cloud's `OtaUpdater`) against our cloud and a POD
behind a BLED112, as a field technician's laptop does, and print what happened as one JSON
object on stdout.

Usage: IOTILE_TEST_CLOUD_TOKEN=<jwt> coretools_ota.py SERVER PORT TARGET_ID OUTSIDER_ID

The cloud is linked the way `iotile config link_cloud` leaves it (cloud:server and a stored
jwt), but in an in-memory registry so the token never lands in the shared venv's file. Both
devices are scanned for, then:
- OUTSIDER_ID (claimed in the org, not in the fleet): `check_cloud_for_script()` only;
- TARGET_ID: the device view as coretools' own Api client reads it, `check_cloud_for_script()`,
  then `check_and_update()` (download, `device_updater` over the high-speed channel, reset,
  `POST ota/action/`).

coretools prints progress with `iprint` on stdout; that goes to stderr here so stdout holds the
JSON alone. On failure the JSON holds what was seen so far and "error"; the exit status is 1.
"""

import contextlib
import json
import os
import sys
import time
import traceback

from iotile.core.dev.config import ConfigManager
from iotile.core.dev.registry import ComponentRegistry
from iotile.core.hw import HardwareManager

SCAN_DEADLINE = 30.0


def main():
    server, port = sys.argv[1], sys.argv[2]
    target, outsider = int(sys.argv[3], 0), int(sys.argv[4], 0)
    out = {}
    status = 0
    hw = None
    stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        try:
            link_cloud(server, os.environ["IOTILE_TEST_CLOUD_TOKEN"])
            hw = HardwareManager(port="bled112:" + port)
            scan_until(hw, [target, outsider])
            out["outsider"] = visit_outsider(hw, outsider)
            out["target"] = {}
            visit_target(hw, target, out["target"])
        except Exception as error:  # report whatever failed, with what came before
            out["error"] = "%s: %s" % (type(error).__name__, error)
            out["traceback"] = traceback.format_exc()
            status = 1
        finally:
            if hw is not None:
                hw.close()
    print(json.dumps(out), file=stdout)
    return status


def link_cloud(server, token):
    """The server and a user's jwt, as cloud/tests/compat/test_coretools.py stores them."""
    # Before anything opens the registry: every later ComponentRegistry() shares this store.
    ComponentRegistry.SetBackingStore("memory")
    ConfigManager().set("cloud:server", server)
    registry = ComponentRegistry()
    registry.set_config("arch:cloud_token", token)
    registry.set_config("arch:cloud_token_type", "jwt")


def scan_until(hw, wanted):
    """Scans until every wanted device has been seen (connect needs a scan result)."""
    deadline = time.monotonic() + SCAN_DEADLINE
    while True:
        seen = {device["uuid"] for device in hw.scan()}
        if all(uuid in seen for uuid in wanted):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("devices %s not seen, only %s" % (wanted, sorted(seen)))
        time.sleep(0.5)


def visit_outsider(hw, uuid):
    hw.connect(uuid)
    try:
        updater = hw.app(name="ota_updater")
        return {"slug": updater.dev_slug, "check": updater.check_cloud_for_script()}
    finally:
        hw.disconnect()


def visit_target(hw, uuid, visit):
    """Fills `visit` as it goes, so a failure still shows the steps before it."""
    hw.connect(uuid)
    updater = hw.app(name="ota_updater")
    visit["slug"] = updater.dev_slug
    visit["app"] = [updater.app_info[0], str(updater.app_info[1])]
    visit["os"] = [updater.os_info[0], str(updater.os_info[1])]
    # What the agent's own client receives; `check_cloud_for_script` reads the same answer.
    visit["device_view"] = updater._cloud.api.ota.device(updater.dev_slug).get()
    visit["check"] = updater.check_cloud_for_script()
    updater.check_and_update()
    visit["updated"] = True
    # The script's end reset the POD, which drops the link as a real one does.
    with contextlib.suppress(Exception):
        hw.disconnect()


if __name__ == "__main__":
    sys.exit(main())
