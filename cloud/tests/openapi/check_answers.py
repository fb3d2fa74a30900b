"""Checks recorded JSON answers against the schemas the OpenAPI document gives them.

Run by cloud/tests/openapi_doc.rs as `python check_answers.py DOCUMENT EXCHANGES`:
DOCUMENT is the served /api/v1/openapi.json, EXCHANGES a JSON array of
{"method", "path" (the documented template), "status", "body"}. Each body is checked
against the schema of its operation's answer for that status (or `default`), with the
document's components in reach of its references. Prints every mismatch; exits 1 if any.
"""
import json
import sys

from openapi_schema_validator import OAS31Validator


def answer_schema(document, method, path, status):
    responses = document["paths"][path][method.lower()]["responses"]
    response = responses.get(str(status)) or responses.get("default")
    if response is None:
        return None, f"status {status} is not documented"
    content = response.get("content", {}).get("application/json")
    if content is None:
        return None, f"status {status} documents no JSON body"
    # The references (#/components/...) resolve against the schema's root.
    return dict(content["schema"], components=document["components"]), None


def main():
    with open(sys.argv[1]) as f:
        document = json.load(f)
    with open(sys.argv[2]) as f:
        exchanges = json.load(f)
    failures = []
    for e in exchanges:
        what = f"{e['method']} {e['path']} -> {e['status']}"
        schema, missing = answer_schema(document, e["method"], e["path"], e["status"])
        if missing:
            failures.append(f"{what}: {missing}")
            continue
        for error in OAS31Validator(schema).iter_errors(e["body"]):
            where = "/".join(str(p) for p in error.absolute_path)
            failures.append(f"{what}: at /{where}: {error.message[:300]}")
    for failure in failures:
        print(failure)
    print(f"{len(exchanges)} answers checked, {len(failures)} mismatches")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
