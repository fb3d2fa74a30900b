"""Streamer reports built by coretools itself (`iotile.core.hw.reports`) and uploaded with
`IOTileCloud.upload_report`, then read back through the iotile-cloud SDK (spec section 5,
checks 6 to 12 of section 7). The server processes reports in the background, so every read
waits for the report to be processed first."""
import datetime
import hashlib
import random
import time
import uuid

import msgpack
import pytest
import requests
from iotile.cloud import IOTileCloud
from iotile.core.dev.config import ConfigManager
from iotile.core.dev.registry import ComponentRegistry
from iotile.core.hw.auth.auth_provider import AuthProvider
from iotile.core.hw.reports import FlexibleDictionaryReport, IOTileReading, SignedListReport
from iotile.core.hw.reports.report import IOTileEvent
from iotile_cloud.api.exceptions import HttpClientError
from iotile_cloud.stream.data import StreamData

from conftest import SECONDS_Z, SENSOR_GRAPH, TEMPLATE, device_slug, stream_slug

# When the reports below were "received": coretools sends `received_time.isoformat()`.
RECEIVED = datetime.datetime(2017, 1, 10, 10, 0, 0)
Y2K = datetime.datetime(2000, 1, 1)
USER_SELECTOR = 0xFFFF
SYSTEM_SELECTOR = 0x5FFF


def coretools(url, token, token_type="jwt"):
    """An IOTileCloud as `iotile config link_cloud` leaves it: the server and a stored token."""
    ConfigManager().set("cloud:server", url)
    registry = ComponentRegistry()
    registry.set_config("arch:cloud_token", token)
    registry.set_config("arch:cloud_token_type", token_type)
    return IOTileCloud(domain=url)


def status_of(excinfo):
    return excinfo.value.response.status_code


