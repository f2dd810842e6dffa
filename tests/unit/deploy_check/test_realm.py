"""The static checker over the Keycloak realm: its clients, scopes and customer tokens."""

import copy
import json
from typing import Any

from deploy.check import ROOT
from deploy.check_realm import check_realm

REALM_FILE = ROOT / "deploy" / "keycloak" / "ordering-realm.json"


def realm() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REALM_FILE.read_text())
    return copy.deepcopy(data)


def client(data: dict[str, Any], client_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in data["clients"] if c["clientId"] == client_id)
    return found


def test_the_repository_realm_is_valid() -> None:
    assert check_realm(realm(), "realm.json") == []


def test_a_realm_with_wrong_clients_and_scopes_is_reported() -> None:
    data = realm()
    data["clientScopes"] = [s for s in data["clientScopes"] if s["name"] != "ordering:operate"]
    reader = client(data, "read-service")
    reader["defaultClientScopes"] = ["basic", "ordering:events", "ordering:command"]
    reader["secret"] = "a-real-secret"
    client(data, "back-office")["publicClient"] = True

    problems = check_realm(data, "realm.json")

    assert problems == [
        "realm.json: no client scope 'ordering:operate'",
        "realm.json: client 'read-service' tokens may carry ['ordering:command', "
        "'ordering:events'], not ['ordering:events', 'ordering:keys', 'ordering:operate']",
        "realm.json: client 'read-service' tokens lack the audience 'ordering'",
        "realm.json: client 'back-office' is not confidential with a service account",
        "realm.json: client 'back-office' tokens may carry ['ordering:command', 'ordering:erase', "
        "'ordering:events', 'ordering:pii', 'ordering:query'], not ['ordering:command', "
        "'ordering:erase', 'ordering:events', 'ordering:operate', 'ordering:pii', "
        "'ordering:query']",
        "realm.json: client 'console' tokens may carry ['ordering:events', 'ordering:query'], "
        "not ['ordering:events', 'ordering:operate', 'ordering:query']",
        "realm.json: client 'read-service' has a secret committed; use ${VARIABLE}",
    ]


def test_a_client_other_than_the_read_service_with_the_data_keys_is_reported() -> None:
    data = realm()
    reporting = copy.deepcopy(client(data, "back-office"))
    reporting["clientId"] = "reporting"
    reporting["optionalClientScopes"] = ["ordering:keys"]
    data["clients"].append(reporting)

    assert check_realm(data, "r") == [
        "r: client 'reporting' tokens may carry 'ordering:keys': only the read service's may"
    ]


def test_customer_tokens_without_customer_id_or_with_a_user_editable_one_are_reported() -> None:
    data = realm()
    shop = client(data, "shop")
    mappers = shop.pop("protocolMappers")

    assert check_realm(data, "r") == ["r: no public client whose tokens carry 'customer_id'"]

    shop["protocolMappers"] = mappers
    shop["optionalClientScopes"].append("ordering:query")
    config = data["components"]["org.keycloak.userprofile.UserProfileProvider"][0]["config"]
    profile = json.loads(config["kc.user.profile.config"][0])
    for attribute in profile["attributes"]:
        if attribute["name"] == "customer_id":
            attribute["permissions"]["edit"] = ["admin", "user"]
    config["kc.user.profile.config"] = [json.dumps(profile)]

    assert check_realm(data, "r") == [
        "r: client 'shop' gives customers staff scopes ['ordering:query']",
        "r: users may set 'customer_id' themselves: only admins may edit it",
    ]


def test_a_console_client_that_is_not_a_pkce_browser_client_is_reported() -> None:
    data = realm()
    console = client(data, "console")
    console["attributes"].pop("pkce.code.challenge.method")
    console["directAccessGrantsEnabled"] = True
    console["redirectUris"] = ["http://localhost:8002/*"]
    console["optionalClientScopes"].append("ordering:pii")

    assert check_realm(data, "r") == [
        "r: client 'console' enables directAccessGrantsEnabled",
        "r: client 'console' does not require PKCE with S256",
        "r: client 'console' needs exact redirect URIs ending in /console/, not "
        "['http://localhost:8002/*']",
        "r: client 'console' tokens may carry ['ordering:events', 'ordering:operate', "
        "'ordering:pii', 'ordering:query'], not ['ordering:events', 'ordering:operate', "
        "'ordering:query']",
    ]


def test_a_realm_without_the_console_client_is_reported() -> None:
    data = realm()
    data["clients"] = [c for c in data["clients"] if c["clientId"] != "console"]
    assert check_realm(data, "r") == ["r: no client 'console' (the operator console)"]
