"""Static checks of the Keycloak realm in deploy/keycloak/ and of how docker-compose.yml wires it:
the scopes and clients the services rely on, the audience and customer_id in their tokens, no
committed client secret, and an issuer that is the same for the services and for every client."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.check_common import dig, environment, load

STAFF = ("ordering:command", "ordering:query", "ordering:events", "ordering:operate")
PERSONAL = ("ordering:erase", "ordering:pii")  # erase a customer; open personal data
KEYS = "ordering:keys"  # customers' data keys: the read service's alone
SCOPES = (*STAFF, *PERSONAL, KEYS)
AUDIENCE = "ordering"
# The confidential clients (client-credentials grant) and the scopes their tokens may carry.
CONFIDENTIAL = {
    "read-service": {"ordering:events", "ordering:operate", KEYS},
    "back-office": {*STAFF, *PERSONAL},
}
# The operator console (a browser application): authorization code with PKCE, operators' scopes.
CONSOLE = "console"
CONSOLE_SCOPES = {"ordering:query", "ordering:events", "ordering:operate"}
CUSTOMER_CLAIM = "customer_id"
PLACEHOLDER = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::[^}]*)?\}")  # environment variables
USER_PROFILE = "org.keycloak.userprofile.UserProfileProvider"
IMPORT_DIR = "/opt/keycloak/data/import"


@dataclass
class Realm:
    """A realm export, with what a client's access token would carry."""

    data: dict[str, Any]

    @property
    def scopes(self) -> dict[str, dict[str, Any]]:
        found = self.data.get("clientScopes") or []
        return {str(s.get("name")): s for s in found if isinstance(s, dict)}

    @property
    def clients(self) -> dict[str, dict[str, Any]]:
        found = self.data.get("clients") or []
        return {str(c.get("clientId")): c for c in found if isinstance(c, dict)}

    def mappers(self, client: dict[str, Any]) -> list[dict[str, Any]]:
        """The client's own protocol mappers and those of its default client scopes."""
        scopes = [self.scopes.get(str(n), {}) for n in client.get("defaultClientScopes") or []]
        found = [*(client.get("protocolMappers") or [])]
        found += [m for s in scopes for m in s.get("protocolMappers") or []]
        return [m for m in found if dig(m, "config", "access.token.claim") == "true"]

    def token_scopes(self, client: dict[str, Any]) -> set[str]:
        """The ordering scopes its tokens carry or may carry (asked for, when optional)."""
        listed = [
            *(client.get("defaultClientScopes") or []),
            *(client.get("optionalClientScopes") or []),
        ]
        names = {str(n) for n in listed} & set(SCOPES)
        return {n for n in names if n in self.scopes and self.in_token(n)}

    def in_token(self, scope: str) -> bool:
        return bool(dig(self.scopes.get(scope), "attributes", "include.in.token.scope") != "false")

    def audiences(self, client: dict[str, Any]) -> set[str]:
        mappers = [
            m for m in self.mappers(client) if m.get("protocolMapper") == "oidc-audience-mapper"
        ]
        return {str(dig(m, "config", "included.custom.audience")) for m in mappers}

    def claims(self, client: dict[str, Any]) -> set[str]:
        mappers = self.mappers(client)
        return {
            str(dig(m, "config", "claim.name"))
            for m in mappers
            if dig(m, "config", "user.attribute")
        }

    def issuer(self) -> str | None:
        frontend = dig(self.data, "attributes", "frontendUrl")
        return f"{str(frontend).rstrip('/')}/realms/{self.data.get('realm')}" if frontend else None


def check_realm(data: Any, where: str) -> list[str]:
    """Problems of a realm export meant for the services."""
    if not isinstance(data, dict) or not data.get("realm"):
        return [f"{where}: not a realm export (no 'realm')"]
    realm = Realm(data)
    problems = [f"no client scope {n!r}" for n in SCOPES if n not in realm.scopes]
    problems += [
        f"client scope {n!r} stays out of the token's scope claim"
        for n in SCOPES
        if n in realm.scopes and not realm.in_token(n)
    ]
    for client_id, wanted in CONFIDENTIAL.items():
        problems += confidential_problems(realm, client_id, wanted)
    problems += customer_problems(realm)
    problems += console_problems(realm)
    problems += [  # the keys open every customer's data: one client of ours holds them
        f"client {c!r} tokens may carry {KEYS!r}: only the read service's may"
        for c, client in realm.clients.items()
        if c not in CONFIDENTIAL
        and not client.get("publicClient")
        and KEYS in realm.token_scopes(client)
    ]
    problems += [
        f"client {c!r} has a secret committed; use ${{VARIABLE}}"
        for c, client in realm.clients.items()
        if client.get("secret") and not PLACEHOLDER.fullmatch(str(client["secret"]))
    ]
    return [f"{where}: {p}" for p in problems]


def confidential_problems(realm: Realm, client_id: str, wanted: set[str]) -> list[str]:
    client = realm.clients.get(client_id)
    if client is None:
        return [f"no client {client_id!r}"]
    problems = []
    if client.get("publicClient") or not client.get("serviceAccountsEnabled"):
        problems.append(f"client {client_id!r} is not confidential with a service account")
    if (carried := realm.token_scopes(client)) != wanted:
        problems.append(
            f"client {client_id!r} tokens may carry {sorted(carried)}, not {sorted(wanted)}"
        )
    if AUDIENCE not in realm.audiences(client):
        problems.append(f"client {client_id!r} tokens lack the audience {AUDIENCE!r}")
    return problems


