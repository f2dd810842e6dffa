"""`python -m bench.bare_app`: the framework's ceiling for the commands benchmark.

The same request as `POST /orders` (the same pydantic command model validates the body) and the
same kind of answer (201, Location, ETag, {"id", "version", "position"}), served by uvicorn with
the write service's settings, but with no middleware, no event store and no relay.
"""

import os
import uuid

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from services.write.domain.commands import PlaceOrder


def create_app() -> FastAPI:
    app = FastAPI(title="bare endpoint")
    position = 0

    @app.post("/orders", status_code=201)
    async def place_order(body: PlaceOrder) -> JSONResponse:
        """Validate the command, answer as the write service does, store nothing."""
        nonlocal position
        position += 1
        order_id = str(uuid.uuid4())
        headers = {"ETag": '"1"', "Location": f"/orders/{order_id}"}
        content = {"id": order_id, "version": 1, "position": position}
        return JSONResponse(content, status_code=201, headers=headers)

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Ready as soon as it answers."""
        return {"status": "ok"}

    return app


def main() -> None:
    uvicorn.run(
        create_app(),
        host="127.0.0.1",
        port=int(os.environ.get("BARE_PORT", "8009")),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
