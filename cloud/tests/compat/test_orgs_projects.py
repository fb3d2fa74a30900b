"""Orgs and projects as the SDK README and examples use them (spec 3.3, 3.4)."""
import re
import uuid

import pytest
from iotile_cloud.api.exceptions import HttpClientError, HttpNotFoundError

from conftest import ISO_Z


# --- Spec 3.3: orgs --------------------------------------------------------------------------

def test_created_org_has_the_spec_fields(org, staff_slug):
    org = org
    assert org["name"].startswith("Compat Org ")
    assert org["slug"] == org["name"].lower().replace(" ", "-")
    uuid.UUID(org["id"])
    assert ISO_Z.match(org["created_on"])
    assert org["created_by"] == staff_slug
    assert set(org["avatar"]) >= {"tiny", "thumbnail"}
    assert isinstance(org["domain_names"], list)


def test_org_list_holds_the_callers_orgs(staff_api, org):
    page = staff_api.org.get()
    slugs = [o["slug"] for o in page["results"]]
    assert org["slug"] in slugs
    assert page["count"] == len(slugs)


def test_org_detail_by_slug(staff_api, org):
    fetched = staff_api.org(org["slug"]).get()
    assert fetched["id"] == org["id"]
    assert fetched["name"] == org["name"]
    assert fetched["slug"] == org["slug"]


def test_org_projects(staff_api, org, project):
    page = staff_api.org(org["slug"]).projects.get()
    assert page["count"] == 1
    assert page["results"][0]["id"] == project["id"]
    assert page["results"][0]["name"] == project["name"]


def test_org_is_hidden_from_non_members(user_api, org):
    assert org["slug"] not in [o["slug"] for o in user_api.org.get()["results"]]
    with pytest.raises(HttpNotFoundError):
        user_api.org(org["slug"]).get()


def test_unknown_org_is_not_found(staff_api):
    with pytest.raises(HttpNotFoundError):
        staff_api.org("no-such-org-" + uuid.uuid4().hex[:8]).get()


def test_duplicate_org_name_is_400(staff_api, org):
    with pytest.raises(HttpClientError) as excinfo:
        staff_api.org.post({"name": org["name"]})
    assert excinfo.value.response.status_code == 400


def test_org_without_name_is_400(staff_api):
    with pytest.raises(HttpClientError) as excinfo:
        staff_api.org.post({"about": "no name"})
    assert excinfo.value.response.status_code == 400


# --- Spec 3.4: projects ----------------------------------------------------------------------

def test_created_project_has_the_spec_fields(org, project, staff_slug):
    project = project
    uuid.UUID(project["id"])
    assert project["name"].startswith("Compat Project ")
    assert project["org"] == org["slug"]
    assert re.match(r"^[0-9a-f]{4}-[0-9a-f]{4}$", project["gid"])
    assert project["slug"] == "p--" + project["gid"]
    assert ISO_Z.match(project["created_on"])
    assert project["created_by"] == staff_slug


def test_project_detail_by_uuid(staff_api, org, project):
    fetched = staff_api.project(project["id"]).get()
    assert fetched["id"] == project["id"]
    assert fetched["slug"] == project["slug"]
    assert fetched["org"] == org["slug"]


def test_project_list_filtered_by_org(staff_api, org, project):
    page = staff_api.project.get(org=org["slug"])
    assert [p["id"] for p in page["results"]] == [project["id"]]


def test_project_detail_needs_a_uuid(staff_api, project):
    with pytest.raises(HttpClientError) as excinfo:
        staff_api.project(project["slug"]).get()
    assert excinfo.value.response.status_code == 400


def test_project_is_hidden_from_non_members(user_api, project):
    with pytest.raises(HttpNotFoundError):
        user_api.project(project["id"]).get()


def test_project_in_a_foreign_org_is_refused(user_api, org, project):
    with pytest.raises(HttpClientError) as excinfo:
        user_api.project.post({"name": "intruder", "org": org["slug"]})
    assert excinfo.value.response.status_code in (400, 403, 404)