def console_problems(realm: Realm) -> list[str]:
    """The console's client: public, the standard flow alone with PKCE S256, exact redirect URIs
    under /console/, the audience, and the operators' scopes only (never a customer's claim)."""
    client = realm.clients.get(CONSOLE)
    if client is None:
        return [f"no client {CONSOLE!r} (the operator console)"]
    label, problems = f"client {CONSOLE!r}", []
    if not client.get("publicClient") or not client.get("standardFlowEnabled"):
        problems.append(f"{label} is not a public client of the authorization-code flow")
    others = ("implicitFlowEnabled", "directAccessGrantsEnabled", "serviceAccountsEnabled")
    problems += [f"{label} enables {flag}" for flag in others if client.get(flag)]
    if dig(client, "attributes", "pkce.code.challenge.method") != "S256":
        problems.append(f"{label} does not require PKCE with S256")
    uris = [str(u) for u in client.get("redirectUris") or []]
    wrong = [u for u in uris if "*" in u or not u.endswith("/console/")]
    if not uris or wrong:
        problems.append(f"{label} needs exact redirect URIs ending in /console/, not {wrong}")
    if (carried := realm.token_scopes(client)) != CONSOLE_SCOPES:
        problems.append(f"{label} tokens may carry {sorted(carried)}, not {sorted(CONSOLE_SCOPES)}")
    if AUDIENCE not in realm.audiences(client):
        problems.append(f"{label} tokens lack the audience {AUDIENCE!r}")
    if CUSTOMER_CLAIM in realm.claims(client):
        problems.append(f"{label} tokens carry {CUSTOMER_CLAIM!r}: operators are not customers")
    return problems


def customer_problems(realm: Realm) -> list[str]:
    """A public client whose tokens carry customer_id and the audience, and no staff scope;
    an attribute only administrators may set."""
    public = [(c, client) for c, client in realm.clients.items() if client.get("publicClient")]
    customers = [(c, client) for c, client in public if CUSTOMER_CLAIM in realm.claims(client)]
    if not customers:
        return [f"no public client whose tokens carry {CUSTOMER_CLAIM!r}"]
    problems = [
        f"client {c!r} tokens lack the audience {AUDIENCE!r}"
        for c, client in customers
        if AUDIENCE not in realm.audiences(client)
    ]
    problems += [
        f"client {c!r} gives customers staff scopes {sorted(realm.token_scopes(client))}"
        for c, client in customers
        if realm.token_scopes(client)
    ]
    return problems + user_profile_problems(realm.data)


def user_profile_problems(data: dict[str, Any]) -> list[str]:
    providers = dig(data, "components", USER_PROFILE) or [{}]
    raw = (dig(providers[0], "config", "kc.user.profile.config") or ["{}"])[0]
    try:
        profile = json.loads(raw)
    except ValueError:
        return ["the user profile configuration is not JSON"]
    declared = {a.get("name"): a for a in profile.get("attributes") or [] if isinstance(a, dict)}
    attribute = declared.get(CUSTOMER_CLAIM)
    if attribute is None:
        policy = profile.get("unmanagedAttributePolicy")
        if policy in ("ADMIN_EDIT", "ADMIN_VIEW"):
            return []
        return [
            f"user attribute {CUSTOMER_CLAIM!r} is undeclared: Keycloak drops it"
            if policy is None
            else f"users may set {CUSTOMER_CLAIM!r} themselves ({policy})"
        ]
    if "user" in (dig(attribute, "permissions", "edit") or []):
        return [f"users may set {CUSTOMER_CLAIM!r} themselves: only admins may edit it"]
    return []


# --- docker-compose.yml ------------------------------------------------------------------------


def check_realm_wiring(services: dict[str, Any], base: Path) -> list[str]:
    """A realm imported by a compose service: its ${...} are given to that service, and the
    services' AUTH_* settings match its issuer, audience and clients."""
    problems = []
    for name, service in services.items():
        for path in imported_realms(service, base):
            realm = Realm(load(path)[0])
            env = environment(service)
            unset = sorted(set(PLACEHOLDER.findall(path.read_text())) - set(env))
            label = f"docker-compose.yml: service {name!r}"
            problems += [f"{label}: {path.name} needs {var} in its environment" for var in unset]
            problems += issuer_problems(realm, name, services)
    return problems


def imported_realms(service: Any, base: Path) -> list[Path]:
    mounts = [str(v).split(":") for v in dig(service, "volumes") or [] if isinstance(v, str)]
    found = [base / m[0] for m in mounts if len(m) >= 2 and m[1].startswith(IMPORT_DIR)]
    return [path for path in found if path.suffix == ".json" and path.is_file()]


def issuer_problems(realm: Realm, keycloak: str, services: dict[str, Any]) -> list[str]:
    issuer = realm.issuer()
    if issuer is None:
        return [
            "the realm has no attributes.frontendUrl: a token's issuer would depend on the "
            "URL its client used, and the services check it"
        ]
    problems = []
    for name, service in services.items():
        env = environment(service)
        if f"//{keycloak}:" not in env.get("AUTH_ISSUER", ""):
            continue
        label = f"docker-compose.yml: service {name!r}"
        if env["AUTH_ISSUER"].rstrip("/") != issuer:
            problems.append(f"{label}: AUTH_ISSUER is not the realm's issuer {issuer}")
        if env.get("AUTH_AUDIENCE") != AUDIENCE:
            problems.append(f"{label}: AUTH_AUDIENCE is not {AUDIENCE!r}, the tokens' audience")
        if env.get("AUTH_CLIENT_ID") and env["AUTH_CLIENT_ID"] not in realm.clients:
            problems.append(f"{label}: AUTH_CLIENT_ID {env['AUTH_CLIENT_ID']!r} is no client")
    return problems
