"""What checking a bearer token costs per request: CPU time of `TokenVerifier.verify` once the
issuer's key is cached (signature and claims; the JWKS fetch happens once, before timing).

python -m bench.token_cost [--rounds 20000] [--algorithm RS256]

The issuer is served in-process (httpx.MockTransport): discovery and JWKS, no network.
"""

import argparse
import asyncio
import json
import time
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.auth import TokenVerifier

ISSUER, AUDIENCE = "https://issuer.test", "ordering"


def signing_key(algorithm: str) -> Any:
    if algorithm.startswith("ES"):
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def issuer(key: Any, algorithm: str) -> httpx.MockTransport:
    algo = jwt.get_algorithm_by_name(algorithm)
    public = {**json.loads(algo.to_jwk(key.public_key())), "kid": "k1", "alg": algorithm}
    documents = {
        "/.well-known/openid-configuration": {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"},
        "/jwks": {"keys": [public]},
    }
    return httpx.MockTransport(lambda r: httpx.Response(200, json=documents[r.url.path]))


async def measure(rounds: int, algorithm: str) -> float:
    """Mean CPU microseconds of one verify, after a warm-up that caches the key."""
    key = signing_key(algorithm)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "clerk", "exp": now + 3600}
    claims |= {"scope": "ordering:command ordering:query", "client_id": "shop"}
    token = jwt.encode(claims, key, algorithm=algorithm, headers={"kid": "k1"})
    async with httpx.AsyncClient(transport=issuer(key, algorithm)) as http:
        verifier = TokenVerifier(ISSUER, AUDIENCE, http=http)
        for _ in range(200):
            await verifier.verify(token)
        started = time.process_time()
        for _ in range(rounds):
            await verifier.verify(token)
        return (time.process_time() - started) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.token_cost", description=__doc__)
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument("--algorithm", default="RS256", choices=["RS256", "PS256", "ES256"])
    args = parser.parse_args()
    micros = asyncio.run(measure(args.rounds, args.algorithm))
    print(f"TokenVerifier.verify, {args.algorithm}, cached key: {micros:.1f} µs CPU per token")


if __name__ == "__main__":
    main()
