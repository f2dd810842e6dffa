"""Cross-origin requests from browser applications (CORS), for the origins the settings allow."""

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from .settings import BaseServiceSettings

# What the two APIs accept and answer; OPTIONS is the preflight itself, answered by the middleware.
ALLOWED_METHODS = ["GET", "HEAD", "POST", "DELETE"]
ALLOWED_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    "traceparent",
    "tracestate",
    "X-Correlation-ID",
]
EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "X-Correlation-ID",
    "Idempotent-Replayed",
    "Retry-After",
    "traceresponse",
]
PREFLIGHT_MAX_AGE_SECONDS = 600


def install_cors(app: FastAPI, settings: BaseServiceSettings) -> None:
    """Answer preflights and add CORS headers for CORS_ALLOW_ORIGINS; nothing when it is empty.

    Call it after every other `add_middleware`, so that it is the outermost one and answers
    carry CORS headers whichever middleware produced them. Credentials (cookies) are not
    allowed: the APIs take bearer tokens, which a browser application sends in the
    Authorization header, listed above.
    """
    if not settings.cors_allow_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_allow_origins,
        allow_methods=ALLOWED_METHODS,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=PREFLIGHT_MAX_AGE_SECONDS,
    )
