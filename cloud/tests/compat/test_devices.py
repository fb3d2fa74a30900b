"""Devices and claims (spec 3.5, 4.3, 7.3, 7.4, 7.5)."""
import uuid

import pytest
from iotile_cloud.api.exceptions import HttpClientError, HttpNotFoundError
from iotile_cloud.utils.gid import IOTileDeviceSlug

from conftest import ISO_Z, OTHER_SENSOR_GRAPH, OTHER_TEMPLATE, SENSOR_GRAPH, TEMPLATE, device_slug


def status_of(excinfo):
    return excinfo.value.response.status_code


# --- Spec 3.5: staff create, claim -----------------------------------------------------------

def test_staff_created_devices_are_unclaimed(project, devices):
    for device_id, device in zip(devices.ids, devices.created):
        assert device["id"] == device_id
        assert device["slug"] == device_slug(device_id)
        assert device["slug"] == str(IOTileDeviceSlug(device_id))
        assert device["project"] is None and device["claimed_by"] is None
        assert device["label"] == f"compat {device_id:x}"
        assert device["sg"] == SENSOR_GRAPH
        assert device["template"] == TEMPLATE


def test_claim_answers_the_project(project, devices):
    for slug, claim in zip(devices.claimed, devices.claims):
        assert claim["claimed"] is True
        assert claim["device"] == slug
        assert claim["project"] == project["slug"]
        assert claim["project_id"] == project["id"]


def test_claimed_device_detail(staff_api, org, project, devices, staff_slug):
    device = staff_api.device(devices.claimed[0]).get()
    assert isinstance(device["id"], int) and device["id"] == devices.ids[0]
    assert device["slug"] == devices.claimed[0]
    groups = device["gid"].split("-")
    assert len(groups) == 4 and all(len(g) == 4 for g in groups)
    assert "d--" + device["gid"] == device["slug"]
    assert device["project"] == project["id"]
    uuid.UUID(device["project"])
    assert device["org"] == org["slug"]
    assert device["claimed_by"] == staff_slug
    assert ISO_Z.match(device["claimed_on"]) and ISO_Z.match(device["created_on"])
    assert device["active"] is True and device["busy"] is False
    assert device["state"] == "N1"


def test_short_slugs_resolve_to_the_device(staff_api, devices):
    device_id = devices.ids[0]
    for slug in (
        "d--{:04x}".format(device_id),
        "d--0000-{:04x}".format(device_id),
        "b--0001-0000-0000-{:04x}".format(device_id),
        devices.claimed[0].upper().replace("D--", "d--"),
    ):
        assert staff_api.device(slug).get()["slug"] == devices.claimed[0], slug


def test_bare_id_is_not_found(staff_api, devices):
    with pytest.raises(HttpNotFoundError):
        staff_api.device("{:04x}".format(devices.ids[0])).get()


def test_unknown_device_is_not_found(staff_api):
    with pytest.raises(HttpNotFoundError):
        staff_api.device("d--0000-0000-dead-beef").get()


def test_another_orgs_device_is_forbidden(user_api, devices):
    with pytest.raises(HttpClientError) as excinfo:
        user_api.device(devices.claimed[0]).get()
    assert status_of(excinfo) == 403


def test_device_list_by_project_uuid_and_slug(staff_api, project, devices):
    by_uuid = staff_api.device.get(project=project["id"])
    by_slug = staff_api.device.get(project=project["slug"])
    assert by_uuid["count"] == 2
    assert [d["slug"] for d in by_uuid["results"]] == devices.claimed
    assert [d["slug"] for d in by_slug["results"]] == devices.claimed
    assert staff_api.device.get(project="p--ffff-fff0")["count"] == 0


def test_device_list_pages(staff_api, project, devices):
    first = staff_api.device.get(project=project["id"], page_size=1)
    assert first["count"] == 2 and len(first["results"]) == 1
    assert first["next"] and first["previous"] is None
    second = staff_api.device.get(project=project["id"], page_size=1, page=2)
    assert second["next"] is None
    assert [first["results"][0]["slug"], second["results"][0]["slug"]] == devices.claimed
    with pytest.raises(HttpNotFoundError):
        staff_api.device.get(project=project["id"], page=999)


def test_unclaimed_devices_are_not_listed(staff_api, user_api, devices):
    assert devices.unclaimed not in [d["slug"] for d in staff_api.device.get()["results"]]
    assert user_api.device.get()["count"] == 0


def test_claiming_a_claimed_device_is_400(staff_api, project, devices):
    with pytest.raises(HttpClientError) as excinfo:
        staff_api.device.claim.post({"device": devices.claimed[0], "project": project["id"]})
    assert status_of(excinfo) == 400


def test_claiming_an_unknown_device_is_not_found(staff_api, project):
    with pytest.raises(HttpNotFoundError):
        staff_api.device.claim.post({"device": "d--0000-0000-dead-beef", "project": project["id"]})


def test_claiming_into_a_foreign_project_is_forbidden(user_api, project, devices):
    with pytest.raises(HttpClientError) as excinfo:
        user_api.device.claim.post({"device": devices.unclaimed, "project": project["id"]})
    assert status_of(excinfo) == 403


def test_only_staff_create_devices(user_api):
    with pytest.raises(HttpClientError) as excinfo:
        user_api.device.post({"id": 0xFFFE, "template": TEMPLATE}, staff=1)
    assert status_of(excinfo) == 403


# --- Spec 3.5 PATCH / 7.5 ----------------------------------------------------------------------

def test_patch_label_and_sensor_graph(staff_api, devices):
    slug = devices.claimed[1]
    patched = staff_api.device(slug).patch({"label": "renamed", "sg": OTHER_SENSOR_GRAPH})
    assert patched["label"] == "renamed" and patched["sg"] == OTHER_SENSOR_GRAPH
    again = staff_api.device(slug).get()
    assert again["label"] == "renamed" and again["sg"] == OTHER_SENSOR_GRAPH


def test_patch_unknown_sensor_graph_is_400_and_changes_nothing(staff_api, devices):
    slug = devices.claimed[1]
    before = staff_api.device(slug).get()
    with pytest.raises(HttpClientError) as excinfo:
        staff_api.device(slug).patch({"sg": "no-such-graph-v9-9-9", "label": "never"})
    assert status_of(excinfo) == 400
    assert "sg" in excinfo.value.response.json()
    after = staff_api.device(slug).get()
    assert (after["sg"], after["label"]) == (before["sg"], before["label"])


def test_patch_template_needs_staff_mode(staff_api, devices):
    slug = devices.claimed[1]
    ignored = staff_api.device(slug).patch({"template": OTHER_TEMPLATE})
    assert ignored["template"] == TEMPLATE
    changed = staff_api.device(slug).patch({"template": OTHER_TEMPLATE}, staff=1)
    assert changed["template"] == OTHER_TEMPLATE
    assert staff_api.device(slug).get()["template"] == OTHER_TEMPLATE


def test_patch_by_a_non_member_is_forbidden(user_api, staff_api, devices):
    slug = devices.claimed[0]
    with pytest.raises(HttpClientError) as excinfo:
        user_api.device(slug).patch({"label": "hijacked"})
    assert status_of(excinfo) == 403
    assert staff_api.device(slug).get()["label"] != "hijacked"


def test_patch_with_a_wrong_type_is_400(staff_api, devices):
    with pytest.raises(HttpClientError) as excinfo:
        staff_api.device(devices.claimed[1]).patch({"active": "maybe"})
    assert status_of(excinfo) == 400
