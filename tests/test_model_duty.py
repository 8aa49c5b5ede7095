"""What ``due`` lists (``model/duty.py``): each kind gives its own fields, in one order, as ``due --json`` prints them."""

from vault_cli.model.duty import Due, Duty


def test_each_kind_of_duty_gives_its_fields_and_no_others():
    entry = Duty(kind="parents-not-informed", record="c-bc7vwf6q", item="e-01m8p8r01fm423", due=None, days_left=None,
                 level="confidential", category="injury", at="2026-11-24", what="record that parents were informed")
    grant = Duty(kind="grant-ends", record=None, records=("c-aaaaaaaa", "c-bc7vwf6q"), item="ben", due="2026-12-01",
                 days_left=-1, holder="ben", levels=("confidential",), what="ben's confidential grant ends (past)")
    request = Duty(kind="request", record="c-bc7vwf6q", item="r-01m8p8r01fm423", due="2026-12-24", days_left=30,
                   what="answer the request")
    assert list(entry.to_json()) == ["kind", "record", "item", "due", "days_left", "level", "category", "at", "what"]
    assert list(grant.to_json()) == ["kind", "record", "records", "item", "due", "days_left", "holder", "levels", "what"]
    assert grant.to_json()["records"] == ["c-aaaaaaaa", "c-bc7vwf6q"] and grant.to_json()["levels"] == ["confidential"]
    assert list(request.to_json()) == ["kind", "record", "item", "due", "days_left", "what"]
    ordered = sorted([entry, grant, request], key=Duty.sort_key)
    assert [d.kind for d in ordered] == ["request", "grant-ends", "parents-not-informed"]
    assert Due("2026-11-30", tuple(ordered), 2).to_json() == {
        "today": "2026-11-30", "items": [d.to_json() for d in ordered], "records_with_sealed_entries": 2}
