"""The bare command endpoint: ``gunicorn 'bench.bare_app:create_app()' -w 2``.

What a create-order command costs with no events and no outbox: validate the same JSON body
``POST /api/orders`` takes (marshmallow, as the product does), write the order row and its
item rows in one transaction, answer 201. The product's POST is compared against it.
"""

import os
from decimal import Decimal
from uuid import uuid4

import sqlalchemy as sa
from flask import Flask, Response, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate

from bench import yardstick_schema

DATABASE_URL_ENV = "BENCH_DATABASE_URL"


class LineItemSchema(Schema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    unit_price = fields.Decimal(required=True, places=2, as_string=True)


class CreateOrderSchema(Schema):
    user_id = fields.UUID(required=True)
    items = fields.List(fields.Nested(LineItemSchema), required=True, validate=validate.Length(1))


def create_app() -> Flask:
    app = Flask(__name__)
    engine = sa.create_engine(os.environ[DATABASE_URL_ENV])
    schema = CreateOrderSchema()

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.post("/orders")
    def create_order() -> tuple[Response, int]:
        try:
            data = schema.load(request.get_json(silent=True) or {})
        except ValidationError as exc:
            return jsonify({"errors": exc.messages}), 400
        order_id = str(uuid4())
        with engine.begin() as conn:
            total = yardstick_schema.write_order(
                conn, order_id, str(data["user_id"]), data["items"]
            )
        body = {"order_id": order_id, "status": "created", "total": str(Decimal(total) / 100)}
        return jsonify(body), 201

    return app
