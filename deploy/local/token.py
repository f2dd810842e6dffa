"""`make token`: an access token from the running stack's issuer, alone on standard output.

make -s token [SCOPES="ordering:command ordering:query"] [CUSTOMER=<uuid>] [SUBJECT=<name>]
              [TTL=<seconds>]

It asks the issuer named by AUTH_ISSUER (found in .local/stack.env next to `make run`) for a token
of its development client `dev` (secret TOKEN_CLIENT_SECRET), by the client-credentials grant.
Defaults: every staff scope (all but ordering:keys), subject `dev`, one hour. With CUSTOMER, a
customer's token: the customer's id instead of scopes.
"""

import argparse
import os
import sys

import httpx

# Staff's scopes; ordering:keys (customers' data keys) is the read service's alone: ask for it
# by name.
SCOPES = (
    "ordering:command ordering:query ordering:events ordering:operate ordering:erase ordering:pii"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.token", description=__doc__)
    parser.add_argument("--scopes", default="")
    parser.add_argument("--customer", default="")
    parser.add_argument("--subject", default="")
    parser.add_argument("--ttl", default="")
    args = parser.parse_args(argv)
    issuer, secret = os.environ.get("AUTH_ISSUER"), os.environ.get("TOKEN_CLIENT_SECRET")
    if not issuer or not secret:
        print(
            "no running stack: start `make run` (or set AUTH_ISSUER and TOKEN_CLIENT_SECRET)",
            file=sys.stderr,
        )
        return 2
    form = {
        "grant_type": "client_credentials",
        "scope": args.scopes or SCOPES,
        "subject": args.subject or "dev",
        "customer_id": args.customer,
        "ttl": args.ttl,
    }
    try:
        found = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
        answer = httpx.post(
            found["token_endpoint"],
            data={k: v for k, v in form.items() if v},
            auth=("dev", secret),
            timeout=10,
        )
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        print(f"the issuer at {issuer} did not answer: {exc!r}", file=sys.stderr)
        return 1
    if answer.status_code != 200:
        print(f"the issuer refused: {answer.text}", file=sys.stderr)
        return 1
    print(answer.json()["access_token"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
