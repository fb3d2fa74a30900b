"""Stream aliases through the SDK (spec 3.22): an alias made with the SDK's generic
resources (`api.alias`, `api.tap`) reads with `RawData` exactly as one stream would,
stitched from the streams its taps point at."""
from iotile_cloud.stream.data import RawData

from conftest import SECONDS_Z, SG_LIDS, stream_slug

# The second claimed device's readings, a second after each of `data`'s.
OTHER = [
    ("2026-01-05T10:00:01Z", 11),
    ("2026-01-05T10:00:02Z", 21),
    ("2026-01-05T10:00:03Z", 31),
    ("2026-01-05T10:00:04Z", 41),
    ("2026-01-05T10:00:05Z", 51),
]


def test_an_alias_reads_as_one_stream_stitched_from_its_taps(staff_api, org, project, devices, data):
    # Spec 3.22: POST /alias/, POST /tap/, then GET /data/?filter=a--….
    other = stream_slug(project["slug"], devices.ids[1], SG_LIDS[0])
    staff_api.data.post([{"stream": other, "timestamp": ts, "int_value": v} for ts, v in OTHER])
    alias = staff_api.alias.post({"name": "Swapped meter", "org": org["slug"]})
    assert alias["slug"].startswith("a--")
    # The first device until 10:00:03, the second from then on.
    staff_api.tap.post({"alias": alias["slug"], "timestamp": "2026-01-05T10:00:00Z", "stream": data.stream})
    staff_api.tap.post({"alias": alias["slug"], "timestamp": "2026-01-05T10:00:03Z", "stream": other})

    reader = RawData(staff_api)
    reader.initialize_from_server(filter=alias["slug"], page_size=2)
    rows = reader.data
    assert [(r["timestamp"], r["int_value"]) for r in rows] == [
        ("2026-01-05T10:00:01Z", 10),
        ("2026-01-05T10:00:02Z", 20),
        ("2026-01-05T10:00:03Z", 31),
        ("2026-01-05T10:00:04Z", 41),
        ("2026-01-05T10:00:05Z", 51),
    ]
    assert [r["stream"] for r in rows] == [data.stream] * 2 + [other] * 3
    assert all(SECONDS_Z.match(r["timestamp"]) for r in rows)

    last = RawData(staff_api)
    last.initialize_from_server(filter=alias["slug"], lastn=2)
    assert [r["int_value"] for r in last.data] == [41, 51]

    taps = staff_api.tap.get(target=alias["slug"])
    assert taps["count"] == 2
    assert {t["stream"] for t in taps["results"]} == {data.stream, other}
