"""Fleets and their members, as coretools reads them (spec 3.11)."""
import uuid

import pytest
from iotile_cloud.api.exceptions import HttpClientError, HttpNotFoundError

from conftest import ISO_Z, device_slug


def fleet_id_to_slug(fleet_id):
    # What coretools' get_whitelist does with a fleet's `id`.
    return "g--{:04x}-{:04x}-{:04x}".format((fleet_id >> 32) & 0xFFFF, (fleet_id >> 16) & 0xFFFF, fleet_id & 0xFFFF)


class Fleets:
    """Two fleets of the org made by staff (POST /fleet/), one a network; the first claimed
    device is in both, the second only in the plain one (POST /fleet/{slug}/register/)."""

    def __init__(self, api, org, devices):
        suffix = uuid.uuid4().hex[:8]
        self.plain = api.fleet.post({"name": f"Compat Fleet {suffix}", "org": org["slug"]})
        self.network = api.fleet.post(
            {"name": f"Compat Network {suffix}", "org": org["slug"], "is_network": True}
        )
        first, second = devices.claimed
        api.fleet(self.plain["slug"]).register.post({"device": first, "always_on": True})
        api.fleet(self.plain["slug"]).register.post({"device": second})
        api.fleet(self.network["slug"]).register.post({"device": first, "is_access_point": True})


@pytest.fixture(scope="module")
def fleets(staff_api, org, devices):
    return Fleets(staff_api, org, devices)


def test_fleet_object(staff_api, org, fleets, staff_slug):
    fleet = staff_api.fleet(fleets.plain["slug"]).get()
    assert fleet == fleets.plain
    assert isinstance(fleet["id"], int)
    assert fleet_id_to_slug(fleet["id"]) == fleet["slug"]
    assert fleet["org"] == org["slug"]
    assert fleet["created_by"] == staff_slug
    assert ISO_Z.match(fleet["created_on"])
    assert fleet["is_network"] is False and fleets.network["is_network"] is True


def test_whitelist_walk(staff_api, devices, fleets):
    # coretools get_whitelist: the device's fleets, then the members of each network fleet.
    found = staff_api.fleet.get(device=devices.claimed[0])["results"]
    assert sorted(f["slug"] for f in found) == sorted([fleets.plain["slug"], fleets.network["slug"]])
    networks = [f for f in found if f["is_network"]]
    assert [f["slug"] for f in networks] == [fleets.network["slug"]]
    members = staff_api.fleet(fleet_id_to_slug(networks[0]["id"])).devices.get()["results"]
    assert members == [{"device": devices.claimed[0], "always_on": False, "is_access_point": True}]


def test_members_are_paginated_by_device(staff_api, devices, fleets):
    page = staff_api.fleet(fleets.plain["slug"]).devices.get()
    assert page["count"] == 2
    assert [m["device"] for m in page["results"]] == devices.claimed
    assert page["results"][0]["always_on"] is True


def test_unknown_device_and_fleet_are_not_found(staff_api, devices):
    with pytest.raises(HttpNotFoundError):
        staff_api.fleet.get(device=device_slug(0xFFFFFF))
    with pytest.raises(HttpNotFoundError):
        staff_api.fleet("g--ffff-ffff-ffff").devices.get()


def test_outsider_sees_nothing(user_api, fleets):
    assert user_api.fleet.get()["count"] == 0
    with pytest.raises(HttpNotFoundError):
        user_api.fleet(fleets.plain["slug"]).get()


def test_registering_twice_and_leaving(staff_api, devices, fleets):
    fleet = staff_api.fleet(fleets.network["slug"])
    with pytest.raises(HttpClientError) as excinfo:
        fleet.register.post({"device": devices.claimed[0]})
    assert excinfo.value.response.status_code == 400
    assert "already exists in fleet" in excinfo.value.response.json()["error"]
    fleet.register.post({"device": devices.claimed[1]})
    fleet.deregister.post({"device": devices.claimed[1]})
    with pytest.raises(HttpClientError) as excinfo:
        fleet.deregister.post({"device": devices.claimed[1]})
    assert excinfo.value.response.json() == {"error": "Device not found"}