def seconds(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def streamer_slug(device_id, index):
    return "t--0000-{:04x}-{:04x}-{:04x}--{:04x}".format(
        (device_id >> 32) & 0xFFFF, (device_id >> 16) & 0xFFFF, device_id & 0xFFFF, index
    )


def signed(device_id, readings, report_id, sent=100, streamer=0, selector=USER_SELECTOR, received=RECEIVED):
    """A SignedListReport exactly as coretools builds one, hash-signed."""
    report = SignedListReport.FromReadings(
        device_id, readings, root_key=AuthProvider.NoKey, signer=None, report_id=report_id,
        selector=selector, streamer=streamer, sent_timestamp=sent,
    )
    report.received_time = received
    return report


def uptime_readings(stream, first_id, times):
    """Readings on `stream` at the uptimes `times`, ids counting up from `first_id`, value = id."""
    return [IOTileReading(t, stream, first_id + i, reading_id=first_id + i) for i, t in enumerate(times)]


def post_raw(url, token, name, body, timestamp="2017-01-10T10:00:00Z", token_type="jwt"):
    """The upload as a plain multipart POST, to see statuses and bodies the SDK hides."""
    params = {} if timestamp is None else {"timestamp": timestamp}
    return requests.post(
        f"{url}/api/v1/streamer/report/", files={"file": (name, bytes(body))}, params=params,
        headers={"Authorization": f"{token_type} {token}"}, timeout=60,
    )


def wait_for(what, read, expected, timeout=60):
    """Polls `read()` until it returns `expected`: processing is asynchronous."""
    deadline = time.monotonic() + timeout
    value = read()
    while value != expected:
        assert time.monotonic() < deadline, f"{what}: still {value!r}, expected {expected!r}"
        time.sleep(0.2)
        value = read()
    return value


def wait_processed(api, report_id, timeout=60):
    """The report record once the worker is done with it."""
    deadline = time.monotonic() + timeout
    while True:
        report = api.streamer.report(report_id).get()
        if report["status"] != "scheduled":
            return report
        assert time.monotonic() < deadline, f"report {report_id} was not processed in {timeout} s"
        time.sleep(0.2)


def all_rows(api, **filters):
    rows, page = [], 1
    while page:
        answer = api.data.get(page=page, **filters)
        rows.extend(answer["results"])
        page = page + 1 if answer["next"] else 0
    return rows


class Devices:
    """Devices of this module's own, made by staff with random ids in a range."""

    def __init__(self, api, project):
        self.api = api
        self.project = project
        self.used = set()

    def new(self, low=0x10000, high=0xFFFFF0, claim=True):
        for _ in range(50):
            device_id = random.randrange(low, high)
            if device_id in self.used:
                continue
            try:
                self.api.device.post({"id": device_id, "template": TEMPLATE, "sg": SENSOR_GRAPH}, staff=1)
            except HttpClientError:
                continue  # taken by another module's device
            self.used.add(device_id)
            if claim:
                self.api.device.claim.post({"device": device_slug(device_id), "project": self.project["id"]})
            return device_id
        pytest.fail("no free device id")

    def unknown(self):
        while True:
            device_id = random.randrange(0x7F000000, 0x7FFFFFFF)
            try:
                self.api.device(device_slug(device_id)).get()
            except HttpClientError as exc:
                if exc.response.status_code == 404:
                    return device_id


@pytest.fixture(scope="module")
def project(staff_api):
    # An org and project of this module's own, so the other modules' counts stay theirs.
    org = staff_api.org.post({"name": f"Uploads {uuid.uuid4().hex[:8]}"})
    return staff_api.project.post({"name": "Uploaded reports", "org": org["slug"]})


@pytest.fixture(scope="module")
def devices(staff_api, project):
    return Devices(staff_api, project)


@pytest.fixture
def cloud(url, staff_api):
    return coretools(url, staff_api.token)


def test_upload_counts_and_refusals(url, staff_api, cloud, devices):
    # Check 6 (spec 5.1, 5.2): the count is the readings in the file; bad uploads are 400/404.
    device_id = devices.new()
    report = signed(device_id, uptime_readings(0x5001, 1, [10, 20, 30, 40, 50]), report_id=6)
    assert cloud.upload_report(report) == 5
    raw = bytes(report.encode())

    no_timestamp = post_raw(url, staff_api.token, "report.bin", raw, timestamp=None)
    assert no_timestamp.status_code == 400
    assert no_timestamp.json() == {"error": "missing timestamp argument"}

    flipped = bytearray(raw)
    flipped[30] ^= 0x01  # inside the first reading
    refused = post_raw(url, staff_api.token, "report.bin", flipped)
    assert refused.status_code == 400
    assert isinstance(refused.json(), list) and refused.json()[0].startswith("Invalid Hash")

    unclaimed = devices.new(claim=False)
    with pytest.raises(HttpClientError) as excinfo:
        cloud.upload_report(signed(unclaimed, uptime_readings(0x5001, 1, [10]), report_id=2))
    assert status_of(excinfo) == 400
    assert "has not been claimed" in excinfo.value.response.json()[0]

    with pytest.raises(HttpClientError) as excinfo:
        cloud.upload_report(signed(devices.unknown(), uptime_readings(0x5001, 1, [10]), report_id=2))
    assert status_of(excinfo) == 404

    jpg = post_raw(url, staff_api.token, "report.jpg", raw)
    assert jpg.status_code == 400
    assert jpg.json() == ["Streamer Report file extension not supported. Expected: .bin, .json or .mp"]

    # A report that says it is signed with the user key; the server knows no key for it.
    user_keyed = bytearray(raw)
    user_keyed[16] = 1
    user_keyed[-16:] = hashlib.sha256(bytes(user_keyed[:-16])).digest()[:16]
    keyed = SignedListReport(user_keyed)
    keyed.received_time = RECEIVED
    with pytest.raises(HttpClientError) as excinfo:
        cloud.upload_report(keyed)
    assert status_of(excinfo) == 400
    assert excinfo.value.response.json()[0].startswith("Unrecognized signature flags")

    # None of the refusals moved the acknowledgement of the accepted report.
    wait_for("last_id", lambda: cloud.highest_acknowledged(device_id, 0), 5)


@pytest.mark.parametrize("low,high", [(0x1000, 0xFFF0), (0x10000, 0xFFFFF0)])
def test_acknowledgements_after_processing(cloud, devices, low, high):
    # Check 7 (spec 3.10): last_id is the report's highest reading id once processed. For ids
    # of 0x10000 and above coretools asks with a malformed streamer slug, parsed leniently.
    device_id = devices.new(low, high)
    report = signed(device_id, uptime_readings(0x5001, 11, [5, 6, 7, 8]), report_id=20, streamer=2)
    assert cloud.upload_report(report) == 4
    assert wait_for("last_id", lambda: cloud.highest_acknowledged(device_id, 2), 14) == 14
    acks = cloud.device_acknowledgements(device_id)
    assert [(a.index, a.ack, a.selector) for a in acks] == [(2, 14, USER_SELECTOR)]


def test_same_report_twice_stores_nothing_new(url, staff_api, cloud, devices, project):
    # Check 8 (spec 5.9): the count is the file's both times and no row is added.
    device_id = devices.new()
    stream = stream_slug(project["slug"], device_id, "5001")
    report = signed(device_id, uptime_readings(0x5001, 1, [10, 20, 30]), report_id=4)
    assert cloud.upload_report(report) == 3
    wait_for("last_id", lambda: cloud.highest_acknowledged(device_id, 0), 3)
    assert staff_api.data.get(filter=stream)["count"] == 3
    assert cloud.upload_report(report) == 3

    # The same readings in a new report: processed, with nothing new in it.
    again = signed(device_id, uptime_readings(0x5001, 1, [10, 20, 30]), report_id=5)
    answer = post_raw(url, staff_api.token, "report.bin", again.encode())
    assert answer.status_code == 201 and answer.json()["count"] == 3
    record = wait_processed(staff_api, answer.json()["report"])
    assert record["status"] == "processed"
    assert (record["actual_first_id"], record["actual_last_id"]) == (0, 0)
    assert staff_api.data.get(filter=stream)["count"] == 3
    assert cloud.highest_acknowledged(device_id, 0) == 3


def test_uptime_and_rtc_timestamps(staff_api, cloud, devices, project):
    # Check 9 (spec 5.6): uptime readings are placed from the upload time minus the report's
    # sent uptime; readings with bit 31 set are seconds since 2000 in UTC.
    device_id = devices.new()
    rtc = 0x80000000 | 537_000_000
    readings = [
        IOTileReading(400, 0x5001, 7, reading_id=1),
        IOTileReading(rtc, 0x5002, 8, reading_id=2),
    ]
    assert cloud.upload_report(signed(device_id, readings, report_id=3, sent=1000)) == 2
    wait_for("last_id", lambda: cloud.highest_acknowledged(device_id, 0), 2)

    [uptime] = staff_api.data.get(filter=stream_slug(project["slug"], device_id, "5001"))["results"]
    assert uptime["timestamp"] == "2017-01-10T09:50:00Z"  # 10:00:00 - 1000 s + 400 s
    assert SECONDS_Z.match(uptime["timestamp"])
    assert (uptime["int_value"], uptime["device_timestamp"], uptime["streamer_local_id"]) == (7, 400, 1)
    assert uptime["status"] == "cln"
    [utc] = staff_api.data.get(filter=stream_slug(project["slug"], device_id, "5002"))["results"]
    assert utc["timestamp"] == seconds(Y2K + datetime.timedelta(seconds=537_000_000))
    assert utc["status"] == "utc"


def test_reboot_example_of_the_spec(staff_api, cloud, devices, project):
    # Check 9 (spec 5.6 worked example): a report received at 10:00:00 with sent uptime 240
    # and a reboot inside; the earlier boot segment is repaired from the previous report,
    # received at 09:56:00 with sent uptime 60.
    device_id = devices.new()
    previous = signed(
        device_id, uptime_readings(0x5002, 1, [30, 40]), report_id=3, sent=60,
        received=datetime.datetime(2016, 9, 28, 9, 56, 0),
    )
    assert cloud.upload_report(previous) == 2
    readings = (
        uptime_readings(0x5001, 4, [10, 20, 30, 40, 50])
        + [IOTileReading(2, 0x5C00, 0, reading_id=9)]
        + uptime_readings(0x5001, 10, [10, 20])
    )
    report = signed(device_id, readings, report_id=12, sent=240, received=datetime.datetime(2016, 9, 28, 10, 0, 0))
    assert cloud.upload_report(report) == 8
    wait_for("last_id", lambda: cloud.highest_acknowledged(device_id, 0), 11)

    rows = staff_api.data.get(filter=stream_slug(project["slug"], device_id, "5001"))["results"]
    assert [(r["streamer_local_id"], r["timestamp"], r["status"]) for r in rows] == [
        (4, "2016-09-28T09:55:10Z", "cln"),
        (5, "2016-09-28T09:55:20Z", "cln"),
        (6, "2016-09-28T09:55:30Z", "cln"),
        (7, "2016-09-28T09:55:40Z", "cln"),
        (8, "2016-09-28T09:55:50Z", "cln"),
        (10, "2016-09-28T09:56:10Z", "cln"),
        (11, "2016-09-28T09:56:20Z", "cln"),
    ]


def test_data_reads_markers_and_reboots(staff_api, cloud, devices, project):
    # Check 10 (spec 5.5 steps 6 and 8): lastn through the SDK's StreamData, the report's
    # 5a05 marker, and 5c00 reboots kept by the system streamer only.
    device_id = devices.new()
    stream = stream_slug(project["slug"], device_id, "5001")
    user = uptime_readings(0x5001, 1, [10, 20, 30, 40, 50, 60]) + [IOTileReading(70, 0x5C00, 0, reading_id=7)]
    assert cloud.upload_report(signed(device_id, user, report_id=8, sent=80, streamer=0)) == 7
    system = [IOTileReading(5, 0x5C00, 0, reading_id=9)]
    assert cloud.upload_report(
        signed(device_id, system, report_id=10, sent=90, streamer=1, selector=SYSTEM_SELECTOR)
    ) == 1
    wait_for("user last_id", lambda: cloud.highest_acknowledged(device_id, 0), 7)
    wait_for("system last_id", lambda: cloud.highest_acknowledged(device_id, 1), 9)

    last = StreamData(stream, staff_api)
    last.initialize_from_server(lastn=3)
    assert [row["int_value"] for row in last.data] == [4, 5, 6]
    assert [row["timestamp"] for row in last.data] == sorted(row["timestamp"] for row in last.data)

    rows = all_rows(staff_api, filter=device_slug(device_id))
    by_variable = {}
    for row in rows:
        by_variable.setdefault(row["stream"].rsplit("--", 1)[1], []).append(row)
    markers = by_variable["5a05"]
    assert sorted((m["streamer_local_id"], m["int_value"]) for m in markers) == [(8, 0), (10, 1)]
    assert all(m["device"] == device_slug(device_id) for m in markers)
    reboots = by_variable["5c00"]
    assert [r["streamer_local_id"] for r in reboots] == [9]  # only the system streamer's
    assert len(by_variable["5001"]) == 6


def test_flexible_dictionary_report(url, staff_api, cloud, devices, project):
    # Check 11 (spec 5.3, 5.7): a .mp report's data and events are stored once; streams given
    # as "5020" and as 20512 are the same stream.
    device_id = devices.new()
    stream = stream_slug(project["slug"], device_id, "5020")
    at = datetime.datetime(2017, 1, 10, 9, 0, 0)
    readings = [
        IOTileReading(10 * i, 0x5020, 100 + i, reading_id=i, reading_time=at + datetime.timedelta(minutes=i))
        for i in (1, 2, 3)
    ]
    events = [
        IOTileEvent(40, 0x5020, {"axis": "x", "peak": 1.5}, {"samples": [1, 2, 3]}, reading_id=4,
                    reading_time=at + datetime.timedelta(minutes=4)),
    ]
    report = FlexibleDictionaryReport.FromReadings(device_id, readings, events, report_id=5, received_time=RECEIVED)
    assert cloud.upload_report(report) == 4
    wait_for("last_id", lambda: cloud.highest_acknowledged(device_id, 0x100), 4)

    data = staff_api.data.get(filter=stream)["results"]
    assert [(r["int_value"], r["streamer_local_id"], r["timestamp"]) for r in data] == [
        (101, 1, "2017-01-10T09:01:00Z"),
        (102, 2, "2017-01-10T09:02:00Z"),
        (103, 3, "2017-01-10T09:03:00Z"),
    ]
    stored_events = staff_api.event.get(filter=stream)["results"]
    assert [(e["streamer_local_id"], e["extra_data"], e["has_raw_data"]) for e in stored_events] == [
        (4, {"axis": "x", "peak": 1.5}, True),
    ]

    # Again, as a new report with the same items: nothing new is stored.
    again = FlexibleDictionaryReport.FromReadings(device_id, readings, events, report_id=6, received_time=RECEIVED)
    answer = post_raw(url, staff_api.token, "report.mp", again.encode())
    assert answer.status_code == 201 and answer.json()["count"] == 4
    assert wait_processed(staff_api, answer.json()["report"])["status"] == "processed"
    assert cloud.upload_report(report) == 4
    assert staff_api.data.get(filter=stream)["count"] == 3
    assert staff_api.event.get(filter=stream)["count"] == 1

    # The stream as a hex string and as an int, in one hand-packed report.
    def item(stream_id, reading_id):
        return {"stream": stream_id, "device_timestamp": 50, "streamer_local_id": reading_id,
                "timestamp": (at + datetime.timedelta(minutes=reading_id)).isoformat(), "value": reading_id}

    packed = msgpack.packb({
        "format": "v100", "device": device_id, "streamer_index": 0x100, "streamer_selector": 0xFFFF,
        "incremental_id": 9, "lowest_id": 7, "highest_id": 8, "device_sent_timestamp": 60,
        "events": [], "data": [item("5020", 7), item(20512, 8)],
    })
    mixed = FlexibleDictionaryReport(packed, signed=False, encrypted=False, received_time=RECEIVED)
    assert cloud.upload_report(mixed) == 2
    wait_for("last_id", lambda: cloud.highest_acknowledged(device_id, 0x100), 8)
    data = staff_api.data.get(filter=stream)["results"]
    assert [r["streamer_local_id"] for r in data] == [1, 2, 3, 7, 8]


def test_device_token_uploads_and_reads_acknowledgements(url, staff_api, devices):
    # Check 12 (spec 1.4): the a-jwt of impersonate_device uploads the device's reports and
    # reads its acknowledgements.
    device_id = devices.new()
    device = coretools(url, staff_api.token)
    device.impersonate_device(device_id)
    assert device.token_type == "a-jwt"
    report = signed(device_id, uptime_readings(0x5001, 1, [10, 20]), report_id=3, streamer=3)
    assert device.upload_report(report) == 2
    wait_for("last_id", lambda: device.highest_acknowledged(device_id, 3), 2)
    acks = device.device_acknowledgements(device_id)
    assert [(a.index, a.ack, a.selector) for a in acks] == [(3, 2, USER_SELECTOR)]
