"""Fixtures for the SDK compatibility suite.

The server under test and its accounts come from the environment (the Rust runner
`cloud/tests/python_compat.rs` sets them):

- IOTILE_CLOUD_URL: the server's root, e.g. http://127.0.0.1:8123
- IOTILE_STAFF_EMAIL / IOTILE_STAFF_PASSWORD: a staff account
- IOTILE_USER_EMAIL / IOTILE_USER_PASSWORD: an ordinary account in no org

The resource fixtures build their data through the API itself, as the staff user, with
names and device ids drawn at random so the suite can run again on the same server.
Every test names in a comment the spec section it exercises; none is skipped.
"""
import os
import random
import re
import uuid

import pytest
from iotile_cloud.api.connection import Api

# Fixed catalogue entries shipped in the server's seed data (spec 3.19, 3.20).
SENSOR_GRAPH = "water-meter-v1-1-0"
OTHER_SENSOR_GRAPH = "water-meter-v1-1-1"
TEMPLATE = "internaltestingtemplate-v0-1-0"
OTHER_TEMPLATE = "pod-1gg1-v3-0-0"
# Variables of SENSOR_GRAPH: claiming a device creates one stream for each.
SG_LIDS = ["5001", "5002"]

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
SECONDS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run this suite through cargo test -p cloud --test python_compat")
    return value


@pytest.fixture(scope="session")
def url():
    return env("IOTILE_CLOUD_URL").rstrip("/")


@pytest.fixture(scope="session")
def staff_credentials():
    return env("IOTILE_STAFF_EMAIL"), env("IOTILE_STAFF_PASSWORD")


@pytest.fixture(scope="session")
def user_credentials():
    return env("IOTILE_USER_EMAIL"), env("IOTILE_USER_PASSWORD")


def logged_in(url, email, password, **kwargs):
    api = Api(domain=url, timeout=60, **kwargs)
    assert api.login(email=email, password=password) is True, f"login of {email} failed"
    return api


@pytest.fixture(scope="session")
def staff_api(url, staff_credentials):
    return logged_in(url, *staff_credentials)


@pytest.fixture(scope="session")
def user_api(url, user_credentials):
    return logged_in(url, *user_credentials)


@pytest.fixture(scope="session")
def staff_slug(staff_api):
    # `created_by` and `claimed_by` name users by their account slug.
    return staff_api.account.get()["results"][0]["slug"]


def device_slug(device_id):
    return "d--0000-0000-{:04x}-{:04x}".format((device_id >> 16) & 0xFFFF, device_id & 0xFFFF)


def stream_slug(project_slug, device_id, lid):
    return "s--{}--{}--{}".format(project_slug[3:], device_slug(device_id)[3:], lid)


# Each fixture below builds one layer through the API, as the staff user, so a layer's tests
# run as soon as its own endpoints and those beneath it exist.

@pytest.fixture(scope="session")
def org(staff_api):
    # Spec 3.3: POST /org/ {name, about}; the creator becomes its owner.
    name = f"Compat Org {uuid.uuid4().hex[:8]}"
    return staff_api.org.post({"name": name, "about": "SDK compatibility suite"})


@pytest.fixture(scope="session")
def project(staff_api, org):
    # Spec 3.4: POST /project/ {name, org}.
    name = f"Compat Project {uuid.uuid4().hex[:8]}"
    return staff_api.project.post({"name": name, "org": org["slug"]})


class Devices:
    """Three devices made by staff with chosen ids (spec 3.5, POST /device/?staff=1), below
    0x10000 so the short `d--xxxx` forms address them; the first two are claimed into the
    project (POST /device/claim/), the third is left unclaimed."""

    def __init__(self, api, project):
        first = random.randrange(0x1000, 0xFFF0)
        self.ids = [first, first + 1, first + 2]
        self.created = [
            api.device.post(
                {"id": device_id, "template": TEMPLATE, "sg": SENSOR_GRAPH, "label": f"compat {device_id:x}"},
                staff=1,
            )
            for device_id in self.ids
        ]
        self.claims = [
            api.device.claim.post({"device": device_slug(device_id), "project": project["id"]})
            for device_id in self.ids[:2]
        ]
        self.claimed = [device_slug(d) for d in self.ids[:2]]
        self.unclaimed = device_slug(self.ids[2])


@pytest.fixture(scope="session")
def devices(staff_api, project):
    return Devices(staff_api, project)


class Data:
    """Readings on the first claimed device's first stream (spec 3.8, POST /data/ with an
    array), posted out of time order on purpose."""

    READINGS = [
        ("2026-01-05T10:00:03Z", 30),
        ("2026-01-05T10:00:01Z", 10),
        ("2026-01-05T10:00:05Z", 50),
        ("2026-01-05T10:00:02Z", 20),
        ("2026-01-05T10:00:04Z", 40),
    ]

    def __init__(self, api, project, devices):
        self.stream = stream_slug(project["slug"], devices.ids[0], SG_LIDS[0])
        self.posted = api.data.post([
            {"stream": self.stream, "timestamp": ts, "int_value": value} for ts, value in self.READINGS
        ])
        self.sorted = sorted(self.READINGS)


@pytest.fixture(scope="session")
def data(staff_api, project, devices):
    return Data(staff_api, project, devices)
