"""OpenAPI links: from an answer to the operations that can follow it, by operationId.

They tell a client (and a stateful API tester) where the id of a new stream goes next.
"""

from typing import Any

NEW_ID = "$response.body#/id"
SAME_ORDER = "$request.path.order_id"


def _link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    # `path.` names the parameter's location, as OpenAPI allows for parameter names.
    return {
        "operationId": operation_id,
        "description": description,
        "parameters": {f"path.{name}": value for name, value in parameters.items()},
    }


CUSTOMER_REGISTERED: dict[str, Any] = {
    "RenameCustomer": _link("renameCustomer", "Rename the new customer", customer_id=NEW_ID),
    "ChangeCustomerEmail": _link(
        "changeCustomerEmail", "Change the new customer's email", customer_id=NEW_ID
    ),
    "CustomerEvents": _link("getStreamEvents", "The new customer's events", stream_id=NEW_ID),
    "EraseCustomer": _link("eraseCustomer", "Erase the new customer", customer_id=NEW_ID),
    "PlaceOrder": {
        "operationId": "placeOrder",
        "description": "Place an order for the new customer: its id as the body's customer_id, "
        "the rest of the body the caller's",
        "requestBody": {"customer_id": NEW_ID},
    },
}

ORDER_PLACED: dict[str, Any] = {
    "AddOrderItem": _link("addOrderItem", "Add an item to the new order", order_id=NEW_ID),
    "RemoveOrderItem": _link(
        "removeOrderItem",
        "Remove the new order's first item",
        order_id=NEW_ID,
        sku="$request.body#/items/0/sku",
    ),
    "ConfirmOrder": _link("confirmOrder", "Confirm the new order", order_id=NEW_ID),
    "ShipOrder": _link("shipOrder", "Ship the new order, once confirmed", order_id=NEW_ID),
    "CancelOrder": _link("cancelOrder", "Cancel the new order", order_id=NEW_ID),
    "OrderEvents": _link("getStreamEvents", "The new order's events", stream_id=NEW_ID),
}

ORDER_ITEM_ADDED: dict[str, Any] = {
    "RemoveOrderItem": _link(
        "removeOrderItem",
        "Remove the item just added",
        order_id=SAME_ORDER,
        sku="$request.body#/sku",
    ),
}

ORDER_CONFIRMED: dict[str, Any] = {
    "ShipOrder": _link("shipOrder", "Ship the confirmed order", order_id=SAME_ORDER),
    "CancelOrder": _link("cancelOrder", "Cancel the confirmed order", order_id=SAME_ORDER),
}

CUSTOMER_ERASED: dict[str, Any] = {
    "GetErasure": _link(
        "getErasure", "The erasure and whether it holds", customer_id="$request.path.customer_id"
    ),
    "CustomerEvents": _link(
        "getStreamEvents", "The customer's events", stream_id="$request.path.customer_id"
    ),
}

STREAM_EVENTS: dict[str, Any] = {
    "PersonalData": _link(
        "getPersonalData",
        "The personal values of the stream's first event",
        event_id="$response.body#/events/0/event_id",
    ),
}
