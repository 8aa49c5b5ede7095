def test_daily_flow(vault):
    rid = vault.add_child("Ada Marker", key_person="ben", dob="2022-03-04", room="rainbow")
    eid = vault.add_entry(rid, "secret bruise", "confidential", "injury")
    shown = vault.ok("show", rid, "--json", who="ben").stdout
    assert "secret bruise" in shown
    shown = vault.ok("show", rid, "--json", who="cara").stdout
    assert "secret bruise" not in shown and '"readable": false' in shown
    assert vault.is_clean()
