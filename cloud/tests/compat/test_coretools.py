"""coretools' `iotile.cloud.IOTileCloud` (package iotile-ext-cloud) against our server: the
calls field tools and virtual devices make (spec: the MUST table's "ct" callers, checks 4, 5,
12 and 15 of section 7)."""
import random

import uuid

import pytest
from iotile_cloud.api.exceptions import HttpClientError
from iotile.cloud import IOTileCloud
from iotile.core.dev.config import ConfigManager
from iotile.core.dev.registry import ComponentRegistry
from iotile.core.exceptions import ArgumentError, ExternalError

from conftest import OTHER_SENSOR_GRAPH, OTHER_TEMPLATE, SENSOR_GRAPH, TEMPLATE, device_slug


def coretools(url, token, token_type="jwt"):
    """An IOTileCloud as `iotile config link_cloud` leaves it: the server and a stored token."""
    ConfigManager().set("cloud:server", url)
    registry = ComponentRegistry()
    registry.set_config("arch:cloud_token", token)
    registry.set_config("arch:cloud_token_type", token_type)
    return IOTileCloud(domain=url)


class Pods:
    """Two fresh devices claimed into the project, and one unclaimed."""

    def __init__(self, api, project):
        first = random.randrange(0x2000, 0xFFF0)
        self.ids = [first, first + 1, first + 2]
        for device_id in self.ids:
            api.device.post({"id": device_id, "template": TEMPLATE, "sg": SENSOR_GRAPH}, staff=1)
        for device_id in self.ids[:2]:
            api.device.claim.post({"device": device_slug(device_id), "project": project["id"]})


@pytest.fixture(scope="module")
def project(staff_api):
    # An org and project of this module's own, so the other modules' counts stay theirs.
    org = staff_api.org.post({"name": f"Coretools {uuid.uuid4().hex[:8]}"})
    return staff_api.project.post({"name": "Field tools", "org": org["slug"]})


@pytest.fixture(scope="module")
def pods(staff_api, project):
    return Pods(staff_api, project)


@pytest.fixture
def cloud(url, staff_api):
    return coretools(url, staff_api.token)


def test_check_time_and_device_info(cloud, pods, project):
    # 3.1: `now` carries Z, so coretools can compare it with its own clock.
    assert cloud.check_time() is True
    info = cloud.device_info(pods.ids[0])
    assert info["id"] == pods.ids[0]
    assert info["slug"] == device_slug(pods.ids[0])
    assert info["project"] == project["id"]
    with pytest.raises(ArgumentError):
        cloud.device_info(0xFFFFFF)


def test_device_list_by_project(cloud, pods, project):
    assert sorted(cloud.device_list(project["id"])) == sorted(pods.ids[:2])


def test_set_sensorgraph_checks_the_app_tag(cloud, pods):
    # Check 5: the app tag is compared first; a mismatch changes nothing.
    with pytest.raises(ArgumentError):
        cloud.set_sensorgraph(pods.ids[0], OTHER_SENSOR_GRAPH, app_tag=9999)
    assert cloud.device_info(pods.ids[0])["sg"] == SENSOR_GRAPH
    cloud.set_sensorgraph(pods.ids[0], OTHER_SENSOR_GRAPH, app_tag=1027)
    assert cloud.device_info(pods.ids[0])["sg"] == OTHER_SENSOR_GRAPH
    with pytest.raises(ExternalError):
        cloud.set_sensorgraph(pods.ids[0], "no-such-graph-v9-9-9")
    assert cloud.device_info(pods.ids[0])["sg"] == OTHER_SENSOR_GRAPH


def test_set_device_template_as_staff(cloud, pods):
    # Check 5: the template changes for staff with ?staff=1 (which coretools sends).
    with pytest.raises(ArgumentError):
        cloud.set_device_template(pods.ids[1], OTHER_TEMPLATE, os_tag=1)
    cloud.set_device_template(pods.ids[1], OTHER_TEMPLATE, os_tag=1024)
    assert cloud.device_info(pods.ids[1])["template"] == OTHER_TEMPLATE


def test_refresh_token_gives_a_working_jwt(cloud, pods):
    assert cloud.refresh_required is True
    old = cloud.token
    cloud.refresh_token()
    assert cloud.token != old
    assert cloud.device_info(pods.ids[0])["id"] == pods.ids[0]


def test_fleets_as_get_fleet_and_get_whitelist_read_them(cloud, staff_api, pods, project):
    # Check 13: a fleet's id is the number in its slug, get_fleet is the membership dict, and
    # get_whitelist goes through /fleet/?device= to the network fleets the device manages.
    fleet = staff_api.fleet.post({"name": "Site network", "org": project["org"], "is_network": True})
    access_point, managed = device_slug(pods.ids[0]), device_slug(pods.ids[1])
    staff_api.fleet(fleet["slug"]).register.post({"device": access_point, "is_access_point": True})
    staff_api.fleet(fleet["slug"]).register.post({"device": managed, "always_on": True})
    assert cloud.get_fleet(fleet["id"]) == {
        access_point: {"always_on": False, "is_access_point": True},
        managed: {"always_on": True, "is_access_point": False},
    }
    assert cloud.get_whitelist(pods.ids[0]) == {managed: {"always_on": True, "is_access_point": False}}
    with pytest.raises(ExternalError):
        cloud.get_whitelist(pods.ids[1])
    with pytest.raises(ArgumentError):
        cloud.get_fleet(0xFFFFFF)


def test_device_token_works_until_unclaim(url, staff_api, pods):
    # Check 12: impersonate_device gives an a-jwt that authenticates as the device, needs no
    # refresh, and stops working once the device is unclaimed.
    device = coretools(url, staff_api.token)
    device.impersonate_device(pods.ids[1])
    assert device.token_type == "a-jwt"
    assert device.refresh_required is False
    assert device.device_info(pods.ids[1])["id"] == pods.ids[1]
    assert device.device_acknowledgements(pods.ids[1]) == []

    staff = coretools(url, staff_api.token)
    staff.unclaim(pods.ids[1], clean=True)
    assert staff.device_info(pods.ids[1])["project"] is None
    with pytest.raises(HttpClientError) as refused:
        device.device_info(pods.ids[1])
    assert refused.value.response.status_code == 401
