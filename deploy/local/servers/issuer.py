"""The development OpenID Connect issuer (deploy/local/issuer.py) as a server of the stack."""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

from deploy.local.process import HOST
from deploy.local.servers.base import LocalServer


class LocalIssuer(LocalServer):
    """The development OpenID Connect issuer (deploy/local/issuer.py); its key and client
    secrets persist in state_dir."""

    title, port_env = "OIDC issuer (dev)", "ISSUER_PORT"

    def __init__(
        self,
        state_dir: Path,
        *,
        port: int,
        log_path: Path,
        host: str = HOST,
        audience: str,
        console_redirects: tuple[str, ...] = (),
    ) -> None:
        super().__init__(port=port, log_path=log_path, host=host)
        self.state_dir, self.audience = state_dir.resolve(), audience
        self.console_redirects = console_redirects  # the console's sign-in returns there
        self._popen["env"] = {**os.environ, "PYTHONUNBUFFERED": "1"}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client_secret(self, client_id: str) -> str:
        """A client's secret, as the issuer made it at its first start."""
        import json

        return str(json.loads((self.state_dir / "clients.json").read_text())[client_id])

    def user_password(self, user: str) -> str:
        """A development user's password (operator, viewer, nobody), made at the first start."""
        import json

        return str(json.loads((self.state_dir / "users.json").read_text())[user])

    def service_settings(self, client_id: str = "read-service") -> dict[str, str]:
        """The settings of a service that accepts this issuer's tokens, with the client the read
        service and the operator commands get their own token by."""
        return {
            "AUTH_ISSUER": self.url,
            "AUTH_AUDIENCE": self.audience,
            "AUTH_CLIENT_ID": client_id,
            "AUTH_CLIENT_SECRET": self.client_secret(client_id),
        }

    def dev_token(self, **form: str) -> str:
        """A token of the development client `dev` (form fields: scope, subject, customer_id,
        ttl), from the token endpoint as `make token` gets it."""
        import httpx

        answer = httpx.post(
            f"{self.url}/token",
            data={"grant_type": "client_credentials", **form},
            auth=("dev", self.client_secret("dev")),
            timeout=10,
        )
        return str(answer.raise_for_status().json()["access_token"])

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-m", "deploy.local.issuer", "--host", self.host]
        cmd += ["--port", str(self.port), "--state", str(self.state_dir)]
        cmd += ["--audience", self.audience]
        for uri in self.console_redirects:
            cmd += ["--console-redirect", uri]
        return cmd

    def _probe(self) -> bool:
        url = f"{self.url}/.well-known/openid-configuration"
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
