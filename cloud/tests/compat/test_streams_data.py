"""Streams and stream data through the SDK's own readers (spec 3.7, 3.8, 4.4, 7.10)."""
import pytest
from iotile_cloud.api.exceptions import HttpClientError, HttpNotFoundError
from iotile_cloud.stream.data import RawData, StreamData
from iotile_cloud.utils.gid import IOTileStreamSlug

from conftest import SECONDS_Z, SG_LIDS, stream_slug


def status_of(excinfo):
    return excinfo.value.response.status_code


# --- Spec 3.7: streams -------------------------------------------------------------------------

def test_claim_made_one_stream_per_sensor_graph_variable(staff_api, project, devices):
    page = staff_api.stream.get(project=project["slug"])
    expected = sorted(
        stream_slug(project["slug"], device_id, lid)
        for device_id in devices.ids[:2]
        for lid in SG_LIDS
    )
    assert page["count"] == len(expected)
    # Ordered by slug (spec 2.3).
    assert [s["slug"] for s in page["results"]] == expected


def test_stream_list_by_device(staff_api, project, devices):
    page = staff_api.stream.get(device=devices.claimed[0])
    assert sorted(s["slug"] for s in page["results"]) == [
        stream_slug(project["slug"], devices.ids[0], lid) for lid in SG_LIDS
    ]


def test_stream_detail(staff_api, org, project, devices, data):
    stream = staff_api.stream(data.stream).get()
    parts = IOTileStreamSlug(data.stream).get_parts()
    assert stream["slug"] == data.stream
    assert stream["project"] == parts["project"] == project["slug"]
    assert stream["project_id"] == project["id"]
    assert stream["device"] == parts["device"] == devices.claimed[0]
    assert stream["variable"] == parts["variable"]
    assert stream["var_lid"] == int(SG_LIDS[0], 16)
    assert stream["org"] == org["slug"]
    assert stream["enabled"] is True


def test_short_stream_slug_resolves(staff_api, project, devices, data):
    short_project = project["slug"].split("-")[-1]
    short_device = devices.claimed[0].split("-")[-1]
    short = f"s--{short_project}--{short_device}--{SG_LIDS[0]}"
    assert staff_api.stream(short).get()["slug"] == data.stream


def test_unknown_stream_is_not_found(staff_api, project, devices):
    with pytest.raises(HttpNotFoundError):
        staff_api.stream(stream_slug(project["slug"], devices.ids[0], "5fff")).get()


def test_another_orgs_stream_is_forbidden(user_api, project, data):
    with pytest.raises(HttpClientError) as excinfo:
        user_api.stream(data.stream).get()
    assert status_of(excinfo) == 403
    assert user_api.stream.get(project=project["slug"])["count"] == 0


# --- Spec 3.8: writing data -----------------------------------------------------------------

def test_posting_an_array_counts_the_rows(data):
    assert data.posted == {"count": len(data.READINGS)}


def test_posting_both_value_kinds_is_400(staff_api, data):
    with pytest.raises(HttpClientError) as excinfo:
        staff_api.data.post({"stream": data.stream, "timestamp": "2026-01-05T11:00:00Z", "int_value": 1, "value": 1.0, "type": "ITR"})
    assert status_of(excinfo) == 400


def test_posting_to_a_foreign_stream_is_refused(user_api, data):
    with pytest.raises(HttpClientError) as excinfo:
        user_api.data.post([{"stream": data.stream, "timestamp": "2026-01-05T11:00:00Z", "int_value": 1}])
    assert status_of(excinfo) in (403, 404)


# --- Spec 3.8: reading data -----------------------------------------------------------------

def test_stream_data_lastn_is_the_latest_in_ascending_order(staff_api, data):
    reader = StreamData(data.stream, staff_api)
    reader.initialize_from_server(lastn=3)
    assert [(r["timestamp"], r["int_value"]) for r in reader.data] == data.sorted[-3:]
    for row in reader.data:
        assert SECONDS_Z.match(row["timestamp"])
        assert isinstance(row["streamer_local_id"], int)
        assert isinstance(row["display_value"], str)


def test_stream_data_pages_through_everything(staff_api, data):
    reader = StreamData(data.stream, staff_api)
    reader.initialize_from_server(page_size=2)
    assert [(r["timestamp"], r["int_value"]) for r in reader.data] == data.sorted


def test_stream_data_time_window(staff_api, data):
    reader = StreamData(data.stream, staff_api)
    reader.initialize_from_server(start="2026-01-05T10:00:02Z", end="2026-01-05T10:00:04Z")
    assert [r["int_value"] for r in reader.data] == [20, 30]


def test_empty_stream_has_no_data(staff_api, project, devices, data):
    reader = StreamData(stream_slug(project["slug"], devices.ids[0], SG_LIDS[1]), staff_api)
    reader.initialize_from_server(lastn=10)
    assert reader.data == []


def test_raw_data_rows_carry_derived_slugs(staff_api, project, devices, data):
    reader = RawData(staff_api)
    reader.initialize_from_server(filter=data.stream)
    rows = reader.data
    assert len(rows) == len(data.READINGS)
    assert sorted((r["timestamp"], r["int_value"]) for r in rows) == data.sorted
    variable = IOTileStreamSlug(data.stream).get_parts()["variable"]
    for row in rows:
        assert isinstance(row["id"], int)
        assert row["stream"] == data.stream
        assert row["project"] == project["slug"]
        assert row["device"] == devices.claimed[0]
        assert row["variable"] == variable
        assert row["type"] == "Num"
        assert SECONDS_Z.match(row["timestamp"])


def test_data_lastn_one_is_the_newest_row(staff_api, data):
    page = staff_api.data.get(filter=data.stream, lastn=1)
    assert [(r["timestamp"], r["int_value"]) for r in page["results"]] == data.sorted[-1:]


def test_data_by_device_filter(staff_api, devices, data):
    page = staff_api.data.get(filter=devices.claimed[0])
    assert page["count"] == len(data.READINGS)
    assert {r["stream"] for r in page["results"]} == {data.stream}


def test_data_without_filter_or_by_project_is_empty(staff_api, project, data):
    assert staff_api.data.get()["count"] == 0
    assert staff_api.data.get(filter=project["slug"])["count"] == 0


def test_data_with_a_bad_lastn_is_400(staff_api, data):
    with pytest.raises(HttpClientError) as excinfo:
        staff_api.data.get(filter=data.stream, lastn=0)
    assert status_of(excinfo) == 400


def test_data_of_another_org_is_refused(user_api, data):
    with pytest.raises(HttpClientError) as excinfo:
        user_api.data.get(filter=data.stream)
    assert status_of(excinfo) in (403, 404)
