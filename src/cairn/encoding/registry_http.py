"""The schema registry over HTTP, following the Confluent Schema Registry REST API (the
Avro paths), so that existing clients (confluent-kafka's ``SchemaRegistryClient``, its Avro
serializers, ...) work against it unchanged.

Implemented: ``GET /schemas/ids/{id}`` (and ``/schema``, ``/versions``), ``GET
/schemas/types``, ``GET /subjects``, ``GET|POST|DELETE /subjects/{s}[/versions[/{v}[/schema]]]``,
``POST /compatibility/subjects/{s}/versions[/{v}]``, ``GET|PUT /config``, ``GET|PUT|DELETE
/config/{s}``, ``GET /mode``. Errors are ``{"error_code": ..., "message": ...}`` with
Confluent's codes (40401 subject not found, 40402 version, 40403 schema, 409 incompatible,
42201 invalid schema, 42202 invalid version, 42203 invalid compatibility level).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cairn.encoding.errors import InvalidSchema, RegistryError
from cairn.encoding.registry import SchemaRegistry

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


def _resp(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=CONTENT_TYPE)


def _error(exc: RegistryError) -> Response:
    return _resp({"error_code": exc.error_code, "message": exc.message}, exc.http_status)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except json.JSONDecodeError:
        raise InvalidSchema("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidSchema("request body must be a JSON object")
    return body


def _schema_text(body: dict[str, Any]) -> str:
    schema_type = body.get("schemaType") or "AVRO"
    if schema_type != "AVRO":
        raise InvalidSchema(f"schemaType {schema_type} is not supported; only AVRO")
    if body.get("references"):
        raise InvalidSchema("schema references are not supported")
    text = body.get("schema")
    if not isinstance(text, str):
        raise InvalidSchema("request needs a 'schema' string")
    return text


def create_app(registry: SchemaRegistry) -> Starlette:
    def handle(fn: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                return await fn(request, request.path_params)
            except RegistryError as exc:
                return _error(exc)
        return endpoint

    def flag(request: Request, name: str) -> bool:
        return request.query_params.get(name, "false").lower() == "true"

    async def root(request: Request, p: dict[str, Any]) -> Response:
        return _resp({})

    async def schema_by_id(request: Request, p: dict[str, Any]) -> Response:
        return _resp({"schema": registry.schema_text(p["id"])})

    async def schema_raw(request: Request, p: dict[str, Any]) -> Response:
        return _resp(json.loads(registry.schema_text(p["id"])))

    async def schema_versions(request: Request, p: dict[str, Any]) -> Response:
        return _resp(registry.ids_usage(p["id"]))

    async def types(request: Request, p: dict[str, Any]) -> Response:
        return _resp(["AVRO"])

    async def subjects(request: Request, p: dict[str, Any]) -> Response:
        return _resp(registry.subjects(flag(request, "deleted")))

    async def versions(request: Request, p: dict[str, Any]) -> Response:
        if request.method == "POST":
            body = await _body(request)
            return _resp({"id": registry.register(p["subject"], _schema_text(body))})
        return _resp(registry.versions(p["subject"], flag(request, "deleted")))

    async def version(request: Request, p: dict[str, Any]) -> Response:
        if request.method == "DELETE":
            return _resp(registry.delete_version(p["subject"], p["version"],
                                                 flag(request, "permanent")))
        return _resp(registry.get_version(p["subject"], p["version"]).to_dict())

    async def version_schema(request: Request, p: dict[str, Any]) -> Response:
        return _resp(json.loads(registry.get_version(p["subject"], p["version"]).schema))

    async def subject(request: Request, p: dict[str, Any]) -> Response:
        if request.method == "DELETE":
            return _resp(registry.delete_subject(p["subject"], flag(request, "permanent")))
        body = await _body(request)
        return _resp(registry.lookup(p["subject"], _schema_text(body)).to_dict())

    async def compat(request: Request, p: dict[str, Any]) -> Response:
        body = await _body(request)
        problems = registry.check(p["subject"], _schema_text(body), p.get("version"))
        out: dict[str, Any] = {"is_compatible": not problems}
        if flag(request, "verbose") or problems:
            out["messages"] = problems
        return _resp(out)

    async def config(request: Request, p: dict[str, Any]) -> Response:
        subject = p.get("subject")
        if request.method == "PUT":
            body = await _body(request)
            out: dict[str, Any] = {}
            if "tagRules" in body:  # our extension: Protobuf/Thrift tag rules, see registry
                out["tagRules"] = registry.set_tag_rules(body["tagRules"], subject)
            wanted = body.get("compatibility") or body.get("compatibilityLevel")
            if wanted or not out:
                out["compatibility"] = registry.set_level(wanted or "", subject)
            return _resp(out)
        if request.method == "DELETE":
            return _resp({"compatibilityLevel": registry.delete_level(subject)})
        level = registry.get_level(subject)
        if level is None:
            if flag(request, "defaultToGlobal"):
                level = registry.effective_level(subject)
            else:
                return _resp({"error_code": 40408, "message":
                              f"Subject '{subject}' does not have subject-level compatibility "
                              "configured"}, 404)
        got: dict[str, Any] = {"compatibilityLevel": level}
        rules = registry.get_tag_rules(subject)
        if rules:
            got["tagRules"] = rules
        return _resp(got)

    async def mode(request: Request, p: dict[str, Any]) -> Response:
        return _resp({"mode": "READWRITE"})

    routes = [
        Route("/", handle(root)),
        Route("/schemas/ids/{id:int}", handle(schema_by_id)),
        Route("/schemas/ids/{id:int}/schema", handle(schema_raw)),
        Route("/schemas/ids/{id:int}/versions", handle(schema_versions)),
        Route("/schemas/types", handle(types)),
        Route("/subjects", handle(subjects)),
        Route("/subjects/{subject:str}/versions", handle(versions), methods=["GET", "POST"]),
        Route("/subjects/{subject:str}/versions/{version:str}", handle(version),
              methods=["GET", "DELETE"]),
        Route("/subjects/{subject:str}/versions/{version:str}/schema", handle(version_schema)),
        Route("/subjects/{subject:str}", handle(subject), methods=["POST", "DELETE"]),
        Route("/compatibility/subjects/{subject:str}/versions", handle(compat),
              methods=["POST"]),
        Route("/compatibility/subjects/{subject:str}/versions/{version:str}", handle(compat),
              methods=["POST"]),
        Route("/config", handle(config), methods=["GET", "PUT"]),
        Route("/config/{subject:str}", handle(config), methods=["GET", "PUT", "DELETE"]),
        Route("/mode", handle(mode)),
    ]
    return Starlette(routes=routes)
